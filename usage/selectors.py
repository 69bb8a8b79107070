"""Reads about LLM usage: the activity of a range (Cost and Tokens) and the models list.

`plan_usage` lives in `usage/plan.py`.
"""

from bisect import bisect_right
from collections import defaultdict
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import Decimal, localcontext
from typing import Literal

from django.db import connection, transaction
from django.db.models import Q

from licensing.models import Tenant
from tasks.models import Ticket
from usage.buckets import Buckets, RangeRefused, buckets_for
from usage.models import (
    MODEL_GRAINS,
    SUMMARY_GRAINS,
    ConsumerRollup,
    LlmModel,
    ModelRollup,
    PricingPlan,
    TicketRollup,
    UsageEvent,
)

Mode = Literal["tokens", "cost"]
MODES: tuple[str, ...] = ("tokens", "cost")
TOP = 10


@dataclass(frozen=True)
class Tokens:
    """Token counts. `input` is uncached input; `cached` is input served from cache."""

    input: int = 0
    output: int = 0
    cached: int = 0

    @property
    def total(self) -> int:
        return self.input + self.output + self.cached

    @property
    def cached_share(self) -> Decimal | None:
        """cached / (input + cached), in [0, 1]; None when there was no input at all."""
        denominator = self.input + self.cached
        return None if denominator == 0 else Decimal(self.cached) / Decimal(denominator)


@dataclass(frozen=True)
class Cost:
    """Exact USD: the priced tokens of ticket-linked usage, split by kind of token."""

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.input + self.output + self.cached


@dataclass(frozen=True)
class Requests:
    succeeded: int = 0
    failed: int = 0

    @property
    def total(self) -> int:
        return self.succeeded + self.failed


@dataclass(frozen=True)
class SeriesPoint:
    """One bucket. `start`/`end` are aware, in the tenant's zone (`end` exclusive).

    `tokens`: all usage in the bucket (Tokens mode, stacked input/output/cached).
    `cost`: priced ticket-linked usage in the bucket (Cost mode, stacked by token kind).
    Both are always filled; an empty bucket has zeros.
    """

    start: datetime
    end: datetime
    tokens: Tokens
    cost: Cost
    requests: Requests


@dataclass(frozen=True)
class ModelUsage:
    """One model over the range. `tokens`/`requests` count all its usage;
    `cost` its priced ticket-linked usage; `unpriced_tokens` its ticket-linked usage
    with no plan in force; `unattributed_tokens` its usage not linked to a ticket."""

    model_id: int
    name: str
    provider: str
    tokens: Tokens
    requests: Requests
    cost: Cost
    unpriced_tokens: Tokens
    unattributed_tokens: Tokens


@dataclass(frozen=True)
class ConsumerUsage:
    """An agent or user name ('' = none given), ranked by total tokens."""

    consumer: str
    tokens: Tokens
    requests: Requests


@dataclass(frozen=True)
class TicketCost:
    """A ticket's priced usage in the range, ranked by cost (then tokens)."""

    ticket_id: int
    external_id: str
    subject: str
    tokens: Tokens
    cost: Cost


@dataclass(frozen=True)
class UncostedUsage:
    """Usage kept out of cost, by model, with a sentence naming why and what to do.

    In `Activity.unpriced`: linked to a ticket but no pricing plan in force, e.g.
    "Model gpt-x has no pricing plan: define one." In `Activity.unattributed`: not
    linked to a ticket ("... is not linked to a ticket, so it has no cost.").
    """

    model_id: int
    name: str
    tokens: Tokens
    requests: Requests
    message: str


