"""Writes for hosts, gateways, tasks and tickets.

Every create is checked by the cap guard (tasks/guards.py) in its transaction and raises
`CapReached` / `LicenseExpired` (licensing.errors) or `CapCheckBusy` on refusal.
Every entry point (pages, API, Django admin, the engine, commands) calls these.
"""

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet
from django.db.transaction import TransactionManagementError
from django.utils import timezone

from licensing.errors import DomainError
from licensing.models import Tenant
from tasks import guards
from tasks.models import Gateway, Host, Schedule, Task, Ticket
from tasks.models.tasks import TASK_DESCRIPTION_MAX_LENGTH
from tasks.models.tickets import MIN_SCHEDULE_MINUTES


def _bounded_text(field: str, value: str, *, max_length: int) -> str:
    if len(value) > max_length:
        raise ValidationError({field: f"At most {max_length} characters."})
    return value


def _required_text(field: str, value: str, *, max_length: int) -> str:
    value = (value or "").strip()
    if not value:
        raise ValidationError({field: "This field is required."})
    return _bounded_text(field, value, max_length=max_length)


def _same_tenant(field: str, obj, tenant: Tenant) -> None:
    if obj is not None and obj.tenant_id != tenant.pk:
        raise ValidationError({field: f"No such {field} in this tenant."})


def _new_task(
    *,
    tenant: Tenant,
    title: str,
    source: str,
    description: str,
    host: Host | None,
    kind: str,
    creator: User | None,
    ticket: Ticket | None,
) -> Task:
    """The validated, unsaved task both creation paths insert; `ValidationError` for bad input."""
    title = _required_text("title", title, max_length=300)
    description = _bounded_text(
        "description", description or "", max_length=TASK_DESCRIPTION_MAX_LENGTH
    )
    if source not in Task.Source.values:
        raise ValidationError({"source": f"{source!r} is not a task source."})
    if kind not in Task.Kind.values:
        raise ValidationError({"kind": f"{kind!r} is not a task kind."})
    _same_tenant("host", host, tenant)
    _same_tenant("ticket", ticket, tenant)
    return Task(
        tenant=tenant,
        title=title,
        description=description,
        host=host,
        kind=kind,
        source=source,
        creator=creator,
        ticket=ticket,
    )


def task_create(
    *,
    tenant: Tenant,
    title: str,
    source: str,
    description: str = "",
    host: Host | None = None,
    kind: str = Task.Kind.AD_HOC,
    creator: User | None = None,
    ticket: Ticket | None = None,
) -> Task:
    """Create a task, counted against the tenant's lifetime tasks cap.

    Raises `CapReached("tasks", ...)` at the cap, `LicenseExpired("tasks", ...)` when the
    license has expired, `CapCheckBusy` when the counter is held too long, `ValidationError`
    for bad input. Runs in a transaction of its own, and returns once the task is on disk.
    """
    task = _new_task(
        tenant=tenant,
        title=title,
        source=source,
        description=description,
        host=host,
        kind=kind,
        creator=creator,
        ticket=ticket,
    )
    with transaction.atomic(durable=True):
        task.save(savepoint=False)  # counted by the guard's post_save in this transaction
    return task


def task_create_in_transaction(
    *,
    tenant: Tenant,
    title: str,
    source: str,
    description: str = "",
    host: Host | None = None,
    kind: str = Task.Kind.AD_HOC,
    creator: User | None = None,
    ticket: Ticket | None = None,
) -> Task:
    """`task_create` for a caller that already holds a transaction (the engine).

    Same validation and same refusals (`CapReached`, `LicenseExpired`, `CapCheckBusy`,
    `ValidationError`). The insert is counted by the same guard in the caller's
    transaction, which keeps the tenant's counter row locked until the caller commits; on
    a refusal the insert has happened, so the caller must roll back (a savepoint around
    this call is enough). Raises `TransactionManagementError` outside a transaction.
    """
    if not transaction.get_connection().in_atomic_block:
        raise TransactionManagementError(
            "task_create_in_transaction() must run inside the caller's transaction "
            "(transaction.atomic()); outside one, use task_create()."
        )
    task = _new_task(
        tenant=tenant,
        title=title,
        source=source,
        description=description,
        host=host,
        kind=kind,
        creator=creator,
        ticket=ticket,
    )
    task.save(savepoint=False)  # counted by the guard's post_save in the caller's transaction
    return task


def task_delete(*, task: Task) -> None:
    """Delete a task. The lifetime count does not go down: no slot is given back."""
    with transaction.atomic(durable=True):
        task.delete()


def host_register(*, tenant: Tenant, name: str) -> Host:
    """Register a host within the hosts cap (hosts registered now); raises like task_create."""
    name = _required_text("name", name, max_length=200)
    with (
        transaction.atomic(durable=True),
        guards.asset_change(tenant=tenant, dimension="hosts", adding=True),
    ):
        return Host.objects.create(tenant=tenant, name=name)


