"""Raising an alert: one unique row, in the transaction that crossed it, deliveries enqueued
in that same transaction (the queue is in PostgreSQL, so a rollback takes them back and a
commit makes them durable: an outbox for free).

The receivers of `tasks.signals.usage_changed` and `licensing.signals.license_applied` run
inside the sender's transaction. `usage_changed` is sent on every task insert, so its
receiver decides with integer arithmetic first and makes no query unless a threshold is
crossed.
"""

import json
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from django.contrib.auth import get_user_model
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from licensing.models import License, Tenant
from tasks.selectors import tenant_usage
from usage.notifications import rules
from usage.notifications.models import (
    Alert,
    AlertType,
    Delivery,
    Endpoint,
    Mute,
    NotificationSettings,
    new_event_id,
)
from usage.projections import local_midnight, month_of

REARMING_DIMENSIONS = ("hosts", "gateways")  # counts that go down; tasks are a lifetime count


def tenant_summary(tenant: Tenant) -> dict[str, Any]:
    return {"id": tenant.pk, "slug": tenant.slug, "name": tenant.name}


def is_muted(*, tenant_id: int, type: str, dimension: str, threshold: int | None) -> bool:
    return (
        Mute.objects.filter(tenant_id=tenant_id, type=type)
        .filter(Q(dimension=dimension) | Q(dimension=""))
        .filter(Q(threshold=threshold) | Q(threshold__isnull=True))
        .exists()
    )


