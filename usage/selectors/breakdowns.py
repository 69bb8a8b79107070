"""The facts an activity is assembled from: sums per bucket and model, consumer, host, ticket.

Each reader takes the whole grains from a rollup (one SQL query) and the partial edges
from the raw events read once for the activity (`RawEdges`). A filter by model narrows
the rollup rows read (`model_id`); a filter no rollup serves reads no rollup at all
(its pieces have no windows, only raw events).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import NamedTuple

from licensing.models import Tenant
from tasks.models import Ticket
from usage.buckets import Buckets
from usage.models import ConsumerRollup, HostRollup, ModelRollup, TicketRollup
from usage.pricing import Cost
from usage.selectors.figures import Sums, TicketCost
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import SUMS_SQL, Pieces, RawEdges, query

TOP = 10
# Tickets ranked by an approximate (floating point) cost in SQL; the exact Decimal cost is
# then computed for this many candidates per ten rows asked, so only near-ties at the last
# place asked could reorder.
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


class SummaryFact(NamedTuple):
    """A consumer's or a host's usage of one model in one plan period."""

    key: object  # the consumer ('' none given), the host id (None: no host), a ticket id
    model_id: int
    period: int


@dataclass
class Summary:
    """A consumer's, host's, provider's or ticket's usage summed over its models and plan
    periods: its sums, the whole bill of its priced part, and its unpriced part."""

    sums: Sums = field(default_factory=Sums)
    cost: Cost = field(default_factory=Cost)  # every priced token: its whole bill
    unpriced: Sums = field(default_factory=Sums)


def priced_summaries(facts: dict[SummaryFact, Sums], periods: PlanPeriods) -> dict:
    """Each key's `Summary`, its facts priced by model and plan period (`PlanPeriods.cost`)."""
    summaries: dict = defaultdict(Summary)
    for fact, sums in facts.items():
        summary = summaries[fact.key]
        summary.sums.add(sums)
        cost = periods.cost(fact.model_id, fact.period, sums)
        if cost is None:
            summary.unpriced.add(sums)  # counted apart, never as $0
        else:
            summary.cost += cost
    return summaries


def model_facts(
    tenant: Tenant,
    buckets: Buckets,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    model_id: int | None = None,
) -> dict[ModelFact, Sums]:
    """Sums per bucket, model, whether on a ticket, and plan period."""
    facts: dict[ModelFact, Sums] = defaultdict(Sums)
    if pieces.windows:
        key_sql, key_params = buckets.wall_key_sql("grain_start")
        stretch_sql, stretch_params = buckets.stretch_sql("grain_start")
        period_sql, period_params = periods.period_sql("grain_start")
        source, source_params = pieces.source(ModelRollup, tenant.id, model_id)
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


# The summary rollups by what they break usage down by: (rollup, its column, RawEvent's).
_SUMMARIES = {
    "consumer": (ConsumerRollup, "consumer", "consumer"),
    "host": (HostRollup, "host_id", "host_id"),
    # The ticket rollup holds ticket-linked usage only: raw events with no ticket are left out.
    "ticket": (TicketRollup, "ticket_id", "ticket_id"),
}


def summary_facts(
    tenant: Tenant,
    by: str,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    model_id: int | None = None,
) -> dict[SummaryFact, Sums]:
    """Sums per consumer (`by="consumer"`), host (`by="host"`) or ticket (`by="ticket"`),
    model and plan period: every key of the range (no top)."""
    rollup, column, attribute = _SUMMARIES[by]
    facts: dict[SummaryFact, Sums] = defaultdict(Sums)
    if pieces.windows:
        period_sql, period_params = periods.period_sql("grain_start")
        source, source_params = pieces.source(rollup, tenant.id, model_id)
        for key, fact_model_id, period, *sums in query(
            f"SELECT {column}, model_id, {period_sql} AS period, {SUMS_SQL} FROM {source} "
            f"GROUP BY {column}, model_id" + (", period" if period_params else ""),
            [*period_params, *source_params],
        ):
            facts[SummaryFact(key, fact_model_id, period)].add(Sums.of_row(sums))
    for event in raw.within(pieces.raw):
        key = getattr(event, attribute)
        if key is None and by == "ticket":
            continue
        period = periods.period_at(event.model_id, event.occurred_at)
        facts[SummaryFact(key, event.model_id, period)].add(event.sums)
    return facts


def ticket_facts(
    tenant: Tenant,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    *,
    candidates: int,
    model_id: int | None = None,
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
    source, source_params = pieces.source(TicketRollup, tenant.id, model_id)
    ranked = {fact.ticket_id for fact in facts} | _ticket_candidates(
        periods, source, source_params, candidates
    )
    if not ranked:
        return facts
    period_sql, period_params = periods.period_sql("grain_start")
    ids = sorted(ranked)
    for ticket_id, model_id, period, *sums in query(
        f"SELECT ticket_id, model_id, {period_sql} AS period, {SUMS_SQL} FROM {source} "
        f"WHERE ticket_id IN ({', '.join(['%s'] * len(ids))}) "
        "GROUP BY ticket_id, model_id" + (", period" if period_params else ""),
        [*period_params, *source_params, *ids],
    ):
        facts[TicketFact(ticket_id, model_id, period)].add(Sums.of_row(sums))
    return facts


def _ticket_candidates(
    periods: PlanPeriods, source: str, source_params: list, limit: int
) -> set[int]:
    """The `limit` tickets with the highest approximate cost in the whole grains."""
    cost_sql, cost_params = periods.approximate_cost_sql("grain_start")
    rows = query(
        f"SELECT ticket_id FROM {source} GROUP BY ticket_id "
        f"ORDER BY {cost_sql} DESC, ticket_id LIMIT {int(limit)}",
        [*source_params, *cost_params],
    )
    return {row[0] for row in rows}


def top_tickets(
    tenant: Tenant,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    *,
    rows: int = TOP,
    model_id: int | None = None,
) -> tuple[TicketCost, ...]:
    """The first `rows` tickets by exact cost (then tokens, then id), and one more when
    there are more (so a caller can offer the next ones)."""
    sums: dict[int, Sums] = defaultdict(Sums)
    costs: dict[int, Cost] = defaultdict(Cost)
    candidates = _TICKET_CANDIDATES * -(-(rows + 1) // TOP)
    facts = ticket_facts(tenant, periods, pieces, raw, candidates=candidates, model_id=model_id)
    for fact, fact_sums in facts.items():
        cost = periods.cost(fact.model_id, fact.period, fact_sums)
        if cost is None:
            continue  # unpriced usage is counted apart, never as $0
        sums[fact.ticket_id].add(fact_sums)
        costs[fact.ticket_id] += cost
    ranked = sorted(
        costs,
        key=lambda ticket_id: (-costs[ticket_id].total, -sums[ticket_id].tokens.total, ticket_id),
    )[: rows + 1]
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