@dataclass(frozen=True)
class Activity:
    """LLM usage of a tenant over `[start, end)`, bucketed in the tenant's zone.

    `mode` only says which view was asked for; every figure is filled in both modes:
    Tokens mode shows `series[i].tokens`, `tokens`, `cached_share`, `requests`;
    Cost mode shows `series[i].cost`, `cost`, and `unpriced`/`unattributed` apart
    (never as $0). `by_model` is sorted by cost then tokens in Cost mode, by tokens in
    Tokens mode; `top_consumers` by tokens (at most 10); `top_tickets` by cost (at most 10).
    """

    start: datetime
    end: datetime
    zone: str
    mode: str
    bucket: str  # "5m", "15m", "1h", "6h" or "1d"
    bucket_seconds: int
    series: tuple[SeriesPoint, ...]
    tokens: Tokens
    cost: Cost
    requests: Requests
    by_model: tuple[ModelUsage, ...]
    top_consumers: tuple[ConsumerUsage, ...]
    top_tickets: tuple[TicketCost, ...]
    unpriced: tuple[UncostedUsage, ...]
    unattributed: tuple[UncostedUsage, ...]

    @property
    def cached_share(self) -> Decimal | None:
        return self.tokens.cached_share


def activity(
    *, tenant: Tenant, start: datetime, end: datetime, mode: str, bucket: str = "auto"
) -> Activity:
    """The activity of `[start, end)` for `tenant` (SPEC §5.1).

    `start`/`end` are aware datetimes; `mode` is "tokens" or "cost"; `bucket` is
    "auto" (24 h -> 5m, 7 d -> 1h, 30 d -> 6h, longer -> 1d) or one of
    "5m", "15m", "1h", "6h", "1d". Raises `usage.buckets.RangeRefused` (a DomainError,
    400 `invalid_range`) for naive times, end not after start, an unknown bucket or
    mode, or more than 2,000 buckets. Cost is exact Decimal: tokens of ticket-linked
    usage priced by the model's plan in force at each event's time.
    """
    if mode not in MODES:
        raise RangeRefused(f"Unknown mode {mode!r}: use tokens or cost.", code="invalid_mode")
    buckets = buckets_for(start=start, end=end, zone=tenant.zone, bucket=bucket)
    models = {m.id: m for m in LlmModel.objects.filter(tenant=tenant)}
    pricing = _Pricing(models, buckets.start, buckets.end)
    with localcontext() as context, _serial_reads():
        context.prec = 60  # cost sums stay exact far beyond any real bill
        return _activity(tenant, buckets, mode, models, pricing)


@contextmanager
def _serial_reads():
    """On PostgreSQL, no parallel workers for the rollup reads: they are small index range
    scans, and starting workers costs more than it saves (much more on a busy machine)."""
    if connection.vendor != "postgresql":
        yield
        return
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SET LOCAL max_parallel_workers_per_gather = 0")
        yield


# Index of the token and request sums in every fact row.
_IN, _OUT, _CACHED, _OK, _FAILED = range(5)
_ZERO = (0, 0, 0, 0, 0)


def _tokens(sums) -> Tokens:
    return Tokens(input=sums[_IN], output=sums[_OUT], cached=sums[_CACHED])


def _requests(sums) -> Requests:
    return Requests(succeeded=sums[_OK], failed=sums[_FAILED])


def _add(target: list, sums) -> None:
    for i in range(5):
        target[i] += int(sums[i])  # PostgreSQL's SUM(bigint) is a numeric (Decimal)


