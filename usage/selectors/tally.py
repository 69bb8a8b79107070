"""`model_tally`: the model rollup of a range summed per bucket and per model, priced.

The one place that sorts usage into ticket-linked cost, unattributed spend and unpriced
(SPEC §5.1), for `activity`, the history's cycles and the cycle summary.

Why integers
------------
A bucket's cost needs each model's price in each plan period, so the read is one row per
bucket, model, ticket-or-not and plan period: 2,600 rows for the 24 h preset. Made into
objects and priced in Decimal, they were most of the activity's time; summed as plain
integers (tokens, requests, and cost in picodollars, `pricing.PicoPrices`) they are a small
part, and exact all the same. Pricing in SQL instead was slower: PostgreSQL's numeric
aggregates over those rows cost more than this loop. Figures in `bench/activity.py` part 1.
"""

from bisect import bisect_right
from collections import defaultdict
from dataclasses import dataclass, field

from licensing.models import Tenant
from usage.buckets import Buckets
from usage.models import ModelRollup
from usage.pricing import Cost, pico_cost
from usage.selectors.figures import Sums
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import ROW_SUMS_SQL, SUMS_SQL, Pieces, RawEdges, query


@dataclass
class ModelTally:
    """The usage of a range per bucket and per model: sums, ticket-linked cost,
    unattributed spend (priced, on no ticket) and unpriced usage (no plan), apart."""

    bucket_sums: list[Sums]
    bucket_costs: list[Cost]
    bucket_unpriced: dict[int, Sums] = field(default_factory=lambda: defaultdict(Sums))
    bucket_unattributed_costs: dict[int, Cost] = field(default_factory=lambda: defaultdict(Cost))
    model_sums: dict[int, Sums] = field(default_factory=lambda: defaultdict(Sums))
    model_costs: dict[int, Cost] = field(default_factory=lambda: defaultdict(Cost))
    unpriced: dict[int, Sums] = field(default_factory=lambda: defaultdict(Sums))
    unattributed: dict[int, Sums] = field(default_factory=lambda: defaultdict(Sums))
    unattributed_costs: dict[int, Cost] = field(default_factory=lambda: defaultdict(Cost))


def model_tally(
    tenant: Tenant,
    buckets: Buckets,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    model_id: int | None = None,
) -> ModelTally:
    """The tally of the model rollup's whole grains in `pieces` (of one model, when
    `model_id` is given) and of the raw events at its partial edges."""
    counter = _Counter(len(buckets), periods)
    if pieces.windows:
        edges = [int(edge.timestamp()) for edge in buckets.edges]  # whole seconds but the first
        for first, row_model, on_ticket, period, *values in _rollup_rows(
            tenant, buckets, periods, pieces, model_id
        ):
            counter.add(bisect_right(edges, first) - 1, row_model, bool(on_ticket), period, values)
    for event in raw.within(pieces.raw):
        at, event_model = event.occurred_at, event.model_id
        period = periods.period_at(event_model, at)
        on_ticket = event.ticket_id is not None
        counter.add(buckets.index(at), event_model, on_ticket, period, event.sums.values())
    return counter.tally()


def _rollup_rows(
    tenant: Tenant, buckets: Buckets, periods: PlanPeriods, pieces: Pieces, model_id: int | None
) -> list[tuple]:
    """Sums per bucket (by its earliest grain), model, ticket-or-not and plan period; or the
    rows themselves when the coarsest grain read is the bucket (one row per group: summing
    them in SQL cost more than reading them, 4.6 against 1.8 ms for the 24 h preset)."""
    period_sql, period_params = periods.period_sql("grain_start")
    source, source_params = pieces.source(ModelRollup, tenant.id, model_id)
    if max(window.grain_seconds for window in pieces.windows) == buckets.seconds:
        return query(
            f"SELECT grain_start, model_id, on_ticket, {period_sql}, {ROW_SUMS_SQL} FROM {source}",
            [*period_params, *source_params],
        )
    key_sql, key_params = buckets.wall_key_sql("grain_start")
    stretch_sql, stretch_params = buckets.stretch_sql("grain_start")
    return query(
        f"SELECT MIN(grain_start), model_id, on_ticket, {period_sql} AS period, {SUMS_SQL} "
        f"FROM {source} "
        f"GROUP BY {key_sql}, {stretch_sql + ', ' if stretch_sql else ''}model_id, on_ticket"
        + (", period" if period_params else ""),
        [*period_params, *source_params, *key_params, *stretch_params],
    )


class _Counter:
    """Plain integer sums per bucket and per (model, ticket-or-not, period), cost in
    picodollars; made into `Sums` and `Cost` once, in `tally`."""

    def __init__(self, size: int, periods: PlanPeriods) -> None:
        self.periods = periods
        self.prices = periods.pico_prices()
        self.sums = [[0] * 5 for _ in range(size)]
        self.costs = [[0] * 3 for _ in range(size)]
        self.unattributed_costs = [[0] * 3 for _ in range(size)]
        self.unpriced: dict[int, list[int]] = {}
        self.per_model: dict[tuple[int, bool, int], list[int]] = {}

    def add(self, index: int, model_id: int, on_ticket: bool, period: int, values) -> None:
        inp, out, cached, succeeded, failed = values
        sums = self.sums[index]
        sums[0] += inp
        sums[1] += out
        sums[2] += cached
        sums[3] += succeeded
        sums[4] += failed
        key = (model_id, on_ticket, period)
        model = self.per_model.get(key)
        if model is None:
            model = self.per_model[key] = [0] * 5
        model[0] += inp  # unrolled: this runs for every row read (thousands per range)
        model[1] += out
        model[2] += cached
        model[3] += succeeded
        model[4] += failed
        price = self.prices.get((model_id, period))
        if price is None:  # on a ticket or not: no plan prices it
            unpriced = self.unpriced.setdefault(index, [0] * 5)
            for position, value in enumerate(values):
                unpriced[position] += value
            return
        cost = self.costs[index] if on_ticket else self.unattributed_costs[index]
        cost[0] += inp * price.input
        cost[1] += out * price.output
        cost[2] += cached * price.cached

    def tally(self) -> ModelTally:
        tally = ModelTally(
            [Sums(*sums) for sums in self.sums], [pico_cost(*cost) for cost in self.costs]
        )
        for index, picos in enumerate(self.unattributed_costs):
            if any(picos):
                tally.bucket_unattributed_costs[index] = pico_cost(*picos)
        for index, unpriced in self.unpriced.items():
            tally.bucket_unpriced[index] = Sums(*unpriced)
        # A sum of exact products is the product of the sum: each model priced once per period.
        for (model_id, on_ticket, period), values in self.per_model.items():
            sums = Sums(*values)
            tally.model_sums[model_id].add(sums)
            cost = self.periods.cost(model_id, period, sums)
            if cost is None:
                tally.unpriced[model_id].add(sums)
            elif on_ticket:
                tally.model_costs[model_id] += cost
            else:
                tally.unattributed[model_id].add(sums)
                tally.unattributed_costs[model_id] += cost
        return tally
