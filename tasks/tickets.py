"""Writes about tickets: receive a delivery, check a gateway secret, retry a rejected ticket."""

import hmac

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import QuerySet

from licensing.errors import DomainError
from tasks.models import Gateway, Schedule, Ticket
from tasks.models.tickets import MIN_SCHEDULE_MINUTES
from tasks.services import gateway_secret_hash


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


def gateway_secret_matches(gateway: Gateway, secret: str) -> bool:
    """Constant-time comparison of a presented secret with the gateway's stored hash."""
    return hmac.compare_digest(gateway_secret_hash(secret), gateway.secret_hash)


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
    """Put every rejected ticket (of `tickets`, default all) back to `pending`; returns how many."""
    tickets = Ticket.objects.all() if tickets is None else tickets
    with transaction.atomic(durable=True):
        # One UPDATE ... WHERE status = 'rejected': a ticket the engine is converting is pending,
        # so it is never touched here.
        return _requeue(tickets.filter(status=Ticket.Status.REJECTED))


def _requeue(tickets: QuerySet[Ticket]) -> int:
    return tickets.update(
        status=Ticket.Status.PENDING, refusal_code="", refusal_detail="", refused_at=None
    )


def schedules_pause(*, schedules: QuerySet[Schedule]) -> int:
    """Stop schedules from ticking (an operator's decision); returns how many were paused."""
    with transaction.atomic(durable=True):
        return schedules.exclude(status=Schedule.Status.PAUSED).update(
            status=Schedule.Status.PAUSED
        )


def schedules_resume(*, schedules: QuerySet[Schedule]) -> int:
    """Let paused schedules tick again; a run missed while paused fires once, then on time."""
    with transaction.atomic(durable=True):
        return schedules.filter(status=Schedule.Status.PAUSED).update(status=Schedule.Status.ACTIVE)
