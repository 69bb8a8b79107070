from django.urls import path

from usage import api, plan_api
from usage.budgets import api as budgets_api

urlpatterns: list = [
    path("usage/plan/", plan_api.PlanUsageApi.as_view(), name="api-usage-plan"),
    path("usage/events/", api.UsageEventsApi.as_view(), name="api-usage-events"),
    path("usage/activity/", api.UsageActivityApi.as_view(), name="api-usage-activity"),
    path("usage/export.csv", api.UsageExportApi.as_view(), name="api-usage-export"),
    path("usage/budget/", budgets_api.BudgetApi.as_view(), name="api-usage-budget"),
    path("usage/authorize/", budgets_api.AuthorizeApi.as_view(), name="api-usage-authorize"),
    path("models/", api.LlmModelsApi.as_view(), name="api-models"),
    path(
        "models/<int:model_id>/pricing/",
        api.PricingPlanCreateApi.as_view(),
        name="api-model-pricing",
    ),
]
