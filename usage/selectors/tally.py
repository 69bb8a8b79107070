"""`model_tally`: the model rollup of a range summed per bucket and per model, priced.

The one place that sorts usage into ticket-linked cost, unattributed spend and unpriced
(SPEC §5.1), for `activity`, the history's cycles and the cycle summary.

Priced in SQL, in integers
--------------------------
A bucket's cost needs each row's price (its model's plan at its time), so the buckets
read one row per grain, model and ticket-or-not: 2,600 rows for the 24 h preset. Read
into Python and priced there they were most of the activity's time; now one statement
prices each row with a CASE of integer picodollar prices (`PlanPeriods.pico_price_sql`)
and sums per bucket in bigint (exact; numeric if a sum would not fit, `exact_reads`),
returning ~300 rows. The per-model totals read the coarsest grains that fit, and are
priced once per model and plan period in Decimal. Figures in `bench/activity.py` part 1.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from functools import partial
from operator import add

from licensing.models import Tenant
from usage.buckets import Buckets
from usage.models import ModelRollup
from usage.pricing import KINDS, Cost, pico_cost
from usage.selectors.figures import Sums
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import (
    NOTHING,
    ROW_SUMS_SQL,
    SUM_COLUMNS,
    SUMS_SQL,
    Pieces,
    RawEdges,
    RawEvent,
    Read,
    exact_read,
)


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
    *,
    totals: Pieces | None = None,
    apart: bool = True,
) -> Read[ModelTally]:
    """The read of the tally of the model rollup's whole grains in `pieces` (of one model,
    when `model_id` is given) and of the raw events at their partial edges (`raw`, read
    before it in the same `read_together`). The per-model totals read `totals` if given:
    the same range in coarser grains (whole hours or days, where the buckets need 5
    minutes). `apart=False` leaves out the per-bucket unattributed spend and unpriced sums
    (cheaper: `activity` shows them per model only)."""
    totals = totals or pieces

    def made(rows: list[tuple]) -> ModelTally:
        counter = _Counter(len(buckets), periods, apart)
        edges = [int(edge.timestamp()) for edge in buckets.edges]  # whole seconds but the first
        for per_bucket, first, row_model, on_ticket, period, *values in rows:
            if per_bucket:
                counter.add_bucket(bisect_right(edges, first) - 1, values)
            else:
                counter.add_model(row_model, bool(on_ticket), period, values[:5])
        for event, period in _with_periods(raw.within(pieces.raw), periods):
            on_ticket = event.ticket_id is not None
            index = buckets.index(event.occurred_at)
            counter.add_event(index, event.model_id, on_ticket, period, event.sums.values())
        for event, period in _with_periods(raw.within(totals.raw), periods):
            on_ticket = event.ticket_id is not None
            counter.add_model(event.model_id, on_ticket, period, event.sums.values())
        return counter.tally()

    statement = partial(_rollup_sums, tenant, buckets, periods, pieces, totals, model_id, apart)
    return exact_read(statement, made)


def _with_periods(events: list[RawEvent], periods: PlanPeriods) -> Iterator[tuple]:
    for event in events:
        yield event, periods.period_at(event.model_id, event.occurred_at)


def _rollup_sums(
    tenant: Tenant,
    buckets: Buckets,
    periods: PlanPeriods,
    pieces: Pieces,
    totals: Pieces,
    model_id: int | None,
    apart: bool,
    sql_type: str,
) -> tuple[str, list]:
    """Two kinds of row, the first column true for the first kind: per bucket (by its
    earliest grain), the sums, then in picodollars by kind the ticket-linked cost and
    (`apart`) the unattributed spend, then (`apart`) the unpriced sums; per model, ticket-
    or-not and plan period, the sums (priced in Decimal once each, in `_Counter.tally`).

    Pricing in SQL: the rows are summed there anyway, and one statement of ~300 rows
    costs less than reading the ~2,600 rows of a day's 5-minute grains."""

    def total(value: str, where: str, sql_type: str = sql_type) -> str:
        return f"CAST(COALESCE(SUM({value}) FILTER (WHERE {where}), 0) AS {sql_type})"

    costs = [f"{kind}_tokens * {kind}_price" for kind in KINDS]
    figures = [total(cost, "on_ticket") for cost in costs]
    if apart:
        figures += [total(cost, "NOT on_ticket") for cost in costs]
        figures += [total(column, "input_price IS NULL", "BIGINT") for column in SUM_COLUMNS]
    branches: list[tuple[str, list]] = []
    if pieces.windows:
        source, source_params = pieces.source(ModelRollup, tenant.id, model_id)
        prices = periods.pico_price_columns("grain_start", sql_type)
        group_sql, group_params = _bucket_group(buckets, pieces)
        branches.append(
            (
                f"SELECT TRUE, MIN(grain_start), NULL, NULL, NULL, {SUMS_SQL}, "
                f"{', '.join(figures)} FROM (SELECT grain_start, on_ticket, {ROW_SUMS_SQL}, "
                f"{prices} FROM {source}) AS piece GROUP BY {group_sql}",
                [*source_params, *group_params],
            )
        )
    if totals.windows:
        source, source_params = totals.source(ModelRollup, tenant.id, model_id)
        branches.append(
            (
                f"SELECT FALSE, NULL, model_id, on_ticket, {periods.period_sql('grain_start')} "
                f"AS period, {SUMS_SQL}, {', '.join(['NULL'] * len(figures))} FROM {source} "
                "GROUP BY model_id, on_ticket, period",
                source_params,
            )
        )
    if not branches:
        return NOTHING
    return (
        " UNION ALL ".join(sql for sql, _ in branches),
        [param for _, params in branches for param in params],
    )


