"""Writes about LLM usage: models, pricing plans, usage events and their rollups."""

from collections import defaultdict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import connection, transaction
from django.db.models import Max
from django.utils import timezone

from licensing.errors import DomainError
from licensing.models import Tenant
from tasks.models import Task, Ticket
from usage.buckets import BOUNDS, EARLIEST, in_bounds
from usage.models import (
    GRAIN_SECONDS,
    MODEL_GRAINS,
    SUMMARY_GRAINS,
    TOKENS_LIMIT,
    ConsumerRollup,
    LlmModel,
    ModelRollup,
    PricingPlan,
    TicketRollup,
    UsageEvent,
)

MAX_BATCH = 1000
FUTURE_TOLERANCE = timedelta(days=1)
EVENT_FIELDS = frozenset(
    {
        "request_id",
        "occurred_at",
        "model",
        "input_tokens",
        "output_tokens",
        "cached_tokens",
        "ticket",
        "task",
        "consumer",
        "succeeded",
    }
)


class UsageRefused(DomainError):
    """A model, plan or batch of events that will not be stored (400); nothing was written.

    `errors` maps a field (or, for a batch, `events` -> {index: {field: [messages]}})
    to messages, like a validation error.
    """

    code = "invalid"

    def __init__(self, detail: str, *, errors: dict | None = None, code: str | None = None):
        super().__init__(detail, code=code)
        self.errors = errors or {}

    def extra(self) -> dict:
        return {"errors": self.errors} if self.errors else {}


@dataclass(frozen=True)
class EventsRecorded:
    """What a batch did: `created` new events; `duplicates` request_ids already stored."""

    received: int
    created: int
    duplicates: int


def llm_model_create(*, tenant: Tenant, name: str, provider: str) -> LlmModel:
    """Create a model for `tenant`. Raises UsageRefused (code `model_exists`) if the
    tenant already has a model of that name, or `invalid` for an empty name/provider."""
    name, provider = (name or "").strip(), (provider or "").strip()
    errors = {}
    if not name or len(name) > 200:
        errors["name"] = ["A model needs a name of 1 to 200 characters."]
    if not provider or len(provider) > 200:
        errors["provider"] = ["A model needs a provider of 1 to 200 characters."]
    if errors:
        raise UsageRefused(f"The model is not valid: check {', '.join(errors)}.", errors=errors)
    with transaction.atomic(durable=True):
        if LlmModel.objects.filter(tenant=tenant, name=name).exists():
            raise UsageRefused(
                f"A model named {name!r} exists already.",
                code="model_exists",
                errors={"name": [f"A model named {name!r} exists already."]},
            )
        return LlmModel.objects.create(tenant=tenant, name=name, provider=provider)


def pricing_plan_create(
    *,
    model: LlmModel,
    input_per_million: Decimal,
    output_per_million: Decimal,
    cached_per_million: Decimal,
    effective_at: datetime,
) -> PricingPlan:
    """Add a plan for `model`, in force from `effective_at` until the model's next plan.

    Prices are non-negative Decimal USD per million tokens (6 decimal places at most).
    `effective_at` must be aware and on a 15-minute UTC boundary (…:00, :15, :30, :45,
    seconds zero), so that cost computed from the 15-minute rollups is exact; a second
    plan at the same time for the same model is refused. Refusals raise UsageRefused
    naming the field.

    A plan may not take effect before now, nor at or before the model's latest recorded
    usage, which may be dated up to a day ahead (`pricing_plan_in_the_past` either way):
    activity and the export price each event with the plans that exist when they are
    read, so such a plan would rewrite the cost of usage already recorded (SPEC §5.3).
    The one exception is a plan before the model's first plan: it prices only usage that
    had no price, so no cost already shown changes.
    """
    errors: dict[str, list[str]] = {}
    prices: dict[str, Decimal] = {}
    for field, value in (
        ("input_per_million", input_per_million),
        ("output_per_million", output_per_million),
        ("cached_per_million", cached_per_million),
    ):
        try:
            price = Decimal(str(value))
        except (InvalidOperation, ValueError, TypeError):
            errors[field] = ["A price is a decimal number of USD per million tokens."]
            continue
        if not price.is_finite() or price < 0 or price >= Decimal(10**8):
            errors[field] = ["A price is a non-negative amount below 100,000,000 USD."]
        elif price != price.quantize(Decimal("0.000001")):
            errors[field] = ["A price has at most 6 decimal places."]
        prices[field] = price
    if not isinstance(effective_at, datetime) or timezone.is_naive(effective_at):
        errors["effective_at"] = ["Give the time the plan takes effect with its offset."]
    elif not in_bounds(effective_at):
        errors["effective_at"] = [f"A plan takes effect {BOUNDS}."]
    elif effective_at.timestamp() % GRAIN_SECONDS:
        errors["effective_at"] = [
            "A plan takes effect on a quarter hour in UTC (…:00, :15, :30 or :45, zero "
            "seconds), so that cost is exact in every report."
        ]
    if errors:
        raise UsageRefused(
            f"The pricing plan is not valid: check {', '.join(errors)}.", errors=errors
        )
    with transaction.atomic(durable=True):
        # Lock the model: two plans posted at once must not both pass as "before the
        # first plan" (the second would then reprice what the first had just priced).
        # It also orders this plan against a batch of the model's usage: the batch's
        # foreign-key check takes a key-share lock on this row, so a batch either commits
        # before the latest-usage query below (and is seen) or after this plan.
        LlmModel.objects.select_for_update().filter(pk=model.pk).first()
        plans = PricingPlan.objects.filter(model=model)
        if plans.filter(effective_at=effective_at).exists():
            message = f"{model.name} already has a plan taking effect at that time."
            raise UsageRefused(
                message, code="pricing_plan_exists", errors={"effective_at": [message]}
            )
        first = plans.order_by("effective_at").values_list("effective_at", flat=True).first()
        if first is not None and effective_at >= first:  # before the first plan: no repricing
            _refuse_if_it_reprices(model, effective_at=effective_at, first=first)
        return PricingPlan.objects.create(
            model=model, effective_at=effective_at.astimezone(UTC), **prices
        )


