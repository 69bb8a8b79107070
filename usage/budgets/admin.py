"""Operators see every tenant's budget, its monthly periods and the reservations (read-only:
budgets change through `budget_set`, figures through authorize, settle and expiry)."""

from django.contrib import admin

from usage.admin import ReadOnlyAdmin
from usage.budgets.models import Budget, BudgetPeriod, Reservation


@admin.register(Budget)
class BudgetAdmin(ReadOnlyAdmin):
    list_display = ["tenant", "kind", "limit_usd", "limit_tokens", "updated_at", "updated_by"]
    list_filter = ["kind"]
    list_select_related = ["tenant", "updated_by"]


@admin.register(BudgetPeriod)
class BudgetPeriodAdmin(ReadOnlyAdmin):
    list_display = [
        "tenant",
        "month",
        "hard",
        "limit_usd",
        "spent_usd",
        "reserved_usd",
        "limit_tokens",
        "spent_tokens",
        "reserved_tokens",
    ]
    list_filter = ["hard", "month"]
    list_select_related = ["tenant"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = [
        "created_at",
        "tenant",
        "request_id",
        "model",
        "status",
        "priced",
        "estimate_usd",
        "actual_usd",
        "consumer",
    ]
    list_filter = ["status", "priced"]
    search_fields = ["request_id", "consumer"]
    date_hierarchy = "created_at"
    list_select_related = ["tenant", "model"]
    show_full_result_count = False  # no COUNT(*) over every reservation per page view
    raw_id_fields = ["period", "ticket"]
