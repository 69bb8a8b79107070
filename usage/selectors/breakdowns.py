"""The facts an activity is assembled from: sums per bucket and model, consumer, ticket.

Each reader takes the whole grains from a rollup (one SQL query) and the partial edges
from the raw events read once for the activity (`RawEdges`).
"""

from collections import defaultdict
from datetime import UTC, datetime
from typing import NamedTuple

from licensing.models import Tenant
from tasks.models import Ticket
from usage.buckets import Buckets
from usage.models import ConsumerRollup, ModelRollup, TicketRollup
from usage.pricing import Cost
from usage.selectors.figures import Sums, TicketCost
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import SUMS_SQL, Pieces, RawEdges, query

TOP = 10
# Tickets ranked by an approximate (floating point) cost in SQL; the exact Decimal cost is
# then computed for this many candidates, so only near-ties at the 10th place could reorder.
_TICKET_CANDIDATES = 5 * TOP


class ModelFact(NamedTuple):
    bucket: int
    model_id: int
    on_ticket: bool
    period: int


class TicketFact(NamedTuple):
    ticket_id: int
    model_id: int
    period: int


def model_facts(
    tenant: Tenant, buckets: Buckets, periods: PlanPeriods, pieces: Pieces, raw: RawEdges
) -> dict[ModelFact, Sums]:
    """Sums per bucket, model, whether on a ticket, and plan period."""
    facts: dict[ModelFact, Sums] = defaultdict(Sums)
    if pieces.windows:
        key_sql, key_params = buckets.wall_key_sql("grain_start")
        stretch_sql, stretch_params = buckets.stretch_sql("grain_start")
        period_sql, period_params = periods.period_sql("grain_start")
        source, source_params = pieces.source(ModelRollup, tenant.id)
        rows = query(
            f"SELECT MIN(grain_start), model_id, on_ticket, {period_sql} AS period, {SUMS_SQL} "
            f"FROM {source} "
            f"GROUP BY {key_sql}, {stretch_sql + ', ' if stretch_sql else ''}model_id, on_ticket"
            + (", period" if period_params else ""),
            [*period_params, *source_params, *key_params, *stretch_params],
        )
        for first, model_id, on_ticket, period, *sums in rows:
            index = buckets.index(datetime.fromtimestamp(first, UTC))
            facts[ModelFact(index, model_id, bool(on_ticket), period)].add(Sums.of_row(sums))
    for event in raw.within(pieces.raw):
        at, model_id = event.occurred_at, event.model_id
        key = ModelFact(
            buckets.index(at),
            model_id,
            event.ticket_id is not None,
            periods.period_at(model_id, at),
        )
        facts[key].add(event.sums)
    return facts


def consumer_facts(tenant: Tenant, pieces: Pieces, raw: RawEdges) -> dict[str, Sums]:
    """Sums per consumer over the range."""
    facts: dict[str, Sums] = defaultdict(Sums)
    if pieces.windows:
        source, source_params = pieces.source(ConsumerRollup, tenant.id)
        for consumer, *sums in query(
            f"SELECT consumer, {SUMS_SQL} FROM {source} GROUP BY consumer", source_params
        ):
            facts[consumer].add(Sums.of_row(sums))
    for event in raw.within(pieces.raw):
        facts[event.consumer].add(event.sums)
    return facts


def ticket_facts(
    tenant: Tenant, periods: PlanPeriods, pieces: Pieces, raw: RawEdges
) -> dict[TicketFact, Sums]:
    """Sums per ticket, model and plan period of the tickets that can rank in the top.

    The partial edges come from raw events; the whole grains from the ticket rollup, for
    the best candidates by approximate cost plus every ticket seen in the edges.
    """
    facts: dict[TicketFact, Sums] = defaultdict(Sums)
    for event in raw.within(pieces.raw):
        if event.ticket_id is not None:
            period = periods.period_at(event.model_id, event.occurred_at)
            facts[TicketFact(event.ticket_id, event.model_id, period)].add(event.sums)
    if not pieces.windows:
        return facts
    source, source_params = pieces.source(TicketRollup, tenant.id)
    candidates = {fact.ticket_id for fact in facts} | _ticket_candidates(
        periods, source, source_params
    )
    if not candidates:
        return facts
    period_sql, period_params = periods.period_sql("grain_start")
    ids = sorted(candidates)
    for ticket_id, model_id, period, *sums in query(
        f"SELECT ticket_id, model_id, {period_sql} AS period, {SUMS_SQL} FROM {source} "
        f"WHERE ticket_id IN ({', '.join(['%s'] * len(ids))}) "
        "GROUP BY ticket_id, model_id" + (", period" if period_params else ""),
        [*period_params, *source_params, *ids],
    ):
        facts[TicketFact(ticket_id, model_id, period)].add(Sums.of_row(sums))
    return facts


def _ticket_candidates(periods: PlanPeriods, source: str, source_params: list) -> set[int]:
    """The tickets with the highest approximate cost in the whole grains."""
    cost_sql, cost_params = periods.approximate_cost_sql("grain_start")
    rows = query(
        f"SELECT ticket_id FROM {source} GROUP BY ticket_id "
        f"ORDER BY {cost_sql} DESC, ticket_id LIMIT {_TICKET_CANDIDATES}",
        [*source_params, *cost_params],
    )
    return {row[0] for row in rows}


def top_tickets(
    tenant: Tenant, periods: PlanPeriods, pieces: Pieces, raw: RawEdges
) -> tuple[TicketCost, ...]:
    """The TOP tickets by exact cost (then tokens, then id)."""
    sums: dict[int, Sums] = defaultdict(Sums)
    costs: dict[int, Cost] = defaultdict(Cost)
    for fact, fact_sums in ticket_facts(tenant, periods, pieces, raw).items():
        cost = periods.cost(fact.model_id, fact.period, fact_sums)
        if cost is None:
            continue  # unpriced usage is counted apart, never as $0
        sums[fact.ticket_id].add(fact_sums)
        costs[fact.ticket_id] += cost
    ranked = sorted(
        costs,
        key=lambda ticket_id: (-costs[ticket_id].total, -sums[ticket_id].tokens.total, ticket_id),
    )[:TOP]
    tickets = Ticket.objects.in_bulk(ranked)
    return tuple(
        TicketCost(
            ticket_id=ticket_id,
            external_id=tickets[ticket_id].external_id,
            subject=tickets[ticket_id].subject,
            tokens=sums[ticket_id].tokens,
            cost=costs[ticket_id],
        )
        for ticket_id in ranked
    )
