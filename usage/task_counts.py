"""Tasks per local day without scanning the task table: one snapshot of the lifetime counter
per tenant per local day (SPEC §8.1).

The sweep of the worker (`usage.notifications.sweep`, every ALERT_SWEEP_SECONDS) takes
today's snapshot when it is missing: the lifetime tasks counter (`tasks.selectors.tenant_usage`,
the truth: deleted tasks still count) and how many schedule ticks ever created a task. The tasks
created on local day D, schedule ticks left out (the projection adds those from the active
schedules), are the difference between the snapshots of D + 1 and D.

A snapshot is taken when the sweep first runs on a local day, not at midnight itself: with the
worker down at midnight, the tasks created between midnight and the late snapshot are counted
on the day before (and that day's tasks are missing from the next). A day with no snapshot at
all (the worker down all day) is spread evenly over the days its neighbours span.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from django.contrib.postgres.expressions import ArraySubquery
from django.db import models
from django.db.models import OuterRef

from licensing.models import Tenant
from tasks.models import Schedule, ScheduleTick
from tasks.selectors import tenant_usage
from usage.projections import (
    WINDOW_DAYS,
    TaskProjection,
    schedule_ticks_per_day,
    task_projection,
)


class TaskCountSnapshot(models.Model):
    """The lifetime tasks counter and the task-creating schedule ticks at the start of a
    local day (as the sweep first saw them that day)."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    day = models.DateField(help_text="The local day (tenant's zone) this snapshot opens.")
    tasks_used = models.BigIntegerField()
    schedule_ticks_created = models.BigIntegerField()
    taken_at = models.DateTimeField()

    class Meta:
        app_label = "usage"
        ordering = ["tenant", "day"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "day"], name="task_count_snapshot_per_day")
        ]

    def __str__(self) -> str:
        return f"{self.tenant_id} {self.day}: {self.tasks_used} tasks"


def local_today(tenant: Tenant, now: datetime) -> date:
    return now.astimezone(tenant.zone).date()


def task_count_snapshot_take(*, tenant: Tenant, now: datetime) -> None:
    """Insert today's snapshot if it is missing (two sweeps at once: one row, ON CONFLICT DO
    NOTHING). The counter and the ticks are two reads: a tick committed between them moves
    one task from one day to the next, which a rate over 7 days does not notice."""
    TaskCountSnapshot.objects.bulk_create(
        [
            TaskCountSnapshot(
                tenant=tenant,
                day=local_today(tenant, now),
                tasks_used=tenant_usage(tenant)["tasks"],
                schedule_ticks_created=ScheduleTick.objects.filter(
                    schedule__tenant=tenant, status=ScheduleTick.Status.CREATED
                ).count(),
                taken_at=now,
            )
        ],
        ignore_conflicts=True,
    )


def task_count_snapshots_take(*, tenants, now: datetime) -> None:
    """Today's snapshot of every tenant that has none yet; one query when all are taken."""
    earliest = (now - timedelta(days=1)).date()  # no zone is a day behind UTC's yesterday
    taken = set(TaskCountSnapshot.objects.filter(day__gte=earliest).values_list("tenant_id", "day"))
    for tenant in tenants:
        if (tenant.pk, local_today(tenant, now)) not in taken:
            task_count_snapshot_take(tenant=tenant, now=now)


@dataclass(frozen=True)
class DailyTasks:
    """Tasks created per complete local day (ticks left out), oldest first."""

    counts: list[int]

    @property
    def history_days(self) -> int:
        return len(self.counts)


def daily_tasks(snapshots: list[tuple[date, int, int]]) -> DailyTasks:
    """From (day, tasks_used, schedule_ticks_created) snapshots in day order: the tasks of
    each day they span. A gap of n days spreads its difference evenly (the remainder on the
    first days), so the sum is kept; a negative difference (never expected) counts as 0."""
    counts: list[int] = []
    for (day, used, ticks), (next_day, next_used, next_ticks) in zip(
        snapshots, snapshots[1:], strict=False
    ):
        span = (next_day - day).days
        created = max((next_used - used) - (next_ticks - ticks), 0)
        share, remainder = divmod(created, span)
        counts.extend([share + 1] * remainder + [share] * (span - remainder))
    return DailyTasks(counts)


def license_last_day(ends_at: datetime | None, tenant: Tenant) -> date | None:
    """The last local day the license runs (an end at local midnight ends the day before)."""
    if ends_at is None:
        return None
    return (ends_at - timedelta(microseconds=1)).astimezone(tenant.zone).date()


@dataclass(frozen=True)
class TaskHistory:
    """What a tenant's tasks projection is built from: its (day, tasks_used,
    schedule_ticks_created) snapshots in day order, and the every_minutes of its active
    schedules."""

    snapshots: list[tuple[date, int, int]]
    every_minutes: list[int]


def tasks_projection_of(
    tenant: Tenant,
    history: TaskHistory,
    *,
    now: datetime,
    used: int,
    cap: int | None,
    ends_at: datetime | None,
) -> TaskProjection:
    """THE tasks projection from a tenant's history: the snapshots of the last 8 local days
    (7 complete days) and the active schedules. One rule for every caller, whether the
    history was read for one tenant (`tasks_projection_for`) or for all (`task_histories`)."""
    today = local_today(tenant, now)
    window = [row for row in history.snapshots if today - _WINDOW <= row[0] <= today]
    days = daily_tasks(window)
    return task_projection(
        daily_tasks=days.counts,
        history_days=days.history_days,
        schedule_ticks_per_day=schedule_ticks_per_day(history.every_minutes),
        used=used,
        cap=cap,
        today=today,
        license_last_day=license_last_day(ends_at, tenant),
    )


