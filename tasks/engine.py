"""The engine: turns pending tickets into tasks and fires due schedule ticks (SPEC §4).

A pass converts every pending ticket, then fires every due schedule once. Each ticket and
each schedule is one unit of work, done in ONE short durable transaction:

- The unit is claimed with `SELECT ... FOR UPDATE SKIP LOCKED`: the oldest pending ticket
  (or the most overdue schedule) that no other engine holds. Several engines run side by
  side; each row is worked by exactly one of them, and none waits for another.
- The task is created in that transaction by `task_create_in_transaction`, inside a
  savepoint: a refusal (`CapReached`, `LicenseExpired`, invalid input) rolls back just the
  insert, and the ticket is marked `rejected` (or the tick recorded `blocked`) with the
  code. Otherwise the ticket is marked `converted` with its task, and a ticket with a
  recurrence registers its schedule, all in the same transaction.
- A crash (or any error) anywhere in the unit rolls the whole unit back: the ticket stays
  pending or the schedule due, with no task and no count, for the next pass. A unit that
  fails is not offered again in the same pass, so a poisoned ticket cannot make a pass spin.
- `CapCheckBusy` (the tenant's counter was held too long by another writer) is transient:
  the unit is rolled back and left for the next pass, not rejected.

A pass over every tenant ends by writing its time on the one `EngineHeartbeat` row, which the
tickets page reads to say whether an engine runs.
"""

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import QuerySet
from django.utils import timezone

from licensing.errors import DomainError, validation_sentence
from licensing.models import Tenant
from tasks.guards import CapCheckBusy
from tasks.models import EngineHeartbeat, Schedule, ScheduleTick, Task, Ticket
from tasks.models.engine import HEARTBEAT_ID
from tasks.services import (
    effective_every_minutes,
    next_slot_after,
    task_create_in_transaction,
)

logger = logging.getLogger("tasks.engine")

TITLE_LENGTH = Task._meta.get_field("title").max_length
# A ticket's body may be longer than a task's description: the task gets its start.
DESCRIPTION_LENGTH = Task._meta.get_field("description").max_length


@dataclass
class PassSummary:
    """What one pass did, for the command's log and for tests."""

    converted: int = 0
    rejected: int = 0
    schedules_registered: int = 0
    ticks_created: int = 0
    ticks_blocked: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def did_anything(self) -> bool:
        """Progress was made (failures are not: a failing unit must not make the loop spin)."""
        return any((self.converted, self.rejected, self.ticks_created, self.ticks_blocked))


@dataclass(frozen=True)
class Refusal:
    code: str
    detail: str


def run_pass(
    *,
    now: datetime | None = None,
    tenant: Tenant | None = None,
    stopping: Callable[[], bool] = lambda: False,
) -> PassSummary:
    """Convert every pending ticket, then fire each due schedule at most once.

    `stopping` is asked between units: a stop request ends the pass after the unit in hand.
    """
    summary = PassSummary()
    tickets = Ticket.objects.filter(status=Ticket.Status.PENDING).order_by("received_at", "pk")
    if tenant is not None:
        tickets = tickets.filter(tenant=tenant)
    _work_through("ticket", tickets, _convert_ticket, summary, stopping)
    now = now or timezone.now()
    schedules = Schedule.objects.filter(
        status__in=[Schedule.Status.ACTIVE, Schedule.Status.BLOCKED], next_run_at__lte=now
    ).order_by("next_run_at", "pk")
    if tenant is not None:
        schedules = schedules.filter(tenant=tenant)
    _work_through("schedule", schedules, _fire_tick, summary, stopping, now=now)
    if tenant is None:  # a pass for one tenant (the demo's seeding) says nothing of the others
        record_pass(at=timezone.now())
    return summary


def record_pass(*, at: datetime) -> None:
    """Write the heartbeat: an engine finished a pass at `at`.

    One UPDATE of one row, outside the units' transactions; the condition keeps the latest
    time when engines finish out of order. The row is made by the first pass ever.
    """
    if not EngineHeartbeat.objects.filter(pk=HEARTBEAT_ID, last_pass_at__lt=at).update(
        last_pass_at=at
    ):
        EngineHeartbeat.objects.get_or_create(pk=HEARTBEAT_ID, defaults={"last_pass_at": at})


def _work_through(
    noun: str,
    queue: QuerySet,
    work: Callable[..., None],
    summary: PassSummary,
    stopping: Callable[[], bool],
    **kwargs,
) -> None:
    """Claim the queue's rows one at a time and work each in a durable transaction of its own.

    One row per transaction, not a batch: the unit holds its tenant's counter row lock (taken
    by the task's count) until it commits, so a batch would hold it across several tasks and
    make other engines wait on that tenant; a claim is one indexed `LIMIT 1` query.
    """
    passed_over: list[int] = []  # failed in this pass: not offered again until the next one
    while not stopping():
        row = None
        try:
            with transaction.atomic(durable=True):
                # SKIP LOCKED: a row another engine holds is passed over, never worked twice
                # and never waited for. `of=("self",)`: lock the row only, not its tenant.
                row = (
                    queue.exclude(pk__in=passed_over)
                    .select_related("tenant")
                    .select_for_update(skip_locked=True, of=("self",))
                    .first()
                )
                if row is None:
                    return
                work(row, summary, **kwargs)
        except Exception as error:
            if row is None:
                raise  # the claim itself failed: the database, not the unit
            # The whole unit is rolled back: it stays pending or due for the next pass.
            if isinstance(error, CapCheckBusy):
                logger.warning("%s %s: %s Left for the next pass.", noun, row.pk, error.detail)
            else:
                logger.exception("%s %s failed; left for the next pass", noun, row.pk)
            summary.failed.append(f"{noun} {row.pk}")
            passed_over.append(row.pk)


