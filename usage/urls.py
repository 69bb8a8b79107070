from django.urls import path

from usage import views
from usage.budgets import views as budgets_views

urlpatterns = [
    path("usage/", views.usage_page, name="usage"),
    path("usage/breakdowns/<str:name>/", views.usage_breakdown_rows, name="usage-breakdown"),
    path("usage/history/", views.history_page, name="usage-history"),
    path("usage/models/", views.models_page, name="usage-models"),
    path("usage/budget/", budgets_views.budget_update, name="usage-budget"),
]