_WINDOW = timedelta(days=WINDOW_DAYS)
_SNAPSHOT_FIELDS = ("day", "tasks_used", "schedule_ticks_created")


def tasks_projection_for(
    tenant: Tenant,
    *,
    now: datetime,
    used: int,
    cap: int | None,
    ends_at: datetime | None,
) -> TaskProjection:
    """THE tasks projection (plan card, plan API, banner, `quota.projected_exhaustion`):
    the last 8 snapshots (7 complete days) and the active schedules, two small queries
    (`task_history_annotations`: none of its own)."""
    snapshots, schedules = _history_reads(tenant.pk, local_today(tenant, now))
    history = TaskHistory(
        list(snapshots.values_list(*_SNAPSHOT_FIELDS)),
        list(schedules.values_list("every_minutes", flat=True)),
    )
    return tasks_projection_of(tenant, history, now=now, used=used, cap=cap, ends_at=ends_at)


def _history_reads(tenant_id, today: date) -> tuple[models.QuerySet, models.QuerySet]:
    """The two reads of a tenant's history: the snapshots of the last 8 local days (7
    complete days), in day order, and the active schedules. `tenant_id` may be an OuterRef."""
    snapshots = TaskCountSnapshot.objects.filter(
        tenant_id=tenant_id, day__gte=today - _WINDOW, day__lte=today
    ).order_by("day")
    schedules = Schedule.objects.filter(tenant_id=tenant_id, status=Schedule.Status.ACTIVE)
    return snapshots, schedules


def task_history_annotations(tenant: Tenant, *, now: datetime) -> dict[str, ArraySubquery]:
    """The same two reads as annotations of a query of the tenant's row (arrays of at most 8
    snapshots and of the active schedules), so a caller reading that row anyway (the plan
    card and the banner, `usage.plan`) gets the history with no query of its own; read
    them back with `task_history_from`."""
    snapshots, schedules = _history_reads(OuterRef("pk"), local_today(tenant, now))
    arrays = {f"history_{name}": ArraySubquery(snapshots.values(name)) for name in _SNAPSHOT_FIELDS}
    return arrays | {"history_every_minutes": ArraySubquery(schedules.values("every_minutes"))}


def task_history_from(row) -> TaskHistory:
    """The history from a row annotated with `task_history_annotations`."""
    columns = [getattr(row, f"history_{name}") for name in _SNAPSHOT_FIELDS]
    return TaskHistory(list(zip(*columns, strict=True)), list(row.history_every_minutes))


def task_histories(tenant_ids: list[int], *, now: datetime) -> dict[int, TaskHistory]:
    """The history of each tenant for `tasks_projection_of`, in two queries whatever their
    number (the operators' overview): the snapshots since the earliest local day any zone
    can be on, 8 days back (each tenant's own window is cut by `tasks_projection_of`), and
    the active schedules."""
    earliest = (now - timedelta(days=1)).date() - _WINDOW  # no zone is a day behind UTC
    snapshots: dict[int, list[tuple[date, int, int]]] = defaultdict(list)
    rows = TaskCountSnapshot.objects.filter(tenant_id__in=tenant_ids, day__gte=earliest)
    for tenant_id, *snapshot in rows.order_by("tenant_id", "day").values_list(
        "tenant_id", *_SNAPSHOT_FIELDS
    ):
        snapshots[tenant_id].append(tuple(snapshot))
    minutes: dict[int, list[int]] = defaultdict(list)
    schedules = Schedule.objects.filter(tenant_id__in=tenant_ids, status=Schedule.Status.ACTIVE)
    for tenant_id, every in schedules.values_list("tenant_id", "every_minutes"):
        minutes[tenant_id].append(every)
    return {pk: TaskHistory(snapshots[pk], minutes[pk]) for pk in tenant_ids}


# The history reads the snapshots from this many days before its oldest month: a snapshot
# before the month's first day is what a gap over that day is spread from.
_HISTORY_LEAD_DAYS = 40


def task_count_snapshots_since(*, tenant: Tenant, day: date) -> list[tuple[date, int]]:
    """(day, tasks_used) of the tenant's snapshots from a little before `day`, in day order:
    one query, at most a row per local day (the history's 13 months: about 400 rows)."""
    rows = TaskCountSnapshot.objects.filter(
        tenant=tenant, day__gte=day - timedelta(days=_HISTORY_LEAD_DAYS)
    )
    return list(rows.order_by("day").values_list("day", "tasks_used"))


def tasks_created_per_month(
    snapshots: list[tuple[date, int]], *, used_now: int, today: date, months: list[date]
) -> list[int | None]:
    """Tasks created in each month (given by its first day, oldest first; the last one the
    current month, counted up to now), schedule ticks included: the lifetime counter's
    growth, so deleted tasks still count.

    The counter now stands for the end of today, after the snapshots. Days between
    snapshots get their difference spread evenly (`daily_tasks`, the projection's rule).
    Days before the first snapshot are known only when that snapshot is 0 (the counter
    never goes down, so nothing was created before it); a month with an unknown day is None.
    """
    points = [(day, used, 0) for day, used in snapshots if day <= today]
    points.append((today + timedelta(days=1), used_now, 0))
    first_day = points[0][0]
    per_day = dict(
        zip(
            (first_day + timedelta(days=i) for i in range((today - first_day).days + 1)),
            daily_tasks(points).counts,
            strict=True,
        )
    )
    known_before = points[0][1] == 0
    result: list[int | None] = []
    tomorrow = today + timedelta(days=1)
    for first, following in zip(months, [*months[1:], tomorrow], strict=True):
        days = [first + timedelta(days=i) for i in range((min(following, tomorrow) - first).days)]
        if not known_before and days and days[0] < first_day:
            result.append(None)
        else:
            result.append(sum(per_day.get(day, 0) for day in days))
    return result
