"""Operators see alerts, deliveries and their attempts across tenants (read-only: the log is
evidence; a redelivery goes through the tenant's page or API so it is enqueued properly)."""

from typing import ClassVar

from django.contrib import admin

from usage.admin import ReadOnlyAdmin
from usage.notifications.models import Alert, Attempt, Delivery, Endpoint


class ReadOnlyInline(admin.TabularInline):
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None) -> bool:
        return False


class AttemptInline(ReadOnlyInline):
    model = Attempt
    fields: ClassVar[tuple[str, ...]] = (
        "started_at",
        "outcome",
        "status_code",
        "latency_ms",
        "error",
        "response_excerpt",
    )
    readonly_fields = fields


class DeliveryInline(ReadOnlyInline):
    model = Delivery
    fields: ClassVar[tuple[str, ...]] = (
        "channel",
        "endpoint",
        "status",
        "created_at",
        "delivered_at",
        "last_error",
    )
    readonly_fields = fields
    show_change_link = True


@admin.register(Alert)
class AlertAdmin(ReadOnlyAdmin):
    list_display = ["raised_at", "tenant", "type", "dimension", "threshold", "scope", "muted"]
    list_filter = ["type", "muted", "tenant"]
    search_fields = ["event_id", "scope", "tenant__name"]
    readonly_fields = [
        "tenant",
        "type",
        "dimension",
        "threshold",
        "scope",
        "event_id",
        "raised_at",
        "payload",
        "muted",
        "rearmed_at",
    ]
    inlines = [DeliveryInline]


@admin.register(Delivery)
class DeliveryAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "alert", "channel", "endpoint", "status", "delivered_at"]
    list_filter = ["status", "channel"]
    list_select_related = ["alert", "endpoint"]
    readonly_fields = [
        "alert",
        "channel",
        "endpoint",
        "status",
        "created_at",
        "delivered_at",
        "next_attempt_at",
        "last_error",
    ]
    inlines = [AttemptInline]


@admin.register(Attempt)
class AttemptAdmin(ReadOnlyAdmin):
    list_display = ["started_at", "delivery", "outcome", "status_code", "latency_ms"]
    list_filter = ["outcome"]
    list_select_related = ["delivery__alert"]


@admin.register(Endpoint)
class EndpointAdmin(ReadOnlyAdmin):
    list_display = ["url", "tenant", "kind", "status", "created_at", "removed_at"]
    list_filter = ["kind", "tenant"]
    exclude = ["secret"]  # never shown, not even to operators
    readonly_fields = [
        "tenant",
        "kind",
        "url",
        "description",
        "created_at",
        "failing_since",
        "disabled_at",
        "removed_at",
    ]