def host_delete(*, host: Host) -> None:
    """Delete a host: its slot is free again. Its tasks keep running without a target."""
    with (
        transaction.atomic(durable=True),
        guards.asset_change(tenant=host.tenant, dimension="hosts", adding=False),
    ):
        host.delete()


def gateway_secret_hash(secret: str) -> str:
    """What is stored of a gateway's ingest secret; deliveries compare against it."""
    return hashlib.sha256(secret.encode()).hexdigest()


def gateway_create(*, tenant: Tenant, name: str, kind: str) -> tuple[Gateway, str]:
    """Create a gateway within the gateways cap; returns it and its ingest secret.

    The secret is returned only here, to be shown once; only its SHA-256 is stored.
    """
    name = _required_text("name", name, max_length=200)
    if kind not in Gateway.Kind.values:
        raise ValidationError({"kind": f"{kind!r} is not a gateway kind."})
    secret = secrets.token_urlsafe(32)
    with (
        transaction.atomic(durable=True),
        guards.asset_change(tenant=tenant, dimension="gateways", adding=True),
    ):
        gateway = Gateway.objects.create(
            tenant=tenant, name=name, kind=kind, secret_hash=gateway_secret_hash(secret)
        )
    return gateway, secret


def gateway_revoke(*, gateway: Gateway) -> int:
    """Revoke a gateway: its slot is free again and its deliveries are refused from now on.

    It is not deleted: the tickets it delivered are kept (tickets are never lost) and
    pending ones are still converted. The schedules its tickets registered are paused in
    the same transaction (SPEC §4); returns how many. An administrator may resume them.
    Revoking a revoked gateway changes nothing (schedules resumed since stay resumed).
    Raises `CapCheckBusy` when the tenant's lock is held too long.
    """
    with (
        transaction.atomic(durable=True),
        guards.asset_change(tenant=gateway.tenant, dimension="gateways", adding=False),
    ):
        revoked = (
            Gateway.objects.registered().filter(pk=gateway.pk).update(revoked_at=timezone.now())
        )
        if not revoked:
            return 0
        return _pause(Schedule.objects.filter(ticket__gateway=gateway))


def gateway_schedules_to_pause(gateway: Gateway) -> int:
    """How many schedules revoking this gateway would pause (for its confirmation)."""
    return (
        Schedule.objects.filter(ticket__gateway=gateway)
        .exclude(status=Schedule.Status.PAUSED)
        .count()
    )


# Tickets: receive a delivery, check a gateway secret, retry a rejected ticket.


class TicketNotRejected(DomainError):
    """Only a rejected ticket can be retried; pending and converted ones are left as they are."""

    code = "ticket_not_rejected"
    http_status = 409

    def __init__(self, ticket: Ticket) -> None:
        super().__init__(
            f"Ticket {ticket.pk} is {ticket.status}, not rejected: there is nothing to retry."
        )


class GatewayRevoked(DomainError):
    """A revoked gateway delivers nothing: its secret no longer opens the door."""

    code = "gateway_revoked"
    http_status = 401

    def __init__(self, gateway: Gateway) -> None:
        super().__init__(
            f"Gateway {gateway.pk} was revoked: it can no longer deliver tickets. "
            "Create a new gateway and give its secret to the sender."
        )


def ticket_receive(
    *,
    gateway: Gateway,
    external_id: str,
    subject: str,
    body: str = "",
    recurrence: dict | None = None,
) -> tuple[Ticket, bool]:
    """Store a delivered ticket as `pending`; returns (ticket, created).

    Raises ValidationError for a recurrence the engine could not schedule; a recurrence is
    stored at its effective interval (`effective_every_minutes`). Raises GatewayRevoked
    for a gateway revoked before the ticket is stored.
    Idempotent by `external_id` per gateway: a re-delivery returns the ticket stored
    the first time and changes nothing, even when two deliveries race (the unique
    constraint makes the loser's insert fail; it then reads the winner's row).
    """
    _check_recurrence(recurrence)
    if recurrence is not None:
        # Stored (and answered) at the interval the schedule will run at.
        recurrence = {"every_minutes": effective_every_minutes(recurrence["every_minutes"])}
    existing = Ticket.objects.filter(gateway=gateway, external_id=external_id).first()
    if existing is not None:
        return existing, False
    try:
        with transaction.atomic(durable=True):
            # The gateway's row lock: a revoke (an UPDATE of that row) waits for this delivery
            # to commit, and a delivery after a revoke sees it, so a revoked gateway stores
            # nothing even mid-race. Deliveries of one gateway queue for one insert each.
            if (
                not Gateway.objects.registered()
                .select_for_update(no_key=True)
                .filter(pk=gateway.pk)
            ):
                raise GatewayRevoked(gateway)
            ticket = Ticket.objects.create(
                tenant_id=gateway.tenant_id,
                gateway=gateway,
                external_id=external_id,
                subject=subject,
                body=body,
                recurrence=recurrence,
            )
    except IntegrityError:
        return Ticket.objects.get(gateway=gateway, external_id=external_id), False
    return ticket, True


