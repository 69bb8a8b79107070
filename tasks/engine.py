"""The engine: turns pending tickets into tasks and fires due schedule ticks (SPEC §4).

A pass converts every pending ticket, then fires every due schedule once. Each ticket and
each schedule is one unit of work, done under a lock that only one engine can hold:

- `task_create` (the one guarded path) commits in its own durable transaction, so no row
  lock of ours can span it. The unit's lock is therefore a PostgreSQL session-level
  advisory lock, taken with `pg_try_advisory_lock`: like `SKIP LOCKED`, an engine that
  cannot take it moves on to the next unit, and it is released when the unit is done or
  when the engine's connection dies with it.
- Under the lock the unit first looks for the task an earlier attempt created and then
  crashed before recording (a task of the ticket from the same source): it adopts that task
  instead of creating a second one. So a crash at any point loses nothing and repeats
  nothing: the ticket stays pending, or the tick stays due, for the next pass.
- The outcome (converted, rejected with the code, tick created or blocked) is written in a
  short transaction of its own that locks the row with `SELECT ... FOR UPDATE`.
"""

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from licensing.errors import DomainError, validation_sentence
from licensing.models import Tenant
from tasks.models import Schedule, ScheduleTick, Task, Ticket
from tasks.models.tickets import SCHEDULE_STEP_MINUTES
from tasks.services import task_create

logger = logging.getLogger("tasks.engine")

TITLE_LENGTH = Task._meta.get_field("title").max_length
BATCH = 100
# Advisory lock namespaces (the first key of pg_try_advisory_lock(int, int)).
TICKET_LOCKS, SCHEDULE_LOCKS = 5001, 5002


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


