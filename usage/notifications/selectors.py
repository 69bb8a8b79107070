"""Reads for the notifications page and API (plain querysets, tenant-filtered)."""

from django.db.models import Prefetch, QuerySet

from licensing.models import Tenant
from usage.notifications.alerts import email_enabled
from usage.notifications.models import Alert, Attempt, Delivery, Endpoint, Mute

ALERT_LOG_SIZE = 50


def live_endpoints(tenant: Tenant) -> QuerySet[Endpoint]:
    return Endpoint.objects.filter(tenant=tenant, removed_at__isnull=True)


def alert_log(tenant: Tenant) -> QuerySet[Alert]:
    """Alerts newest first, each with its deliveries and their attempts (three queries)."""
    deliveries = Delivery.objects.select_related("endpoint").prefetch_related(
        Prefetch("attempts", queryset=Attempt.objects.order_by("started_at", "id"))
    )
    return Alert.objects.filter(tenant=tenant).prefetch_related(
        Prefetch("deliveries", queryset=deliveries.order_by("id"))
    )


def tenant_deliveries(tenant: Tenant) -> QuerySet[Delivery]:
    return (
        Delivery.objects.filter(alert__tenant=tenant)
        .select_related("alert", "endpoint")
        .prefetch_related(Prefetch("attempts", queryset=Attempt.objects.order_by("started_at")))
        .order_by("-created_at", "-id")
    )


def tenant_mutes(tenant: Tenant) -> QuerySet[Mute]:
    return Mute.objects.filter(tenant=tenant)


def email_on(tenant: Tenant) -> bool:
    return email_enabled(tenant.pk)