def effective_every_minutes(every_minutes: int) -> int:
    """The interval a schedule runs at: as asked, but never more often than every 5 minutes.

    Never rounded down: each tick spends a lifetime task slot, so a schedule must not run
    more often than its ticket asked.
    """
    return max(MIN_SCHEDULE_MINUTES, every_minutes)


def _check_recurrence(recurrence: dict | None) -> None:
    """The engine's contract for a schedule; the API says the same field by field."""
    if recurrence is None:
        return
    every = recurrence.get("every_minutes") if isinstance(recurrence, dict) else None
    if set(recurrence) != {"every_minutes"} or type(every) is not int or every < 1:
        raise ValidationError(
            {"recurrence": 'Expected {"every_minutes": N}, N a whole number of minutes, 1 or more.'}
        )


def ticket_retry(*, ticket: Ticket) -> Ticket:
    """Put a rejected ticket back to `pending` so the next engine pass converts it."""
    with transaction.atomic(durable=True):
        # Lock the row: two retries (or a retry and an admin action) change it once.
        ticket = Ticket.objects.select_for_update().get(pk=ticket.pk)
        if ticket.status != Ticket.Status.REJECTED:
            raise TicketNotRejected(ticket)
        _requeue(Ticket.objects.filter(pk=ticket.pk))
        ticket.refresh_from_db()
    return ticket


def tickets_retry_rejected(*, tickets: QuerySet[Ticket] | None = None) -> int:
    """Put every rejected ticket (of `tickets`, default all) back to `pending`; returns how many.

    A page or the API passes the tenant's tickets (`Ticket.objects.filter(tenant=...)`);
    the Django admin its selection; `run_engine --retry-rejected` all of them.
    """
    tickets = Ticket.objects.all() if tickets is None else tickets
    with transaction.atomic(durable=True):
        # One UPDATE ... WHERE status = 'rejected': a ticket the engine is converting is pending,
        # so it is never touched here.
        return _requeue(tickets.filter(status=Ticket.Status.REJECTED))


def _requeue(tickets: QuerySet[Ticket]) -> int:
    return tickets.update(
        status=Ticket.Status.PENDING, refusal_code="", refusal_detail="", refused_at=None
    )


# Schedules: an administrator pauses and resumes them; revoking a gateway pauses its own.


def next_slot_after(*, due_at: datetime, every_minutes: int, now: datetime) -> datetime:
    """The first slot of a schedule's cadence (`due_at` + k intervals) that is after `now`.

    `due_at` itself while it is still ahead. The engine moves a schedule on with it after a
    tick, and a resume with it, so a schedule keeps its rhythm and never makes up missed runs.
    """
    if due_at > now:
        return due_at
    interval = timedelta(minutes=every_minutes)
    return due_at + ((now - due_at) // interval + 1) * interval


def _pause(schedules: QuerySet[Schedule]) -> int:
    return schedules.exclude(status=Schedule.Status.PAUSED).update(status=Schedule.Status.PAUSED)


def schedules_pause(*, schedules: QuerySet[Schedule]) -> int:
    """Stop schedules from ticking (an administrator's decision); returns how many were paused.

    Pausing a paused schedule changes nothing. A tick the engine is firing now finishes
    first: this UPDATE waits for the engine's row lock, then pauses the schedule.
    """
    with transaction.atomic(durable=True):
        return _pause(schedules)


def schedules_resume(*, schedules: QuerySet[Schedule], now: datetime | None = None) -> int:
    """Let paused schedules tick again; returns how many were resumed.

    Runs missed while paused are not made up (each would spend a lifetime task slot): the
    next run is the first slot of the schedule's cadence after now. Resuming an active
    schedule changes nothing.
    """
    now = now or timezone.now()
    with transaction.atomic(durable=True):
        # Lock the rows: a pause racing this resume waits, then applies to the resumed row.
        paused = schedules.filter(status=Schedule.Status.PAUSED).select_for_update(of=("self",))
        resumed = 0
        for schedule in paused:
            schedule.status = Schedule.Status.ACTIVE
            schedule.next_run_at = next_slot_after(
                due_at=schedule.next_run_at, every_minutes=schedule.every_minutes, now=now
            )
            schedule.save(update_fields=["status", "next_run_at"])
            resumed += 1
        return resumed