def floor_recurrence(every_minutes: int) -> int:
    """A schedule's interval: floored to a multiple of 5 minutes, and at least 5."""
    step = SCHEDULE_STEP_MINUTES
    return max(step, every_minutes // step * step)


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
    tickets = Ticket.objects.filter(status=Ticket.Status.PENDING)
    if tenant is not None:
        tickets = tickets.filter(tenant=tenant)
    for ticket_id in _units(tickets, "received_at", stopping):
        _run_unit("ticket", ticket_id, TICKET_LOCKS, _convert_ticket, summary)
    now = now or timezone.now()
    schedules = Schedule.objects.filter(
        status__in=[Schedule.Status.ACTIVE, Schedule.Status.BLOCKED], next_run_at__lte=now
    )
    if tenant is not None:
        schedules = schedules.filter(tenant=tenant)
    for schedule_id in _units(schedules, "next_run_at", stopping):
        _run_unit("schedule", schedule_id, SCHEDULE_LOCKS, _fire_tick, summary, now=now)
    return summary


def _units(queue, order_field: str, stopping: Callable[[], bool]) -> Iterator[int]:
    """The queue's ids in `order_field` order, each offered once per pass, read page by page.

    Keyset paging: a ticket skipped (held by another engine, or failed) is not read again.
    """
    after = None
    while not stopping():
        page = queue
        if after is not None:
            value, pk = after
            page = page.filter(
                Q(**{f"{order_field}__gt": value}) | Q(**{order_field: value, "pk__gt": pk})
            )
        batch = list(page.order_by(order_field, "pk").values_list(order_field, "pk")[:BATCH])
        if not batch:
            return
        for _value, pk in batch:
            if stopping():
                return
            yield pk
        after = batch[-1]


def _run_unit(noun: str, pk: int, namespace: int, work, summary: PassSummary, **kwargs) -> None:
    with _unit_lock(namespace, pk) as held:
        if not held:
            return  # another engine is doing it
        try:
            work(pk, summary, **kwargs)
        except Exception:
            # Only the unit in hand is lost; it stays pending or due for the next pass.
            logger.exception("%s %s failed; left for the next pass", noun, pk)
            summary.failed.append(f"{noun} {pk}")


@contextmanager
def _unit_lock(namespace: int, pk: int) -> Iterator[bool]:
    """Hold the unit's advisory lock, or yield False at once if another engine holds it.

    SQLite (development) has no such locks and no concurrent writers: the lock is always held.
    """
    if connection.vendor != "postgresql":
        yield True
        return
    key = (namespace, pk % 2**31)
    with connection.cursor() as cursor:
        # The unit's lock: two engines never work on the same ticket or schedule at once.
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", key)
        held = cursor.fetchone()[0]
    try:
        yield held
    finally:
        if held:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", key)


def _create_task(**fields) -> tuple[Task | None, Refusal | None]:
    """`task_create`, with its refusal (cap, expired license, invalid input) as a value."""
    try:
        return task_create(**fields), None
    except DomainError as refusal:
        return None, Refusal(refusal.code, refusal.detail)
    except ValidationError as error:
        return None, Refusal("invalid", validation_sentence(error))


def _convert_ticket(ticket_id: int, summary: PassSummary) -> None:
    ticket = Ticket.objects.select_related("tenant").get(pk=ticket_id)
    if ticket.status != Ticket.Status.PENDING:
        return  # done by another engine between our queue read and our lock
    # A task an earlier attempt created before it crashed: adopt it, never create a second.
    task = Task.objects.filter(ticket=ticket, source=Task.Source.GATEWAY).first()
    refusal = None
    if task is None:
        task, refusal = _create_task(
            tenant=ticket.tenant,
            title=ticket.subject[:TITLE_LENGTH],
            description=ticket.body,
            source=Task.Source.GATEWAY,
            ticket=ticket,
        )
    now = timezone.now()
    with transaction.atomic(durable=True):
        # Row lock: a retry arriving now changes the ticket before or after us, never between.
        ticket = Ticket.objects.select_for_update().get(pk=ticket_id)
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
        if ticket.recurrence and not Schedule.objects.filter(ticket=ticket).exists():
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
    every_minutes = floor_recurrence(int(ticket.recurrence["every_minutes"]))
    return Schedule.objects.create(
        tenant_id=ticket.tenant_id,
        ticket=ticket,
        title=ticket.subject[:TITLE_LENGTH],
        description=ticket.body,
        every_minutes=every_minutes,
        next_run_at=now + timedelta(minutes=every_minutes),
    )


def _fire_tick(schedule_id: int, summary: PassSummary, *, now: datetime) -> None:
    """One tick for the oldest missed slot; slots missed beyond it are skipped, not caught up."""
    schedule = Schedule.objects.select_related("tenant", "ticket").get(pk=schedule_id)
    if schedule.status == Schedule.Status.PAUSED or schedule.next_run_at > now:
        return  # fired or paused between our queue read and our lock
    interval = timedelta(minutes=schedule.every_minutes)
    due_at = schedule.next_run_at
    slots_skipped = (now - due_at) // interval
    # A tick task an earlier attempt created before it crashed: adopt it.
    task = (
        Task.objects.filter(ticket=schedule.ticket, source=Task.Source.SCHEDULE)
        .exclude(pk__in=schedule.ticks.exclude(task=None).values("task"))
        .first()
    )
    refusal = None
    if task is None:
        task, refusal = _create_task(
            tenant=schedule.tenant,
            title=schedule.title,
            description=schedule.description,
            source=Task.Source.SCHEDULE,
            kind=Task.Kind.RECURRING,
            ticket=schedule.ticket,
        )
    with transaction.atomic(durable=True):
        # Row lock: an operator pausing the schedule now waits for this tick to be recorded.
        schedule = Schedule.objects.select_for_update().get(pk=schedule_id)
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
        if schedule.status != Schedule.Status.PAUSED:
            schedule.status = Schedule.Status.BLOCKED if refusal else Schedule.Status.ACTIVE
        schedule.next_run_at = due_at + (slots_skipped + 1) * interval
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
