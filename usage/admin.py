"""Operators see models, plans and usage across tenants; writes go through the services and API
(the rollups must stay in step with the events, and plans are never edited), so it is read-only."""

from typing import ClassVar

from django.contrib import admin

from usage.models import LlmModel, PricingPlan, UsageEvent


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class PricingPlanInline(admin.TabularInline):
    model = PricingPlan
    extra = 0
    fields: ClassVar[tuple[str, ...]] = (
        "effective_at",
        "input_per_million",
        "output_per_million",
        "cached_per_million",
    )
    readonly_fields = fields
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(LlmModel)
class LlmModelAdmin(ReadOnlyAdmin):
    list_display = ["name", "provider", "tenant", "created_at"]
    list_filter = ["tenant", "provider"]
    search_fields = ["name", "provider"]
    inlines = [PricingPlanInline]


@admin.register(UsageEvent)
class UsageEventAdmin(ReadOnlyAdmin):
    list_display = [
        "occurred_at",
        "tenant",
        "model",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "ticket",
        "consumer",
        "succeeded",
    ]
    list_filter = ["tenant", "succeeded"]
    search_fields = ["request_id", "consumer"]
    date_hierarchy = "occurred_at"
    list_select_related = ["tenant", "model", "ticket"]
    show_full_result_count = False  # no COUNT(*) over millions of events per page view
    raw_id_fields = ["ticket", "task"]


from usage.budgets import admin as budgets_admin  # noqa: E402,F401  (registers its models)
