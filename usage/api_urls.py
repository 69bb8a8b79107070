from django.urls import path

from usage.api import activity, cycles, events, export, models, plan
from usage.budgets import api as budgets_api

urlpatterns: list = [
    path("usage/plan/", plan.PlanUsageApi.as_view(), name="api-usage-plan"),
    path("usage/events/", events.UsageEventsApi.as_view(), name="api-usage-events"),
    path("usage/activity/", activity.UsageActivityApi.as_view(), name="api-usage-activity"),
    path("usage/export.csv", export.UsageExportApi.as_view(), name="api-usage-export"),
    path("usage/cycles/", cycles.UsageCyclesApi.as_view(), name="api-usage-cycles"),
    path(
        "usage/cycles/<str:month>/export.csv",
        cycles.UsageCycleExportApi.as_view(),
        name="api-usage-cycle-export",
    ),
    path("usage/budget/", budgets_api.BudgetApi.as_view(), name="api-usage-budget"),
    path("usage/authorize/", budgets_api.AuthorizeApi.as_view(), name="api-usage-authorize"),
    path("models/", models.LlmModelsApi.as_view(), name="api-models"),
    path(
        "models/<int:model_id>/pricing/",
        models.PricingPlanCreateApi.as_view(),
        name="api-model-pricing",
    ),
]