class _Pricing:
    """The plans that can apply in `[start, end)`, per model.

    A fact's `period` counts the model's plans that took effect inside the range at or
    before the fact's time; period 0 is the plan in force at `start` (or none).
    """

    def __init__(self, models: dict, start: datetime, end: datetime) -> None:
        self.plans: dict[int, list[PricingPlan]] = defaultdict(list)
        for plan in PricingPlan.objects.filter(model__in=models).order_by("effective_at"):
            self.plans[plan.model_id].append(plan)
        self.start = start
        self.base: dict[int, PricingPlan | None] = {}
        self.changes: dict[int, list[PricingPlan]] = {}
        for model_id in models:
            plans = self.plans[model_id]
            times = [plan.effective_at for plan in plans]
            before = bisect_right(times, start)
            self.base[model_id] = plans[before - 1] if before else None
            self.changes[model_id] = [p for p in plans[before:] if p.effective_at < end]

    def period_sql(self, column: str) -> tuple[str, list]:
        parts, params = [], []
        for model_id, changes in self.changes.items():
            for plan in changes:
                parts.append(f"CASE WHEN model_id = %s AND {column} >= %s THEN 1 ELSE 0 END")
                params += [model_id, int(plan.effective_at.timestamp())]
        return ("(" + " + ".join(parts) + ")" if parts else "0"), params

    def approximate_cost_sql(self, column: str) -> tuple[str, list]:
        """SUM of the cost in floating point (for ranking only; never shown)."""
        cases: dict[str, list[str]] = {"input": [], "output": [], "cached": []}
        params: dict[str, list] = {"input": [], "output": [], "cached": []}
        for model_id in self.changes:
            in_force = [(plan, plan.effective_at) for plan in reversed(self.changes[model_id])]
            if self.base[model_id] is not None:
                in_force.append((self.base[model_id], None))
            for plan, since in in_force:
                for kind in cases:
                    price = float(getattr(plan, f"{kind}_per_million"))
                    if since is None:
                        cases[kind].append("WHEN model_id = %s THEN %s")
                        params[kind] += [model_id, price]
                    else:
                        cases[kind].append(f"WHEN model_id = %s AND {column} >= %s THEN %s")
                        params[kind] += [model_id, int(since.timestamp()), price]
        if not cases["input"]:
            return "SUM(0)", []  # not a bare 0: that would mean "column 0" in ORDER BY
        parts, values = [], []
        for kind in cases:
            # Floating point on purpose: numeric arithmetic would cost more and ranks the same.
            price = f"CAST(CASE {' '.join(cases[kind])} ELSE 0 END AS DOUBLE PRECISION)"
            parts.append(f"{kind}_tokens * {price}")
            values += params[kind]
        return "SUM(" + " + ".join(parts) + ")", values

    def cuts(self) -> list[int]:
        """Plan changes inside the range, in Unix seconds."""
        return [int(p.effective_at.timestamp()) for plans in self.changes.values() for p in plans]

    def period_at(self, model_id: int, instant: datetime) -> int:
        return sum(1 for plan in self.changes[model_id] if plan.effective_at <= instant)

    def plan(self, model_id: int, period: int) -> PricingPlan | None:
        return self.changes[model_id][period - 1] if period else self.base[model_id]

    def cost(self, model_id: int, period: int, sums) -> Cost | None:
        plan = self.plan(model_id, period)
        if plan is None:
            return None
        return Cost(
            input=(sums[_IN] * plan.input_per_million).scaleb(-6),
            output=(sums[_OUT] * plan.output_per_million).scaleb(-6),
            cached=(sums[_CACHED] * plan.cached_per_million).scaleb(-6),
        )


def _plus(a: Cost, b: Cost) -> Cost:
    return Cost(input=a.input + b.input, output=a.output + b.output, cached=a.cached + b.cached)


_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MICRO = timedelta(microseconds=1)


@dataclass(frozen=True)
class _Pieces:
    """A range cut into whole rollup grains and raw partial edges."""

    windows: list  # [(grain seconds, first grain start, end)] in Unix seconds
    raw: list  # [(start, end)] aware datetimes, half-open

    def source(self, model, tenant_id: int) -> tuple[str, list]:
        """The rollup rows of the windows, as a subquery `rollup`.

        UNION ALL, not OR: each branch is one range scan of the rollup's unique index.
        """
        table = connection.ops.quote_name(model._meta.db_table)
        branch = (
            f"SELECT * FROM {table} WHERE tenant_id = %s AND grain_seconds = %s "
            "AND grain_start >= %s AND grain_start < %s"
        )
        params = [value for window in self.windows for value in (tenant_id, *window)]
        return "(" + " UNION ALL ".join([branch] * len(self.windows)) + ") AS rollup", params


