"""The facts an activity is assembled from besides its model tally (`tally.py`): sums per
consumer, host and ticket.

Each reader takes the whole grains from a rollup (one SQL query) and the partial edges
from the raw events read once for the activity (`RawEdges`). A filter by model narrows
the rollup rows read (`model_id`); a filter no rollup serves reads no rollup at all
(its pieces have no windows, only raw events).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from typing import NamedTuple

from licensing.models import Tenant
from tasks.models import Ticket
from usage.models import ConsumerRollup, HostRollup, TicketRollup
from usage.pricing import Cost
from usage.selectors.figures import Sums, TicketCost
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import ROW_SUMS_SQL, SUMS_SQL, Pieces, RawEdges, query

TOP = 10
# Tickets ranked by an approximate (floating point) cost in SQL; the exact Decimal cost is
# then computed for this many candidates per ten rows asked, so only near-ties at the last
# place asked could reorder.
_TICKET_CANDIDATES = 5 * TOP


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
    edge_tickets = sorted({fact.ticket_id for fact in facts})
    for ticket_id, fact_model_id, period, *sums in _candidate_rows(
        tenant, periods, pieces, candidates, edge_tickets, model_id
    ):
        facts[TicketFact(ticket_id, fact_model_id, period)].add(Sums.of_row(sums))
    return facts


def _candidate_rows(
    tenant: Tenant,
    periods: PlanPeriods,
    pieces: Pieces,
    limit: int,
    edge_tickets: list[int],
    model_id: int | None,
) -> list[tuple]:
    """The whole grains' sums per ticket, model and plan period, of the `limit` tickets with
    the highest approximate cost there and of `edge_tickets`: one statement. The ranking
    sums floating point costs per ticket straight from the rollup rows; only the chosen
    tickets' rows are summed exactly (numeric sums of every ticket's rows cost far more)."""
    source, source_params = pieces.source(TicketRollup, tenant.id, model_id)
    period_sql, period_params = periods.period_sql("grain_start")
    prices_sql, prices_params = periods.approximate_prices_sql()
    return query(
        f"WITH piece AS MATERIALIZED (SELECT ticket_id, model_id, {period_sql} AS period, "
        f"{ROW_SUMS_SQL} FROM {source}), "
        "ranked AS (SELECT piece.ticket_id FROM piece "
        f"JOIN {prices_sql} ON price.model_id = piece.model_id AND price.period = piece.period "
        "GROUP BY piece.ticket_id ORDER BY SUM(piece.input_tokens * price.input "
        "+ piece.output_tokens * price.output + piece.cached_tokens * price.cached) DESC, "
        f"piece.ticket_id LIMIT {int(limit)}) "
        f"SELECT ticket_id, model_id, period, {SUMS_SQL} FROM piece "
        "WHERE ticket_id IN (SELECT ticket_id FROM ranked) OR ticket_id = ANY(%s) "
        f"GROUP BY ticket_id, model_id, period",
        [*period_params, *source_params, *prices_params, edge_tickets],
    )


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