def earliest_plan_time(now: datetime) -> datetime:
    """The first quarter hour at or after `now`: the earliest a new plan may take effect."""
    quarter, epoch = timedelta(seconds=GRAIN_SECONDS), datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + -(-(now - epoch) // quarter) * quarter


def quarter_hour_after(instant: datetime) -> datetime:
    """The first quarter hour strictly after `instant` (a plan from `instant` prices it)."""
    return earliest_plan_time(instant + timedelta(microseconds=1))


def _refuse_if_it_reprices(model: LlmModel, *, effective_at: datetime, first: datetime) -> None:
    """`pricing_plan_in_the_past` unless the plan starts from now on and after the model's
    latest recorded usage (which may be dated up to a day ahead, FUTURE_TOLERANCE)."""
    earliest = earliest_plan_time(timezone.now())
    latest_usage = UsageEvent.objects.filter(tenant=model.tenant_id, model=model).aggregate(
        latest=Max("occurred_at")
    )["latest"]
    held_by_usage = latest_usage is not None and quarter_hour_after(latest_usage) > earliest
    if held_by_usage:
        earliest = quarter_hour_after(latest_usage)
    if effective_at < earliest:
        message = _in_the_past_message(
            model,
            earliest=earliest,
            first=first,
            latest_usage=latest_usage if held_by_usage else None,
        )
        raise UsageRefused(
            message, code="pricing_plan_in_the_past", errors={"effective_at": [message]}
        )


def _in_the_past_message(
    model: LlmModel, *, earliest: datetime, first: datetime, latest_usage: datetime | None
) -> str:
    """Why `earliest` is the earliest: now, or (`latest_usage` given) usage dated ahead."""
    zone = model.tenant.zone

    def local(instant: datetime) -> str:
        return f"{instant.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"

    if latest_usage is not None:
        reason = (
            "A pricing plan cannot take effect before usage already recorded: "
            f"{model.name} has usage recorded up to {local(latest_usage)}, and it keeps the "
            "price it had."
        )
    else:
        reason = (
            "A pricing plan cannot take effect in the past: usage already recorded keeps "
            "the price it had."
        )
    return (
        f"{reason} Choose {local(earliest)} or later, or a time before the first plan of "
        f"{model.name} ({local(first)}), which only prices usage that had no price."
    )


def usage_events_record(*, tenant: Tenant, events: Sequence[Mapping]) -> EventsRecorded:
    """Store a batch (at most 1,000) of usage records, whole or not at all.

    Each record: `request_id` (str, idempotency key per tenant), `occurred_at` (aware
    datetime or ISO 8601 string with offset, at most a day ahead), `model` (the name of
    one of the tenant's models), `input_tokens`, `output_tokens`, `cached_tokens`
    (ints, 0 <= n < 2^31, default 0), optional `ticket` and `task` (ids of the tenant's;
    a record with only `task` takes the task's ticket, and one whose `ticket` is not its
    task's ticket is refused, also when the task has no ticket),
    `consumer` (str, or null), `succeeded` (bool, default true). A bad record raises
    UsageRefused naming its index and field; a request_id already stored is skipped
    (counted in `duplicates`), also when two batches race.
    """
    with transaction.atomic(durable=True):
        return usage_events_insert(tenant=tenant, events=events)


def usage_events_insert(*, tenant: Tenant, events: Sequence[Mapping]) -> EventsRecorded:
    """`usage_events_record` for callers that hold a transaction already (composes)."""
    parsed = _parse_events(tenant, events)
    with transaction.atomic(savepoint=False):
        created = _insert_new_events(tenant, parsed)
        _add_to_rollups(tenant, created)
    return EventsRecorded(
        received=len(parsed), created=len(created), duplicates=len(parsed) - len(created)
    )


@dataclass(frozen=True)
class _Event:
    request_id: str
    occurred_at: datetime
    model_id: int
    input_tokens: int
    output_tokens: int
    cached_tokens: int
    ticket_id: int | None
    task_id: int | None
    consumer: str
    succeeded: bool


def _parse_events(tenant: Tenant, events: Sequence[Mapping]) -> list[_Event]:
    """Check every record; raise one UsageRefused naming each bad record and field."""
    if not isinstance(events, Sequence) or isinstance(events, str | bytes):
        raise UsageRefused("Send the events as a list.", errors={"events": ["Expected a list."]})
    if not events:
        raise UsageRefused("The batch is empty.", errors={"events": ["Send 1 to 1000 events."]})
    if len(events) > MAX_BATCH:
        message = f"A batch holds at most {MAX_BATCH} events; this one has {len(events)}."
        raise UsageRefused(message, errors={"events": [message]})
    records = [record if isinstance(record, Mapping) else None for record in events]
    names = {r.get("model") for r in records if r and isinstance(r.get("model"), str)}
    models = dict(LlmModel.objects.filter(tenant=tenant, name__in=names).values_list("name", "id"))
    ticket_ids = {r.get("ticket") for r in records if r and _is_int(r.get("ticket"))}
    tickets = set(
        Ticket.objects.filter(tenant=tenant, id__in=ticket_ids).values_list("id", flat=True)
    )
    task_ids = {r.get("task") for r in records if r and _is_int(r.get("task"))}
    # Each task's ticket comes in the same query: an agent that reports only its task
    # is still working on the task's ticket, so its usage is costed (SPEC §5.1).
    task_tickets = dict(
        Task.objects.filter(tenant=tenant, id__in=task_ids).values_list("id", "ticket_id")
    )
    latest = timezone.now() + FUTURE_TOLERANCE
    errors: dict[str, dict[str, list[str]]] = {}
    parsed: list[_Event] = []
    seen: set[str] = set()
    for index, record in enumerate(records):
        problems: dict[str, str] = {}
        if record is None:
            errors[str(index)] = {"non_field_errors": ["Each event is a JSON object."]}
            continue
        for field in sorted(set(record) - EVENT_FIELDS):
            problems[field] = "Unknown field."
        request_id = record.get("request_id")
        if not isinstance(request_id, str) or not 0 < len(request_id) <= 200:
            problems["request_id"] = "A request_id of 1 to 200 characters is required."
        elif request_id in seen:
            problems["request_id"] = f"{request_id!r} appears twice in this batch."
        else:
            seen.add(request_id)
        occurred_at = _parse_time(record.get("occurred_at"))
        if occurred_at is None:
            problems["occurred_at"] = "An ISO 8601 time with an offset is required."
        elif occurred_at < EARLIEST:
            problems["occurred_at"] = "Tally keeps usage from 2000-01-01 (UTC) on; this is earlier."
        elif occurred_at > latest:
            problems["occurred_at"] = "This time is more than a day in the future."
        model = record.get("model")
        if not isinstance(model, str) or not model:
            problems["model"] = "The name of a model is required."
        elif model not in models:
            problems["model"] = f"No model named {model!r}: create it first (POST /api/v1/models/)."
        tokens = {}
        for field in ("input_tokens", "output_tokens", "cached_tokens"):
            value = record.get(field, 0 if field == "cached_tokens" else None)
            if not _is_int(value) or not 0 <= value <= TOKENS_LIMIT:
                problems[field] = f"A whole number from 0 to {TOKENS_LIMIT} is required."
            tokens[field] = value
        for field, known in (("ticket", tickets), ("task", task_tickets)):
            value = record.get(field)
            if value is not None and (not _is_int(value) or value not in known):
                problems[field] = f"No {field} with this id in your tenant."
        ticket, task = record.get("ticket"), record.get("task")
        if _is_int(task) and task in task_tickets and "ticket" not in problems:
            ticket, mismatch = _ticket_of_task(ticket, task=task, task_ticket=task_tickets[task])
            if mismatch:
                problems["ticket"] = mismatch
        consumer = record.get("consumer")
        consumer = "" if consumer is None else consumer  # null or left out: none given
        if not isinstance(consumer, str) or len(consumer) > 200:
            problems["consumer"] = "A consumer is a name (a string) of at most 200 characters."
        succeeded = record.get("succeeded", True)
        if not isinstance(succeeded, bool):
            problems["succeeded"] = "true or false."
        if problems:
            errors[str(index)] = {field: [message] for field, message in problems.items()}
            continue
        parsed.append(
            _Event(
                request_id=request_id,
                occurred_at=occurred_at.astimezone(UTC),
                model_id=models[model],
                ticket_id=ticket,
                task_id=task,
                consumer=consumer,
                succeeded=succeeded,
                **tokens,
            )
        )
    if errors:
        index, fields = next(iter(errors.items()))
        field, messages = next(iter(fields.items()))
        more = sum(len(f) for f in errors.values()) - 1
        detail = f"Event {index}, field {field}: {messages[0]} Nothing was stored."
        if more:
            detail += f" ({more} more problem{'s' if more > 1 else ''} listed in errors.)"
        raise UsageRefused(detail, errors={"events": errors})
    return parsed


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _ticket_of_task(ticket: int | None, *, task: int, task_ticket: int | None):
    """The event's ticket given its task: the task's when left out; (ticket, problem).

    A task with no ticket does not match a ticket either: costing its usage against one
    would guess which record is wrong.
    """
    if ticket is None or ticket == task_ticket:
        return task_ticket, None
    if task_ticket is None:
        return ticket, (
            f"Task {task} has no ticket, not {ticket}: leave ticket out, or send the usage on "
            "the ticket without the task."
        )
    return ticket, (
        f"Task {task} belongs to ticket {task_ticket}, not {ticket}: send the task's ticket "
        "or leave ticket out."
    )


def _parse_time(value) -> datetime | None:
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value)
        except ValueError:
            return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        return None
    return value