def _bucket_group(buckets: Buckets, pieces: Pieces) -> tuple[str, list]:
    """GROUP BY of the bucket rows: by grain when the buckets are the grains read (24 h
    in 5 minutes: summed in the index's order, no hash table), else by wall-clock bucket
    and offset stretch (a group never spans two buckets; `index` of its first grain)."""
    same = all(window.grain_seconds == buckets.seconds for window in pieces.windows)
    if same and not buckets.by_edges:  # (months are by their edges: one group per month)
        return "grain_start", []
    key_sql, key_params = buckets.wall_key_sql("grain_start")
    stretch_sql, stretch_params = buckets.stretch_sql("grain_start")
    return key_sql + (f", {stretch_sql}" if stretch_sql else ""), [*key_params, *stretch_params]


class _Counter:
    """Plain integer sums per bucket and per (model, ticket-or-not, period), cost in
    picodollars; made into `Sums` and `Cost` once, in `tally`."""

    def __init__(self, size: int, periods: PlanPeriods, apart: bool) -> None:
        self.periods, self.apart = periods, apart
        self.prices = periods.pico_prices
        # Per bucket: 5 sums, ticket-linked picos by kind (3), unattributed (3), unpriced (5).
        self.buckets = [[0] * 16 for _ in range(size)]
        self.per_model: dict[tuple[int, bool, int], list[int]] = {}

    def add_bucket(self, index: int, values: list[int]) -> None:
        """Sums of rows of one bucket, laid out as `self.buckets` rows are (the first
        positions only, if fewer: the others stay 0)."""
        bucket = self.buckets[index]
        bucket[: len(values)] = map(add, bucket, values)  # (map stops at the shorter)

    def add_model(self, model_id: int, on_ticket: bool, period: int, sums) -> None:
        key = (model_id, on_ticket, period)
        model = self.per_model.get(key)
        if model is None:
            self.per_model[key] = list(sums)
        else:
            model[:] = map(add, model, sums)

    def add_event(self, index: int, model_id: int, on_ticket: bool, period: int, sums) -> None:
        """One raw event, to its bucket (its model's totals: `add_model`)."""
        price = self.prices.get((model_id, period))
        if price is None:  # on a ticket or not: no plan prices it
            self.add_bucket(index, [*sums, *[0] * 6, *sums])
            return
        inp, out, cached = sums[:3]
        picos = [inp * price.input, out * price.output, cached * price.cached]
        none = [0] * 3
        self.add_bucket(index, [*sums, *(picos + none if on_ticket else none + picos)])

    def tally(self) -> ModelTally:
        buckets = self.buckets
        tally = ModelTally(
            [Sums(b[0], b[1], b[2], b[3], b[4]) for b in buckets],  # no slices: ~300 a read
            [pico_cost(b[5], b[6], b[7]) for b in buckets],
        )
        for index, bucket in enumerate(buckets if self.apart else ()):
            if any(bucket[8:11]):
                tally.bucket_unattributed_costs[index] = pico_cost(*bucket[8:11])
            if any(bucket[11:]):
                tally.bucket_unpriced[index] = Sums(*bucket[11:])
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
