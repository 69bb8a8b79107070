"""The periodic sweep (every ALERT_SWEEP_SECONDS, in the worker): alerts that no usage change
announces because time alone crosses them: license ends (30/7/1 days, at expiry) and the
tasks cap projected to run out before the license ends (SPEC §7.1, §8.1).

Each tenant is checked in its own transaction, so one tenant's failure does not hold back
the others; the unique alert row makes a sweep that runs twice (two workers) harmless.
"""

import logging
from datetime import datetime, timedelta

from django.db import transaction
from django.db.models import Min
from django.utils import timezone

from licensing.models import License, Tenant
from licensing.selectors import tenant_entitlements
from tasks.models import Task
from tasks.selectors import tenant_usage
from usage.notifications import rules
from usage.notifications.alerts import alert_raise, license_end_alert_raise
from usage.notifications.models import Alert, AlertType

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
    projected = set(
        Alert.objects.filter(type=AlertType.QUOTA_PROJECTED, rearmed_at__isnull=True).values_list(
            "tenant_id", "scope"
        )
    )
    for tenant in Tenant.objects.all():
        try:
            with transaction.atomic():
                projection_alert_raise(tenant=tenant, now=now, already=projected)
        except Exception:  # one tenant's problem must not stop the sweep of the others
            logger.exception("Projection sweep failed for tenant %s", tenant.slug)


def tasks_projection(tenant: Tenant, *, cap: int | None, now: datetime) -> rules.TasksProjection:
    """Tasks per day over the last 7 complete days in the tenant's zone (§8.1), and when
    the cap is reached at that rate. Schedules' future ticks are not added yet (§8.1 is
    built by its own issue; this is the small hook the alert needs)."""
    local_today = now.astimezone(tenant.zone).replace(hour=0, minute=0, second=0, microsecond=0)
    window_start = local_today - timedelta(days=rules.PROJECTION_WINDOW_DAYS)
    tasks = Task.objects.filter(tenant=tenant)
    first = tasks.aggregate(first=Min("created_at"))["first"]
    if first is None:
        return rules.TasksProjection(None, None)
    history_days = (local_today - max(first, window_start)).total_seconds() / 86400
    in_window = tasks.filter(created_at__gte=window_start, created_at__lt=local_today).count()
    return rules.project_tasks(
        used=tenant_usage(tenant)["tasks"],
        cap=cap,
        tasks_in_window=in_window,
        history_days=max(history_days, 0.0),
        now=now,
    )


def projection_alert_raise(*, tenant: Tenant, now: datetime, already: set[tuple[int, str]]) -> None:
    entitlements = tenant_entitlements(tenant, now=now)
    cap = entitlements.cap("tasks")
    if cap is None or entitlements.is_expired:
        return
    scope = entitlements.license.jti if entitlements.license else ""
    if (tenant.pk, scope) in already:
        return
    projection = tasks_projection(tenant, cap=cap, now=now)
    if not rules.runs_out_before_end(projection, ends_at=entitlements.ends_at, now=now):
        return
    alert_raise(
        tenant=tenant,
        type=AlertType.QUOTA_PROJECTED,
        dimension="tasks",
        threshold=rules.PROJECTION_THRESHOLD,
        scope=scope,
        quota="tasks",
        current=tenant_usage(tenant)["tasks"],
        cap=cap,
        license_id=scope or None,
        license_ends_at=entitlements.ends_at,
    )