def _pieces(start: datetime, end: datetime, grains: tuple[int, ...], cuts=()) -> _Pieces:
    """Coarsest grains first, finer ones for what is left at the edges, raw events last.

    `cuts` (Unix seconds, e.g. plan changes) split the range first, so no rollup row read
    straddles one. Exact: bounds are integer microseconds.
    """
    low, high = (start - _EPOCH) // _MICRO, (end - _EPOCH) // _MICRO
    bounds = [low, *sorted({c * 10**6 for c in cuts if low < c * 10**6 < high}), high]
    windows: list[tuple[int, int, int]] = []
    raw: list[tuple[int, int]] = []

    def fill(a: int, b: int, sizes: tuple[int, ...]) -> None:
        if not sizes:
            raw.append((a, b))
            return
        size = sizes[0] * 10**6
        first, last = -(-a // size) * size, b // size * size
        if first >= last:
            fill(a, b, sizes[1:])
            return
        windows.append((sizes[0], first // 10**6, last // 10**6))
        if a < first:
            fill(a, first, sizes[1:])
        if last < b:
            fill(last, b, sizes[1:])

    for a, b in zip(bounds, bounds[1:], strict=False):
        fill(a, b, grains)
    return _Pieces(
        windows=windows,
        raw=[(_EPOCH + a * _MICRO, _EPOCH + b * _MICRO) for a, b in raw],
    )


def _model_grains(buckets: Buckets) -> tuple[int, ...]:
    """The grains whose rows never straddle a bucket: they divide the bucket, the zone's
    offsets and its offset changes in the range."""
    changes = [int(at.timestamp()) for at, _ in buckets.offsets[1:]]
    return tuple(
        grain
        for grain in MODEL_GRAINS
        if buckets.seconds % grain == 0
        and all(offset % grain == 0 for _, offset in buckets.offsets)
        and all(change % grain == 0 for change in changes)
    )


class _RawEdges:
    """The raw events of every partial edge of one activity, read in one query."""

    def __init__(self, tenant: Tenant, windows: list) -> None:
        self.rows: list[tuple] = []
        if not windows:
            return
        condition = Q()
        for low, high in set(windows):
            condition |= Q(occurred_at__gte=low, occurred_at__lt=high)
        self.rows = list(
            UsageEvent.objects.filter(condition, tenant=tenant)
            .order_by()
            .values_list(
                "occurred_at",
                "model_id",
                "ticket_id",
                "consumer",
                "input_tokens",
                "output_tokens",
                "cached_tokens",
                "succeeded",
            )
        )

    def within(self, windows: list) -> list[tuple]:
        return [row for row in self.rows if any(low <= row[0] < high for low, high in windows)]


def _raw_sums(row) -> tuple[int, ...]:
    return (row[4], row[5], row[6], int(row[7]), int(not row[7]))


_SUMS_SQL = (
    "SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens), "
    "SUM(succeeded_requests), SUM(failed_requests)"
)


def _query(sql: str, params: list) -> list[tuple]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _model_facts(tenant, buckets: Buckets, pricing: _Pricing, pieces, raw: _RawEdges) -> dict:
    """{(bucket index, model id, on a ticket, plan period): [5 sums]}."""
    facts: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)
    if pieces.windows:
        key_sql, key_params = buckets.wall_key_sql("grain_start")
        stretch_sql, stretch_params = buckets.stretch_sql("grain_start")
        period_sql, period_params = pricing.period_sql("grain_start")
        source, source_params = pieces.source(ModelRollup, tenant.id)
        rows = _query(
            f"SELECT MIN(grain_start), model_id, on_ticket, {period_sql} AS period, {_SUMS_SQL} "
            f"FROM {source} "
            f"GROUP BY {key_sql}, {stretch_sql + ', ' if stretch_sql else ''}model_id, on_ticket"
            + (", period" if period_params else ""),
            [*period_params, *source_params, *key_params, *stretch_params],
        )
        for first, model_id, on_ticket, period, *sums in rows:
            index = buckets.index(datetime.fromtimestamp(first, UTC))
            _add(facts[(index, model_id, bool(on_ticket), period)], sums)
    for row in raw.within(pieces.raw):
        at, model_id, ticket_id = row[0], row[1], row[2]
        key = (buckets.index(at), model_id, ticket_id is not None, pricing.period_at(model_id, at))
        _add(facts[key], _raw_sums(row))
    return facts


def _consumer_facts(tenant, pieces: _Pieces, raw: _RawEdges) -> dict:
    """{consumer: [5 sums]} over the range."""
    facts: dict[str, list[int]] = defaultdict(lambda: [0] * 5)
    if pieces.windows:
        source, source_params = pieces.source(ConsumerRollup, tenant.id)
        for consumer, *sums in _query(
            f"SELECT consumer, {_SUMS_SQL} FROM {source} GROUP BY consumer", source_params
        ):
            _add(facts[consumer], sums)
    for row in raw.within(pieces.raw):
        _add(facts[row[3]], _raw_sums(row))
    return facts


# Tickets ranked by an approximate (floating point) cost in SQL; the exact Decimal cost is
# then computed for this many candidates, so only near-ties at the 10th place could reorder.
_TICKET_CANDIDATES = 5 * TOP


def _ticket_facts(tenant, pricing: _Pricing, pieces: _Pieces, raw: _RawEdges) -> dict:
    """{(ticket id, model id, plan period): [5 sums]} of the tickets that can rank in the top.

    The partial edges come from raw events; the whole grains from the ticket rollup, for
    the best candidates by approximate cost plus every ticket seen in the edges.
    """
    facts: dict[tuple, list[int]] = defaultdict(lambda: [0] * 5)
    for row in raw.within(pieces.raw):
        at, model_id, ticket_id = row[0], row[1], row[2]
        if ticket_id is not None:
            _add(facts[(ticket_id, model_id, pricing.period_at(model_id, at))], _raw_sums(row))
    if not pieces.windows:
        return facts
    source, source_params = pieces.source(TicketRollup, tenant.id)
    cost_sql, cost_params = pricing.approximate_cost_sql("grain_start")
    candidates = {ticket_id for ticket_id, _, _ in facts}
    candidates.update(
        row[0]
        for row in _query(
            f"SELECT ticket_id FROM {source} GROUP BY ticket_id "
            f"ORDER BY {cost_sql} DESC, ticket_id LIMIT {_TICKET_CANDIDATES}",
            [*source_params, *cost_params],
        )
    )
    if not candidates:
        return facts
    period_sql, period_params = pricing.period_sql("grain_start")
    ids = sorted(candidates)
    for ticket_id, model_id, period, *sums in _query(
        f"SELECT ticket_id, model_id, {period_sql} AS period, {_SUMS_SQL} FROM {source} "
        f"WHERE ticket_id IN ({', '.join(['%s'] * len(ids))}) "
        "GROUP BY ticket_id, model_id" + (", period" if period_params else ""),
        [*period_params, *source_params, *ids],
    ):
        _add(facts[(ticket_id, model_id, period)], sums)
    return facts


def _activity(tenant, buckets: Buckets, mode: str, models, pricing) -> Activity:
    zero_cost = Cost()
    count = len(buckets)
    bucket_sums = [[0] * 5 for _ in range(count)]
    bucket_costs = [zero_cost] * count
    model_sums: dict[int, list[int]] = defaultdict(lambda: [0] * 5)
    model_costs: dict[int, Cost] = defaultdict(Cost)
    unpriced: dict[int, list[int]] = defaultdict(lambda: [0] * 5)
    unattributed: dict[int, list[int]] = defaultdict(lambda: [0] * 5)
    model_pieces = _pieces(buckets.start, buckets.end, _model_grains(buckets), pricing.cuts())
    consumer_pieces = _pieces(buckets.start, buckets.end, SUMMARY_GRAINS)
    ticket_pieces = _pieces(buckets.start, buckets.end, SUMMARY_GRAINS, pricing.cuts())
    raw = _RawEdges(tenant, [*model_pieces.raw, *consumer_pieces.raw, *ticket_pieces.raw])
    for (index, model_id, on_ticket, period), sums in _model_facts(
        tenant, buckets, pricing, model_pieces, raw
    ).items():
        _add(bucket_sums[index], sums)
        _add(model_sums[model_id], sums)
        if not on_ticket:
            _add(unattributed[model_id], sums)
            continue
        cost = pricing.cost(model_id, period, sums)
        if cost is None:
            _add(unpriced[model_id], sums)
        else:
            bucket_costs[index] = _plus(bucket_costs[index], cost)
            model_costs[model_id] = _plus(model_costs[model_id], cost)

    zone = buckets.zone
    series = tuple(
        SeriesPoint(
            start=buckets.edges[i].astimezone(zone),
            end=buckets.bucket_end(i).astimezone(zone),
            tokens=_tokens(bucket_sums[i]),
            cost=bucket_costs[i],
            requests=_requests(bucket_sums[i]),
        )
        for i in range(count)
    )
    total = [0] * 5
    for sums in bucket_sums:
        _add(total, sums)
    total_cost = zero_cost
    for cost in model_costs.values():
        total_cost = _plus(total_cost, cost)

    by_model = [
        ModelUsage(
            model_id=model_id,
            name=models[model_id].name,
            provider=models[model_id].provider,
            tokens=_tokens(sums),
            requests=_requests(sums),
            cost=model_costs.get(model_id, zero_cost),
            unpriced_tokens=_tokens(unpriced.get(model_id, _ZERO)),
            unattributed_tokens=_tokens(unattributed.get(model_id, _ZERO)),
        )
        for model_id, sums in model_sums.items()
    ]
    if mode == "cost":
        by_model.sort(key=lambda m: (-m.cost.total, -m.tokens.total, m.name))
    else:
        by_model.sort(key=lambda m: (-m.tokens.total, m.name))

    consumers = sorted(
        (
            ConsumerUsage(consumer=name, tokens=_tokens(sums), requests=_requests(sums))
            for name, sums in _consumer_facts(tenant, consumer_pieces, raw).items()
        ),
        key=lambda c: (-c.tokens.total, c.consumer),
    )[:TOP]

    return Activity(
        start=buckets.start.astimezone(zone),
        end=buckets.end.astimezone(zone),
        zone=zone.key,
        mode=mode,
        bucket=buckets.name,
        bucket_seconds=buckets.seconds,
        series=series,
        tokens=_tokens(total),
        cost=total_cost,
        requests=_requests(total),
        by_model=tuple(by_model),
        top_consumers=tuple(consumers),
        top_tickets=_top_tickets(tenant, pricing, ticket_pieces, raw),
        unpriced=tuple(
            UncostedUsage(
                model_id=model_id,
                name=models[model_id].name,
                tokens=_tokens(sums),
                requests=_requests(sums),
                message=_unpriced_message(models[model_id], pricing),
            )
            for model_id, sums in sorted(unpriced.items(), key=lambda i: models[i[0]].name)
        ),
        unattributed=tuple(
            UncostedUsage(
                model_id=model_id,
                name=models[model_id].name,
                tokens=_tokens(sums),
                requests=_requests(sums),
                message=f"Usage of {models[model_id].name} is not linked to a ticket, "
                "so it has no cost.",
            )
            for model_id, sums in sorted(unattributed.items(), key=lambda i: models[i[0]].name)
        ),
    )


def _unpriced_message(model: LlmModel, pricing: _Pricing) -> str:
    plans = pricing.plans[model.id]
    if not plans:
        return f"Model {model.name} has no pricing plan: define one."
    first = plans[0].effective_at.astimezone(UTC)
    return (
        f"Model {model.name} has no pricing plan before {first:%Y-%m-%d %H:%M} UTC: "
        "define one that starts earlier."
    )


def _top_tickets(tenant, pricing: _Pricing, pieces, raw: _RawEdges) -> tuple[TicketCost, ...]:
    per_ticket: dict[int, list] = {}
    for (ticket_id, model_id, period), sums in _ticket_facts(tenant, pricing, pieces, raw).items():
        cost = pricing.cost(model_id, period, sums)
        if cost is None:
            continue  # unpriced usage is counted apart, never as $0
        entry = per_ticket.setdefault(ticket_id, [[0] * 5, Cost()])
        _add(entry[0], sums)
        entry[1] = _plus(entry[1], cost)
    ranked = sorted(
        per_ticket.items(), key=lambda item: (-item[1][1].total, -sum(item[1][0][:3]), item[0])
    )[:TOP]
    tickets = Ticket.objects.in_bulk([ticket_id for ticket_id, _ in ranked])
    return tuple(
        TicketCost(
            ticket_id=ticket_id,
            external_id=tickets[ticket_id].external_id,
            subject=tickets[ticket_id].subject,
            tokens=_tokens(sums),
            cost=cost,
        )
        for ticket_id, (sums, cost) in ranked
    )


def llm_model_list(*, tenant: Tenant):
    """The tenant's models by name, with `pricing_plans` prefetched (oldest first)."""
    return LlmModel.objects.filter(tenant=tenant).prefetch_related("pricing_plans").order_by("name")
