"""Tasks per local day from the sweep's daily snapshots, and THE projection built on them
(SPEC §8.1): through `tasks_projection_for`, the plan card, the plan API and the banner."""

from datetime import date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tasks.models import ScheduleTick, TaskCounter
from tests.factories import LicenseFactory, ScheduleFactory
from usage.notifications.sweep import sweep_alerts
from usage.plan import plan_usage_with_projections
from usage.task_counts import TaskCountSnapshot, daily_tasks, tasks_projection_for

pytestmark = pytest.mark.django_db

PARIS = ZoneInfo("Europe/Paris")


def _paris(tenant):
    tenant.timezone = "Europe/Paris"
    tenant.save(update_fields=["timezone"])


def _add_tasks(tenant, count: int, *, ticks: int = 0, schedule=None) -> None:
    """`count` tasks created by hand and `ticks` by the schedule, on the lifetime counter."""
    counter, _ = TaskCounter.objects.get_or_create(
        tenant=tenant, defaults={"used": 0, "admitted_cap": 10**6}
    )
    TaskCounter.objects.filter(pk=counter.pk).update(used=counter.used + count + ticks)
    start = ScheduleTick.objects.count()
    ScheduleTick.objects.bulk_create(
        ScheduleTick(
            schedule=schedule,
            due_at=datetime(2020, 1, 1, tzinfo=PARIS) + timedelta(minutes=start + n),
            fired_at=datetime(2020, 1, 1, tzinfo=PARIS),
            status=ScheduleTick.Status.CREATED,
        )
        for n in range(ticks)
    )


def _days_of_sweeps(tenant, daily: list[int], *, first: date, **extra) -> None:
    """The sweep runs ten minutes after each local midnight; `daily[i]` tasks on day i."""
    for offset, count in enumerate(daily):
        at = datetime.combine(first + timedelta(days=offset), datetime.min.time(), PARIS)
        with time_machine.travel(at + timedelta(minutes=10), tick=False):
            sweep_alerts()
        _add_tasks(tenant, count, **extra)
    last = datetime.combine(first + timedelta(days=len(daily)), datetime.min.time(), PARIS)
    with time_machine.travel(last + timedelta(minutes=10), tick=False):
        sweep_alerts()


def test_the_sweep_takes_one_snapshot_a_local_day_across_the_daylight_saving_change(tenant_a):
    _paris(tenant_a)
    LicenseFactory(tenant=tenant_a, tasks_cap=500, expires_at=datetime(2026, 12, 31, tzinfo=PARIS))
    # 25 March to 1 April 2026 in Paris: clocks go forward on 29 March (a 23-hour day).
    _days_of_sweeps(tenant_a, [5, 10, 15, 10, 10, 10, 10], first=date(2026, 3, 25))
    with time_machine.travel(datetime(2026, 4, 1, 15, 0, tzinfo=PARIS), tick=False):
        sweep_alerts()  # again on the same day: no second row

    days = list(TaskCountSnapshot.objects.values_list("day", "tasks_used"))
    assert days == [
        (date(2026, 3, 25) + timedelta(days=n), total)
        for n, total in enumerate([0, 5, 15, 30, 40, 50, 60, 70])
    ]
    now = datetime(2026, 4, 1, 12, 0, tzinfo=PARIS)
    projection = tasks_projection_for(
        tenant_a, now=now, used=70, cap=500, ends_at=datetime(2026, 12, 31, tzinfo=PARIS)
    )
    # 70 tasks in 7 days: 10 a day; 430 left: 43 days, on 14 May.
    assert projection.tasks_per_day == Decimal("10.00")
    assert (projection.cap_reached_on, projection.days_until_cap) == (date(2026, 5, 14), 43)
    assert projection.status == "runs_out_before_license_end"


def test_schedule_ticks_are_left_out_of_the_days_and_added_from_the_active_schedules(tenant_a):
    _paris(tenant_a)
    LicenseFactory(tenant=tenant_a, tasks_cap=5000, expires_at=datetime(2027, 1, 1, tzinfo=PARIS))
    schedule = ScheduleFactory(tenant=tenant_a, every_minutes=30)  # 48 ticks a day
    _days_of_sweeps(tenant_a, [10] * 7, first=date(2026, 6, 1), ticks=48, schedule=schedule)

    with time_machine.travel(datetime(2026, 6, 8, 12, 0, tzinfo=PARIS), tick=False):
        plan = plan_usage_with_projections(tenant_a)

    # 406 used (70 + 336 ticks), 4594 left at 10 + 48 a day: ceil(79.2) = 80 days.
    assert plan.dimension("tasks").used == 406
    assert plan.projection.tasks_per_day == Decimal(10)
    assert plan.projection.schedule_ticks_per_day == Decimal(48)
    assert plan.projection.days_until_cap == 80