def _insert_new_events(tenant: Tenant, events: list[_Event]) -> list[_Event]:
    """Insert the events whose request_id is new; return those (the others were stored).

    ON CONFLICT DO NOTHING on the (tenant, request_id) unique index: a concurrent batch
    with the same ids waits for ours to commit and then skips them, so nothing is
    counted twice. Sorted, so two racing batches take index locks in the same order.
    """
    events = sorted(events, key=lambda event: event.request_id)
    table = connection.ops.quote_name(UsageEvent._meta.db_table)
    columns = (
        "tenant_id, request_id, occurred_at, model_id, input_tokens, output_tokens, "
        "cached_tokens, ticket_id, task_id, consumer, succeeded, received_at"
    )
    now = timezone.now()
    rows, params = [], []
    for e in events:
        rows.append("(%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)")
        params += [
            tenant.id,
            e.request_id,
            e.occurred_at,
            e.model_id,
            e.input_tokens,
            e.output_tokens,
            e.cached_tokens,
            e.ticket_id,
            e.task_id,
            e.consumer,
            e.succeeded,
            now,
        ]
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES {', '.join(rows)} "
        "ON CONFLICT (tenant_id, request_id) DO NOTHING RETURNING request_id"
    )
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        inserted = {row[0] for row in cursor.fetchall()}
    return [event for event in events if event.request_id in inserted]


