"""Recording usage events: whole batches or nothing, idempotent by request_id."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from decimal import Decimal
from operator import attrgetter
from typing import Any, NotRequired, TypedDict

from django.db import connection, transaction
from django.utils import timezone

from licensing.models import Tenant
from tasks.models import Host, Task, Ticket
from usage.budgets.services import Settled, reservations_settle
from usage.errors import batch_refused
from usage.models import LlmModel, UsageEvent
from usage.pricing import PricingTimeline, token_cost
from usage.services.array_insert import array_columns, array_insert_sql
from usage.services.rollups import rollups_add

MAX_BATCH = 1000


class UsageEventData(TypedDict):
    """One record as its input serializer leaves it (`usage/api/events.py`)."""

    request_id: str
    occurred_at: datetime  # aware, in Tally's bounds, at most a day ahead
    model: str  # the name of one of the tenant's models
    input_tokens: int
    output_tokens: int
    cached_tokens: NotRequired[int]  # default 0
    ticket: NotRequired[int | None]
    task: NotRequired[int | None]
    host: NotRequired[str | None]  # the name of one of the tenant's hosts; None: the task's
    consumer: NotRequired[str | None]  # None or left out: none given
    succeeded: NotRequired[bool]  # default True


@dataclass(frozen=True)
class EventsRecorded:
    """What a batch did: `created` new events; `duplicates` request_ids already stored."""

    received: int
    created: int
    duplicates: int


@dataclass(frozen=True)
class Event:
    """A record resolved against its tenant: ready to store."""

    request_id: str
    occurred_at: datetime
    model_id: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    ticket_id: int | None
    task_id: int | None
    host_id: int | None
    consumer: str
    succeeded: bool


def usage_events_record(*, tenant: Tenant, events: Sequence[UsageEventData]) -> EventsRecorded:
    """Store a batch of usage records (validated by their input serializer), whole or not at all.

    The records name the tenant's objects: `model` by name, optional `ticket` and `task`
    by id (a record with only `task` takes the task's ticket, and one whose `ticket` is
    not its task's ticket is refused, also when the task has no ticket), optional `host`
    by name (left out: the task's host, if any; a name two hosts share is refused, as it
    does not say which). A request_id may
    appear once per batch. A record that breaks one of these raises UsageRefused naming
    its index and field; a request_id already stored is skipped (counted in
    `duplicates`), also when two batches race.
    """
    with transaction.atomic(durable=True):
        return usage_events_insert(tenant=tenant, events=events)


def usage_events_insert(*, tenant: Tenant, events: Sequence[UsageEventData]) -> EventsRecorded:
    """`usage_events_record` for callers that hold a transaction already (composes)."""
    resolved = _resolve(tenant, events)
    with transaction.atomic(savepoint=False):
        created = _insert_new_events(tenant, resolved)
        rollups_add(tenant=tenant, events=created)
        # The month's budget counts every new event (never refused, SPEC §8.2) and settles
        # the reservation its request_id made through authorize.
        reservations_settle(tenant=tenant, settled=_as_settled(created))
    return EventsRecorded(
        received=len(resolved), created=len(created), duplicates=len(resolved) - len(created)
    )


def _as_settled(events: list[Event]) -> list[Settled]:
    """The events as the budget counts them: whole-bill cost (0 when no plan prices it)."""
    timeline = PricingTimeline.of_models({event.model_id for event in events})
    settled = []
    for event in events:
        plan = timeline.in_force(event.model_id, event.occurred_at)
        input, output, cached = event.input_tokens, event.output_tokens, event.cached_tokens
        cost = Decimal(0)
        if plan is not None:
            cost = token_cost(plan, input=input, output=output, cached=cached).total
        settled.append(Settled(event.request_id, cost, input + output + cached, event.occurred_at))
    return settled


@dataclass(frozen=True)
class _TenantObjects:
    """What a batch names, looked up in the tenant in four queries (none per event)."""

    models: dict[str, int]
    tickets: set[int]
    task_tickets: dict[int, int | None]
    task_hosts: dict[int, int | None]
    hosts: dict[str, list[int]]  # by name: a name is not unique among a tenant's hosts

    @classmethod
    def named_in(cls, tenant: Tenant, events: Sequence[Mapping]) -> "_TenantObjects":
        names = {event["model"] for event in events}
        ticket_ids: set[Any] = {event.get("ticket") for event in events} - {None}
        task_ids: set[Any] = {event.get("task") for event in events} - {None}
        host_names: set[Any] = {event.get("host") for event in events} - {None}
        models = LlmModel.objects.filter(tenant=tenant, name__in=names)
        tickets = Ticket.objects.filter(tenant=tenant, id__in=ticket_ids)
        # Each task's ticket comes in the same query: an agent that reports only its task
        # is still working on the task's ticket, so its usage is costed (SPEC §5.1).
        tasks = Task.objects.filter(tenant=tenant, id__in=task_ids)
        task_rows = list(tasks.values_list("id", "ticket_id", "host_id"))
        hosts: dict[str, list[int]] = defaultdict(list)
        if host_names:
            named = Host.objects.filter(tenant=tenant, name__in=host_names).order_by("id")
            for name, host_id in named.values_list("name", "id"):
                hosts[name].append(host_id)
        return cls(
            models=dict(models.values_list("name", "id")),
            tickets=set(tickets.values_list("id", flat=True)),
            task_tickets={task_id: ticket_id for task_id, ticket_id, _ in task_rows},
            task_hosts={task_id: host_id for task_id, _, host_id in task_rows},
            hosts=dict(hosts),
        )


def _resolve(tenant: Tenant, events: Sequence[UsageEventData]) -> list[Event]:
    """The events with their tenant's ids; one UsageRefused naming each bad record and field."""
    known = _TenantObjects.named_in(tenant, events)
    errors: dict[str, dict[str, list[str]]] = {}
    resolved: list[Event] = []
    seen: set[str] = set()
    for index, record in enumerate(events):
        problems = _problems(record, known, seen)
        seen.add(record["request_id"])
        if problems:
            errors[str(index)] = {field: [message] for field, message in problems.items()}
        else:
            resolved.append(_event(record, known))
    if errors:
        raise batch_refused(errors)
    return resolved


def _problems(record: UsageEventData, known: _TenantObjects, seen: set[str]) -> dict[str, str]:
    """{field: message} for what the record names that its tenant does not have."""
    problems = {}
    if record["request_id"] in seen:
        problems["request_id"] = f"{record['request_id']!r} appears twice in this batch."
    if record["model"] not in known.models:
        problems["model"] = (
            f"No model named {record['model']!r}: create it first (POST /api/v1/models/)."
        )
    ticket, task = record.get("ticket"), record.get("task")
    if ticket is not None and ticket not in known.tickets:
        problems["ticket"] = "No ticket with this id in your tenant."
    if task is not None and task not in known.task_tickets:
        problems["task"] = "No task with this id in your tenant."
    elif task is not None and "ticket" not in problems:
        mismatch = _ticket_mismatch(ticket, task=task, task_ticket=known.task_tickets[task])
        if mismatch:
            problems["ticket"] = mismatch
    host = record.get("host")
    if host is not None and len(known.hosts.get(host, [])) != 1:
        problems["host"] = (
            f"No host named {host!r} in your tenant: register it first (POST /api/v1/hosts/)."
            if host not in known.hosts
            else f"{len(known.hosts[host])} of your hosts are named {host!r}: rename all but "
            "one, so usage can say which."
        )
    return problems


def _ticket_mismatch(ticket: int | None, *, task: int, task_ticket: int | None) -> str | None:
    """Why `ticket` is not the event's ticket given its task, or None when it is.

    A task with no ticket does not match a ticket either: costing its usage against one
    would guess which record is wrong.
    """
    if ticket is None or ticket == task_ticket:
        return None
    if task_ticket is None:
        return (
            f"Task {task} has no ticket, not {ticket}: leave ticket out, or send the usage on "
            "the ticket without the task."
        )
    return (
        f"Task {task} belongs to ticket {task_ticket}, not {ticket}: send the task's ticket "
        "or leave ticket out."
    )


def _event(record: UsageEventData, known: _TenantObjects) -> Event:
    task = record.get("task")
    ticket = record.get("ticket")
    if task is not None and ticket is None:
        ticket = known.task_tickets[task]  # left out: the task's ticket, if any
    host = record.get("host")
    host_id: int | None = None
    if host is not None:
        [host_id] = known.hosts[host]
    elif task is not None:  # left out: the task's host, if any (where the task's agent ran)
        host_id = known.task_hosts[task]
    return Event(
        request_id=record["request_id"],
        occurred_at=record["occurred_at"].astimezone(UTC),
        model_id=known.models[record["model"]],
        input_tokens=record["input_tokens"],
        output_tokens=record["output_tokens"],
        cached_tokens=record.get("cached_tokens", 0),
        ticket_id=ticket,
        task_id=task,
        host_id=host_id,
        consumer=record.get("consumer") or "",
        succeeded=record.get("succeeded", True),
    )


def _insert_new_events(tenant: Tenant, events: list[Event]) -> list[Event]:
    """Insert the events whose request_id is new; return those (the others were stored).

    ON CONFLICT DO NOTHING on the (tenant, request_id) unique index: a concurrent batch
    with the same ids waits for ours to commit and then skips them, so nothing is
    counted twice. Sorted, so two racing batches take index locks in the same order.
    """
    if not events:
        return []
    events = sorted(events, key=lambda event: event.request_id)
    rows = [_EVENT_ROW(event) for event in events]
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    sql = (
        f"{array_insert_sql(table, constants=_EVENT_CONSTANTS, columns=_EVENT_COLUMNS)} "
        "ON CONFLICT (tenant_id, request_id) DO NOTHING RETURNING request_id"
    )
    params: list[Any] = [tenant.id, timezone.now(), *array_columns(rows, len(_EVENT_COLUMNS))]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = {row[0] for row in cursor.fetchall()}
    return [event for event in events if event.request_id in inserted]


_EVENT_CONSTANTS = ("tenant_id", "received_at")
_EVENT_COLUMNS = {  # Event's fields by column name, with their SQL types (\d usage_usageevent)
    "request_id": "text",
    "occurred_at": "timestamptz",
    "model_id": "bigint",
    "input_tokens": "integer",
    "output_tokens": "integer",
    "cached_tokens": "integer",
    "ticket_id": "bigint",
    "task_id": "bigint",
    "host_id": "bigint",
    "consumer": "text",
    "succeeded": "boolean",
}
_EVENT_ROW = attrgetter(*_EVENT_COLUMNS)  # an Event as a tuple in that order
