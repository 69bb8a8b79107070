"""The periodic sweep: license ends at 30/7/1 days and at expiry, and the tasks projection."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tasks.models import TaskCounter
from tests.factories import LicenseFactory
from usage.notifications.models import Alert
from usage.notifications.sweep import sweep_alerts
from usage.task_counts import task_count_snapshot_take

pytestmark = [pytest.mark.django_db]

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


def _applied_at_start(**fields):
    """A license applied at START, as the sweep's clock sees it (applying one raises the
    license-end alert already passed, so it must not be applied at today's real date)."""
    with time_machine.travel(START, tick=False):
        return LicenseFactory(**fields)


def _fired() -> list[tuple[str, int]]:
    return list(Alert.objects.order_by("id").values_list("type", "threshold"))


def test_a_license_end_fires_at_30_7_and_1_days_and_at_expiry_each_once(tenant_a):
    _applied_at_start(tenant=tenant_a, jti="year", expires_at=START + timedelta(days=60))
    with time_machine.travel(START, tick=False) as clock:
        for _ in range(61 * 4):  # every six hours for 61 days
            sweep_alerts()
            clock.shift(timedelta(hours=6))
    assert _fired() == [
        ("license.expiring", 30),
        ("license.expiring", 7),
        ("license.expiring", 1),
        ("license.expired", 0),
    ]
    times = list(Alert.objects.order_by("id").values_list("raised_at", flat=True))
    assert times[0] == START + timedelta(days=30)
    assert times[-1] == START + timedelta(days=60)


def test_a_sweep_that_was_down_fires_only_the_nearest_threshold(tenant_a):
    _applied_at_start(tenant=tenant_a, jti="year", expires_at=START + timedelta(days=60))
    with time_machine.travel(START + timedelta(days=55), tick=False):
        sweep_alerts()
        sweep_alerts()
    assert _fired() == [("license.expiring", 7)]


def test_a_perpetual_license_never_ends(tenant_a):
    _applied_at_start(tenant=tenant_a, jti="forever", expires_at=None)
    with time_machine.travel(START, tick=False):
        sweep_alerts()
    assert _fired() == []


def _tasks_on_days(tenant, per_day: int, days: int, *, end: datetime) -> None:
    """`days` days of `per_day` tasks before `end`, as the sweep records them: the lifetime
    counter rises and the daily snapshot (what the sweep takes each day) is taken each day."""
    for day in range(days, 0, -1):
        task_count_snapshot_take(tenant=tenant, now=end - timedelta(days=day))
        counter, _ = TaskCounter.objects.get_or_create(
            tenant=tenant, defaults={"used": 0, "admitted_cap": 10**6}
        )
        TaskCounter.objects.filter(pk=counter.pk).update(used=counter.used + per_day)


def test_tasks_projected_to_run_out_before_the_license_ends_alert_once(tenant_a):
    _applied_at_start(
        tenant=tenant_a, jti="busy", tasks_cap=200, expires_at=START + timedelta(days=40)
    )
    _tasks_on_days(tenant_a, per_day=10, days=7, end=START)  # 70 used, 10/day
    with time_machine.travel(START, tick=False):
        sweep_alerts()
        sweep_alerts()
    alert = Alert.objects.get()
    assert (alert.type, alert.dimension, alert.scope) == (
        "quota.projected_exhaustion",
        "tasks",
        "busy",
    )
    assert alert.payload["data"]["current"] == 70


def test_a_slow_tenant_gets_no_projection_alert(tenant_a):
    _applied_at_start(
        tenant=tenant_a, jti="calm", tasks_cap=500, expires_at=START + timedelta(days=40)
    )
    _tasks_on_days(tenant_a, per_day=2, days=7, end=START)  # 2 a day: 486 left outlast 40 days
    with time_machine.travel(START, tick=False):
        sweep_alerts()
    assert _fired() == []


def test_under_three_days_of_history_is_not_enough_to_project(tenant_a):
    _applied_at_start(
        tenant=tenant_a, jti="new", tasks_cap=30, expires_at=START + timedelta(days=40)
    )
    _tasks_on_days(tenant_a, per_day=10, days=2, end=START)
    with time_machine.travel(START, tick=False):
        sweep_alerts()
    assert _fired() == []