_SUMS = ("input_tokens", "output_tokens", "cached_tokens", "succeeded_requests", "failed_requests")


def _add_to_rollups(tenant: Tenant, events: list[_Event]) -> None:
    """Add the new events to every rollup, in the caller's transaction."""
    by_model: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)
    by_consumer: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)
    by_ticket: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)
    for e in events:
        seconds = int(e.occurred_at.timestamp())
        sums = (
            e.input_tokens,
            e.output_tokens,
            e.cached_tokens,
            int(e.succeeded),
            int(not e.succeeded),
        )
        on_ticket = e.ticket_id is not None
        targets = [
            by_model[(grain, seconds - seconds % grain, e.model_id, on_ticket)]
            for grain in MODEL_GRAINS
        ]
        for grain in SUMMARY_GRAINS:
            start = seconds - seconds % grain
            targets.append(by_consumer[(grain, start, e.consumer)])
            if on_ticket:
                targets.append(by_ticket[(grain, start, e.ticket_id, e.model_id)])
        for target in targets:
            for i, value in enumerate(sums):
                target[i] += value
    _upsert(
        ModelRollup, ("grain_seconds", "grain_start", "model_id", "on_ticket"), tenant, by_model
    )
    _upsert(ConsumerRollup, ("grain_seconds", "grain_start", "consumer"), tenant, by_consumer)
    _upsert(
        TicketRollup, ("grain_seconds", "grain_start", "ticket_id", "model_id"), tenant, by_ticket
    )