def test_a_schedule_added_today_counts_in_full_over_zero_usage(tenant_a):
    _paris(tenant_a)
    LicenseFactory(tenant=tenant_a, tasks_cap=100, expires_at=datetime(2027, 1, 1, tzinfo=PARIS))
    _days_of_sweeps(tenant_a, [0] * 7, first=date(2026, 6, 1))
    with time_machine.travel(datetime(2026, 6, 8, 12, 0, tzinfo=PARIS), tick=False):
        assert plan_usage_with_projections(tenant_a).projection.status == "outlasts_license"
        ScheduleFactory(tenant=tenant_a, every_minutes=30)
        projection = plan_usage_with_projections(tenant_a).projection

    # 100 left at 0 + 48 a day: 3 days.
    assert projection.tasks_per_day == Decimal(0)
    assert (projection.days_until_cap, projection.cap_reached_on) == (3, date(2026, 6, 11))


def test_day_one_of_the_license_is_not_enough_data(tenant_a, admin_a, page_client_for):
    _paris(tenant_a)
    start = datetime(2026, 7, 1, 9, 0, tzinfo=PARIS)
    LicenseFactory(
        tenant=tenant_a, tasks_cap=100, starts_at=start, expires_at=start + timedelta(days=365)
    )
    with time_machine.travel(start + timedelta(hours=1), tick=False):
        sweep_alerts()
        content = page_client_for(admin_a).get("/usage/").content.decode()

    assert "not enough data yet" in content
    assert "0 days elapsed" in content


def test_a_late_snapshot_or_a_missing_day_keeps_the_sum():
    snapshots = [(date(2026, 6, 1), 0, 0), (date(2026, 6, 3), 21, 0), (date(2026, 6, 4), 31, 4)]
    # A day without a snapshot spreads its two days' 21 tasks; ticks are taken off.
    assert daily_tasks(snapshots).counts == [11, 10, 6]


def test_the_card_and_the_banner_say_when_the_tasks_cap_runs_out(
    tenant_a, admin_a, page_client_for
):
    _paris(tenant_a)
    LicenseFactory(tenant=tenant_a, tasks_cap=200, expires_at=datetime(2027, 1, 1, tzinfo=PARIS))
    _days_of_sweeps(tenant_a, [10] * 7, first=date(2026, 6, 1))
    with time_machine.travel(datetime(2026, 6, 8, 12, 0, tzinfo=PARIS), tick=False):
        response = page_client_for(admin_a).get("/usage/")

    content = response.content.decode()
    # 130 left at 10 a day: 13 days, on 21 June.
    assert "runs out on 21 Jun 2026 (in 13 days)" in content
    banner = response.context["usage_banner"]
    assert banner.level == "warning"
    assert "tasks cap runs out on 21 Jun 2026 (in 13 days), before the license ends" in (
        banner.message
    )
    assert 'data-testid="budget-card"' in content
    assert "style=" not in content


def test_the_cap_outlasting_the_license_and_a_perpetual_license(tenant_a, admin_a, page_client_for):
    _paris(tenant_a)
    license = LicenseFactory(
        tenant=tenant_a, tasks_cap=1000, expires_at=datetime(2026, 6, 20, tzinfo=PARIS)
    )
    _days_of_sweeps(tenant_a, [10] * 7, first=date(2026, 6, 1))
    with time_machine.travel(datetime(2026, 6, 8, 12, 0, tzinfo=PARIS), tick=False):
        outlasts = page_client_for(admin_a).get("/usage/")
        license.expires_at = None
        license.save(update_fields=["expires_at"])
        perpetual = page_client_for(admin_a).get("/usage/")

    assert "the cap outlasts the license" in outlasts.content.decode()
    assert outlasts.context["usage_banner"] is None
    # Perpetual: 930 left at 10 a day last 93 days, within a year.
    assert "runs out on 9 Sep 2026 (in 93 days)" in perpetual.content.decode()
    assert "within a year" in perpetual.context["usage_banner"].message
