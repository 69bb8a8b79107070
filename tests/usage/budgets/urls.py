"""The project's URLs plus the Budget card's form post, as the lead will route it."""

from django.urls import path

from config.urls import *  # noqa: F403
from config.urls import urlpatterns as project_urlpatterns
from usage.budgets.views import budget_update

urlpatterns = [
    path("usage/budget/", budget_update, name="usage-budget"),
    *project_urlpatterns,
]
