"""The administrators' notification settings, as services: endpoints (add with a secret shown
once, rotate, remove), email on/off, mutes; Redeliver and Send test event."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone

from licensing.errors import DomainError
from licensing.models import Tenant
from usage.notifications import rules
from usage.notifications.alerts import enqueue_deliveries, tenant_summary
from usage.notifications.delivery import DeliveryPending
from usage.notifications.destinations import check_destination
from usage.notifications.jobs import defer_delivery
from usage.notifications.models import (
    Alert,
    AlertType,
    Delivery,
    Endpoint,
    Mute,
    NotificationSettings,
    new_event_id,
    new_webhook_secret,
)


class EndpointGone(DomainError):
    code = "endpoint_removed"
    http_status = 409


@dataclass(frozen=True)
class EndpointWithSecret:
    """A new or rotated webhook endpoint and its secret: the only time the secret is shown."""

    endpoint: Endpoint
    secret: str | None


@transaction.atomic(durable=True)
def endpoint_create(
    *, tenant: Tenant, url: str, kind: str = Endpoint.Kind.WEBHOOK, description: str = ""
) -> EndpointWithSecret:
    """Add a webhook (https, public address; a `whsec_` secret) or a Slack incoming webhook."""
    check_destination(url)
    secret = new_webhook_secret() if kind == Endpoint.Kind.WEBHOOK else ""
    endpoint = Endpoint.objects.create(
        tenant=tenant, kind=kind, url=url, description=description, secret=secret
    )
    return EndpointWithSecret(endpoint, secret or None)


@transaction.atomic(durable=True)
def endpoint_rotate_secret(*, endpoint: Endpoint) -> EndpointWithSecret:
    """A new secret; deliveries from now on are signed with it (the old one stops working)."""
    if endpoint.kind != Endpoint.Kind.WEBHOOK:
        raise DomainError("Only webhook endpoints have a signing secret.", code="no_secret")
    endpoint.secret = new_webhook_secret()
    endpoint.save(update_fields=["secret"])
    return EndpointWithSecret(endpoint, endpoint.secret)


@transaction.atomic(durable=True)
def endpoint_remove(*, endpoint: Endpoint) -> None:
    """Removed endpoints receive nothing more; their past deliveries stay in the log."""
    endpoint.removed_at = timezone.now()
    endpoint.save(update_fields=["removed_at"])


@transaction.atomic(durable=True)
def email_set(*, tenant: Tenant, enabled: bool) -> None:
    NotificationSettings.objects.update_or_create(
        tenant=tenant, defaults={"email_enabled": enabled}
    )


@transaction.atomic(durable=True)
def mutes_replace(*, tenant: Tenant, mutes: Sequence[Mapping[str, Any]]) -> list[Mute]:
    """The tenant's mutes become exactly `mutes` (each: type, dimension, threshold)."""
    Mute.objects.filter(tenant=tenant).delete()
    unique = {(m["type"], m.get("dimension") or "", m.get("threshold")) for m in mutes}
    return Mute.objects.bulk_create(
        Mute(tenant=tenant, type=type, dimension=dimension, threshold=threshold)
        for type, dimension, threshold in sorted(unique, key=str)
    )


@transaction.atomic(durable=True)
def send_test_event(*, endpoint: Endpoint) -> Alert:
    """A `test` event to one endpoint, logged like an alert (its own event id)."""
    if endpoint.removed_at is not None:
        raise EndpointGone("This endpoint was removed.")
    at = timezone.now()
    event_id = new_event_id()
    body = rules.payload(
        event_id=event_id,
        type=AlertType.TEST,
        timestamp=at,
        tenant=tenant_summary(endpoint.tenant),
    )
    alert = Alert.objects.create(
        tenant=endpoint.tenant,
        type=AlertType.TEST,
        scope=event_id,
        event_id=event_id,
        raised_at=at,
        payload=body,
    )
    enqueue_deliveries(alert, endpoints=[endpoint])
    return alert


@transaction.atomic(durable=True)
def redeliver(*, delivery: Delivery) -> Delivery:
    """Send a delivered or failed delivery again (same event, same webhook-id)."""
    delivery = Delivery.objects.select_for_update().get(pk=delivery.pk)  # one redelivery at once
    if delivery.status == Delivery.Status.PENDING:
        raise DeliveryPending("This delivery is still being attempted; wait for it to finish.")
    endpoint = delivery.endpoint
    if delivery.channel != Delivery.Channel.EMAIL and (endpoint is None or endpoint.removed_at):
        raise EndpointGone("The endpoint of this delivery was removed.")
    if endpoint is not None and endpoint.disabled_at is not None:
        # Redelivering is how an administrator says the receiver is fixed.
        Endpoint.objects.filter(pk=endpoint.pk).update(disabled_at=None, failing_since=None)
    delivery.status = Delivery.Status.PENDING
    delivery.last_error = ""
    delivery.save(update_fields=["status", "last_error"])
    defer_delivery(delivery.pk)
    return delivery
