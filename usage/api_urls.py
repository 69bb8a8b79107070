from django.urls import path

from usage import plan_api

urlpatterns: list = [
    path("usage/plan/", plan_api.PlanUsageApi.as_view(), name="api-usage-plan"),
]