def _insert_once(
    *,
    tenant: Tenant,
    type: str,
    dimension: str,
    threshold: int | None,
    scope: str,
    body: dict[str, Any],
    muted: bool,
    at: datetime,
) -> int | None:
    """INSERT ... ON CONFLICT DO NOTHING: the id of the new alert, or None when it had fired.

    A concurrent inserter of the same key waits for the first one's transaction and then
    inserts nothing, so threads, processes and engines racing on one crossing raise one alert.
    """
    table = connection.ops.quote_name(Alert._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {table} (tenant_id, type, dimension, threshold, scope, event_id, "
            "raised_at, payload, muted) VALUES (%s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s) "
            "ON CONFLICT DO NOTHING RETURNING id",
            [tenant.pk, type, dimension, threshold, scope, body["id"], at, json.dumps(body), muted],
        )
        row = cursor.fetchone()
    return row[0] if row else None


def administrators_with_email(tenant_id: int) -> list[str]:
    users = (
        get_user_model()
        .objects.filter(membership__tenant_id=tenant_id, is_staff=True, is_active=True)
        .exclude(email="")
    )
    return sorted(set(users.values_list("email", flat=True)))


def email_enabled(tenant_id: int) -> bool:
    enabled = (
        NotificationSettings.objects.filter(tenant_id=tenant_id)
        .values_list("email_enabled", flat=True)
        .first()
    )
    return True if enabled is None else enabled


def enqueue_deliveries(alert: Alert, *, endpoints: list[Endpoint] | None = None) -> list[Delivery]:
    """A delivery per channel (email when on and someone can receive it; every live endpoint),
    each with its job deferred in the current transaction."""
    from usage.notifications.jobs import defer_delivery  # the jobs module imports this one

    deliveries = []
    if endpoints is None:
        if email_enabled(alert.tenant_id) and administrators_with_email(alert.tenant_id):
            deliveries.append(Delivery(alert=alert, channel=Delivery.Channel.EMAIL))
        endpoints = list(
            Endpoint.objects.filter(
                tenant_id=alert.tenant_id, removed_at__isnull=True, disabled_at__isnull=True
            )
        )
    deliveries += [Delivery(alert=alert, channel=e.kind, endpoint=e) for e in endpoints]
    Delivery.objects.bulk_create(deliveries)
    for delivery in deliveries:
        defer_delivery(delivery.pk)
    return deliveries


@transaction.atomic(savepoint=False)
def alert_raise(
    *,
    tenant: Tenant,
    type: str,
    dimension: str = "",
    threshold: int | None = None,
    scope: str = "",
    **data: Any,
) -> Alert | None:
    """Record the alert once and enqueue its deliveries; None when it had already fired.

    Composes with the caller's transaction (the crossing's); a muted alert is recorded as
    muted and sent nowhere.
    """
    at = timezone.now()
    body = rules.payload(
        event_id=new_event_id(),
        type=type,
        timestamp=at,
        tenant=tenant_summary(tenant),
        threshold=threshold,
        **data,
    )
    muted = is_muted(tenant_id=tenant.pk, type=type, dimension=dimension, threshold=threshold)
    alert_id = _insert_once(
        tenant=tenant,
        type=type,
        dimension=dimension,
        threshold=threshold,
        scope=scope,
        body=body,
        muted=muted,
        at=at,
    )
    if alert_id is None:
        return None
    alert = Alert.objects.get(pk=alert_id)
    if not muted:
        enqueue_deliveries(alert)
    return alert


def _license_ends_at(tenant_id: int, jti: str | None) -> datetime | None:
    if jti is None:
        return None
    return (
        License.objects.filter(tenant_id=tenant_id, jti=jti, status=License.Status.ACTIVE)
        .values_list("expires_at", flat=True)
        .first()
    )


def quota_alerts_raise(
    *,
    tenant: Tenant,
    dimension: str,
    thresholds: list[int],
    current: int,
    cap: int,
    license_jti: str | None,
    license_ends_at: datetime | None,
) -> list[Alert]:
    """`quota.threshold_crossed` for each threshold, highest first (the order they are sent)."""
    raised = []
    for threshold in sorted(thresholds, reverse=True):
        alert = alert_raise(
            tenant=tenant,
            type=AlertType.QUOTA_THRESHOLD,
            dimension=dimension,
            threshold=threshold,
            scope=license_jti or "",
            quota=dimension,
            current=current,
            cap=cap,
            license_id=license_jti,
            license_ends_at=license_ends_at,
        )
        if alert is not None:
            raised.append(alert)
    return raised


def rearm(*, tenant_id: int, dimension: str, thresholds: list[int], license_jti: str | None):
    """A count fell back below these thresholds: the next crossing fires again."""
    Alert.objects.filter(
        tenant_id=tenant_id,
        type=AlertType.QUOTA_THRESHOLD,
        dimension=dimension,
        threshold__in=thresholds,
        scope=license_jti or "",
        rearmed_at__isnull=True,
    ).update(rearmed_at=timezone.now())


def on_usage_changed(
    sender,
    *,
    tenant_id: int,
    dimension: str,
    used_before: int,
    used_after: int,
    cap: int | None,
    license_jti: str | None,
    **kwargs,
) -> None:
    """Receiver of `tasks.signals.usage_changed`, inside the guard's transaction."""
    up = rules.thresholds_crossed_up(used_before=used_before, used_after=used_after, cap=cap)
    down = (
        rules.thresholds_crossed_down(used_before=used_before, used_after=used_after, cap=cap)
        if dimension in REARMING_DIMENSIONS
        else []
    )
    if not up and not down:
        return  # the common path: no query
    if down:
        rearm(tenant_id=tenant_id, dimension=dimension, thresholds=down, license_jti=license_jti)
    if up:
        assert cap is not None  # thresholds are only crossed under a cap
        quota_alerts_raise(
            tenant=Tenant.objects.get(pk=tenant_id),
            dimension=dimension,
            thresholds=up,
            current=used_after,
            cap=cap,
            license_jti=license_jti,
            license_ends_at=_license_ends_at(tenant_id, license_jti),
        )


def on_budget_usage_changed(
    sender,
    *,
    tenant_id: int,
    period: date,
    dimension: str,
    used_before: int | Decimal,
    used_after: int | Decimal,
    limit: int | Decimal | None,
    hard: bool,
    **kwargs,
) -> None:
    """Receiver of `usage.budgets.signals.budget_usage_changed` (spent + reserved of a month
    moved), inside the budget's transaction: `budget.threshold_crossed` once per threshold
    and budget period, highest first. No query unless a threshold is crossed."""
    up = rules.thresholds_crossed_up(used_before=used_before, used_after=used_after, cap=limit)
    if not up:
        return
    tenant = Tenant.objects.get(pk=tenant_id)
    cycle = month_of(local_midnight(period, tenant.zone), tenant.zone)
    for threshold in up:  # highest first
        alert_raise(
            tenant=tenant,
            type=AlertType.BUDGET_THRESHOLD,
            dimension=dimension,
            threshold=threshold,
            scope=period.isoformat(),  # a new month is a new budget period: re-armed
            quota=f"budget_{dimension}",
            current=used_after,
            cap=limit,
            cycle_ends_at=cycle.ends_at,
        )


def license_end_alert_raise(*, tenant: Tenant, license: License, now: datetime) -> Alert | None:
    """The nearest license-end threshold passed at `now` (30/7/1 days, 0 = ended), if any."""
    threshold = rules.license_end_threshold(ends_at=license.expires_at, now=now)
    if threshold is None:
        return None
    expired = threshold == rules.EXPIRED_THRESHOLD
    return alert_raise(
        tenant=tenant,
        type=AlertType.LICENSE_EXPIRED if expired else AlertType.LICENSE_EXPIRING,
        threshold=threshold,
        scope=license.jti,
        license_id=license.jti,
        license_ends_at=license.expires_at,
    )


def on_license_applied(sender, *, tenant: Tenant, license: License, previous, **kwargs) -> None:
    """Receiver of `licensing.signals.license_applied`, inside `license_apply`'s transaction.

    The new license re-arms everything (alerts are scoped by its jti). Of its end thresholds
    already passed, only the nearest fires; of its quota thresholds already reached by
    current usage, only the highest.
    """
    license_end_alert_raise(tenant=tenant, license=license, now=timezone.now())
    usage = tenant_usage(tenant)
    for dimension, cap in license.caps.items():
        used = usage[dimension]
        threshold = rules.highest_threshold_reached(used=used, cap=cap)
        if threshold is not None and cap is not None:
            quota_alerts_raise(
                tenant=tenant,
                dimension=dimension,
                thresholds=[threshold],
                current=used,
                cap=cap,
                license_jti=license.jti,
                license_ends_at=license.expires_at,
            )
