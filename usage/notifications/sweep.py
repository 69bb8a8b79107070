"""The periodic sweep (every ALERT_SWEEP_SECONDS, in the worker): alerts that no usage change
announces because time alone crosses them: license ends (30/7/1 days, at expiry) and the
tasks cap projected to run out before the license ends (SPEC §7.1, §8.1), by the one
projection of `usage.task_counts`, whose daily snapshots this sweep also takes.

Each tenant is checked in its own transaction, so one tenant's failure does not hold back
the others; the unique alert row makes a sweep that runs twice (two workers) harmless.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.utils import timezone

from licensing.models import License, Tenant
from licensing.selectors import tenant_entitlements
from tasks.selectors import tenant_usage
from usage.notifications import rules
from usage.notifications.alerts import alert_raise, license_end_alert_raise
from usage.notifications.models import Alert, AlertType
from usage.task_counts import task_count_snapshots_take, tasks_projection_for

logger = logging.getLogger(__name__)


def sweep_alerts(*, now: datetime | None = None) -> None:
    now = now or timezone.now()
    ending = License.objects.filter(
        status=License.Status.ACTIVE,
        expires_at__isnull=False,
        expires_at__lte=now + timedelta(days=max(rules.LICENSE_END_DAYS)),
    ).select_related("tenant")
    for license in ending:
        with transaction.atomic():
            license_end_alert_raise(tenant=license.tenant, license=license, now=now)
    tenants = list(Tenant.objects.all())
    # Before the projections, which read today's snapshot (the end of yesterday).
    try:
        task_count_snapshots_take(tenants=tenants, now=now)
    except Exception:  # a failed snapshot must not stop the alerts
        logger.exception("Task count snapshots failed")
    projected = set(
        Alert.objects.filter(type=AlertType.QUOTA_PROJECTED, rearmed_at__isnull=True).values_list(
            "tenant_id", "scope"
        )
    )
    for tenant in tenants:
        try:
            with transaction.atomic():
                projection_alert_raise(tenant=tenant, now=now, already=projected)
        except Exception:  # one tenant's problem must not stop the sweep of the others
            logger.exception("Projection sweep failed for tenant %s", tenant.slug)


def projection_alert_raise(*, tenant: Tenant, now: datetime, already: set[tuple[int, str]]) -> None:
    entitlements = tenant_entitlements(tenant, now=now)
    cap = entitlements.cap("tasks")
    if cap is None or entitlements.is_expired:
        return
    scope = entitlements.license.jti if entitlements.license else ""
    if (tenant.pk, scope) in already:
        return
    used = tenant_usage(tenant)["tasks"]
    projection = tasks_projection_for(
        tenant, now=now, used=used, cap=cap, ends_at=entitlements.ends_at
    )
    if not projection.runs_out:
        return
    alert_raise(
        tenant=tenant,
        type=AlertType.QUOTA_PROJECTED,
        dimension="tasks",
        threshold=rules.PROJECTION_THRESHOLD,
        scope=scope,
        quota="tasks",
        current=used,
        cap=cap,
        license_id=scope or None,
        license_ends_at=entitlements.ends_at,
    )