def _upsert(model, key_columns: tuple[str, ...], tenant: Tenant, sums: dict) -> None:
    """INSERT ... ON CONFLICT DO UPDATE adding the sums (PostgreSQL and SQLite alike).

    Keys are sorted so concurrent batches lock rollup rows in one order (no deadlock).
    """
    if not sums:
        return
    table = connection.ops.quote_name(model._meta.db_table)
    columns = ("tenant_id", *key_columns, *_SUMS)
    placeholders = "(" + ", ".join(["%s"] * len(columns)) + ")"
    adds = ", ".join(f"{c} = {table}.{c} + excluded.{c}" for c in _SUMS)
    keys = sorted(sums)
    with connection.cursor() as cursor:
        for chunk_start in range(0, len(keys), 500):
            chunk = keys[chunk_start : chunk_start + 500]
            params = []
            for key in chunk:
                params += [tenant.id, *key, *sums[key]]
            cursor.execute(
                f"INSERT INTO {table} ({', '.join(columns)}) "
                f"VALUES {', '.join([placeholders] * len(chunk))} "
                f"ON CONFLICT (tenant_id, {', '.join(key_columns)}) DO UPDATE SET {adds}",
                params,
            )


def rollups_rebuild(*, tenant: Tenant) -> None:
    """Recompute the tenant's rollups from its raw events (after a bulk load, or a repair).

    Run it while nothing ingests for the tenant: a batch landing during the rebuild
    would be counted in the rollups twice or not at all.
    """
    with transaction.atomic(durable=True):
        rollups_rebuild_within(tenant_id=tenant.id)


def rollups_rebuild_within(*, tenant_id: int) -> None:
    """`rollups_rebuild` inside the caller's transaction (migrations use it)."""
    epoch = _epoch_sql("occurred_at")
    events = connection.ops.quote_name(UsageEvent._meta.db_table)
    sums = (
        "SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
        "SUM(CASE WHEN succeeded THEN 1 ELSE 0 END), SUM(CASE WHEN succeeded THEN 0 ELSE 1 END)"
    )
    targets = ", ".join(_SUMS)
    with transaction.atomic(savepoint=False), connection.cursor() as cursor:
        for rollup in (ModelRollup, ConsumerRollup, TicketRollup):
            rollup.objects.filter(tenant_id=tenant_id).delete()
        table = connection.ops.quote_name
        for grain in MODEL_GRAINS:
            cursor.execute(
                f"INSERT INTO {table(ModelRollup._meta.db_table)} "
                f"(tenant_id, grain_seconds, grain_start, model_id, on_ticket, {targets}) "
                f"SELECT tenant_id, {grain}, ({epoch} / {grain}) * {grain} AS g, model_id, "
                f"ticket_id IS NOT NULL AS t, {sums} FROM {events} WHERE tenant_id = %s "
                "GROUP BY tenant_id, g, model_id, t",
                [tenant_id],
            )
        for grain in SUMMARY_GRAINS:
            cursor.execute(
                f"INSERT INTO {table(ConsumerRollup._meta.db_table)} "
                f"(tenant_id, grain_seconds, grain_start, consumer, {targets}) "
                f"SELECT tenant_id, {grain}, ({epoch} / {grain}) * {grain} AS g, consumer, "
                f"{sums} FROM {events} WHERE tenant_id = %s GROUP BY tenant_id, g, consumer",
                [tenant_id],
            )
            cursor.execute(
                f"INSERT INTO {table(TicketRollup._meta.db_table)} "
                f"(tenant_id, grain_seconds, grain_start, ticket_id, model_id, {targets}) "
                f"SELECT tenant_id, {grain}, ({epoch} / {grain}) * {grain} AS g, ticket_id, "
                f"model_id, {sums} FROM {events} WHERE tenant_id = %s "
                "AND ticket_id IS NOT NULL GROUP BY tenant_id, g, ticket_id, model_id",
                [tenant_id],
            )


def _epoch_sql(column: str) -> str:
    """Whole Unix seconds of a datetime column, as an integer, per database."""
    if connection.vendor == "postgresql":
        return f"CAST(FLOOR(EXTRACT(EPOCH FROM {column})) AS BIGINT)"
    return f"CAST(strftime('%%s', {column}) AS INTEGER)"