def _create_task(**fields) -> tuple[Task | None, Refusal | None]:
    """`task_create_in_transaction` in a savepoint, with its refusal as a value.

    A refusal rolls back to the savepoint (the insert and its count), keeping the unit's
    transaction and its row lock; `CapCheckBusy` is not a verdict on the ticket and is raised.
    """
    try:
        with transaction.atomic():
            return task_create_in_transaction(**fields), None
    except CapCheckBusy:
        raise
    except DomainError as refusal:
        return None, Refusal(refusal.code, refusal.detail)
    except ValidationError as error:
        return None, Refusal("invalid", validation_sentence(error))


def _convert_ticket(ticket: Ticket, summary: PassSummary) -> None:
    task, refusal = _create_task(
        tenant=ticket.tenant,
        title=ticket.subject[:TITLE_LENGTH],
        description=ticket.body[:DESCRIPTION_LENGTH],
        source=Task.Source.GATEWAY,
        ticket=ticket,
    )
    now = timezone.now()
    if refusal is not None:
        ticket.status = Ticket.Status.REJECTED
        ticket.refusal_code, ticket.refusal_detail = refusal.code, refusal.detail
        ticket.refused_at = now
        ticket.save(update_fields=["status", "refusal_code", "refusal_detail", "refused_at"])
        summary.rejected += 1
        logger.info(
            "ticket %s (%r from gateway %s) rejected: %s: %s",
            ticket.pk,
            ticket.external_id,
            ticket.gateway_id,
            refusal.code,
            refusal.detail,
        )
        return
    assert task is not None  # no refusal: the task was created
    ticket.status, ticket.task, ticket.converted_at = Ticket.Status.CONVERTED, task, now
    ticket.save(update_fields=["status", "task", "converted_at"])
    summary.converted += 1
    logger.info(
        "ticket %s (%r from gateway %s) converted to task %s",
        ticket.pk,
        ticket.external_id,
        ticket.gateway_id,
        task.pk,
    )
    if ticket.recurrence:
        schedule = _register_schedule(ticket, now=now)
        summary.schedules_registered += 1
        logger.info(
            "schedule %s registered for ticket %s: every %s minutes, next run %s",
            schedule.pk,
            ticket.pk,
            schedule.every_minutes,
            schedule.next_run_at.isoformat(),
        )


def _register_schedule(ticket: Ticket, *, now: datetime) -> Schedule:
    """The ticket's own task is the first run; the first tick comes one interval later."""
    assert ticket.recurrence is not None  # only recurring tickets get a schedule
    every_minutes = effective_every_minutes(int(ticket.recurrence["every_minutes"]))
    return Schedule.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        title=ticket.subject[:TITLE_LENGTH],
        description=ticket.body[:DESCRIPTION_LENGTH],
        every_minutes=every_minutes,
        next_run_at=now + timedelta(minutes=every_minutes),
    )


def _fire_tick(schedule: Schedule, summary: PassSummary, *, now: datetime) -> None:
    """One tick for the oldest missed slot; slots missed beyond it are skipped, not caught up.

    The next run moves past `now`, so a schedule ticks at most once per pass.
    """
    interval = timedelta(minutes=schedule.every_minutes)
    due_at = schedule.next_run_at
    slots_skipped = (now - due_at) // interval
    task, refusal = _create_task(
        tenant=schedule.tenant,
        title=schedule.title,
        description=schedule.description[:DESCRIPTION_LENGTH],  # schedules from before the limit
        source=Task.Source.SCHEDULE,
        kind=Task.Kind.RECURRING,
        ticket=schedule.ticket,
    )
    tick = ScheduleTick.objects.create(
        schedule=schedule,
        due_at=due_at,
        fired_at=now,
        slots_skipped=slots_skipped,
        task=task,
        status=ScheduleTick.Status.BLOCKED if refusal else ScheduleTick.Status.CREATED,
        refusal_code=refusal.code if refusal else "",
        refusal_detail=refusal.detail if refusal else "",
    )
    schedule.status = Schedule.Status.BLOCKED if refusal else Schedule.Status.ACTIVE
    schedule.next_run_at = next_slot_after(
        due_at=due_at, every_minutes=schedule.every_minutes, now=now
    )
    schedule.last_tick_at = now
    schedule.save(update_fields=["next_run_at", "last_tick_at", "status"])
    if refusal:
        summary.ticks_blocked += 1
    else:
        summary.ticks_created += 1
    logger.info(
        "schedule %s tick due %s %s%s; next run %s",
        schedule.pk,
        due_at.isoformat(),
        f"created task {tick.task_id}"
        if tick.status == ScheduleTick.Status.CREATED
        else f"blocked: {tick.refusal_code}: {tick.refusal_detail}",
        f" ({slots_skipped} missed slots skipped)" if slots_skipped else "",
        schedule.next_run_at.isoformat(),
    )
