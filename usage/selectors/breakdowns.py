"""The facts an activity is assembled from besides its model tally (`tally.py`): sums per
consumer, host and ticket.

Each reader takes the whole grains from a rollup (one SQL query) and the partial edges
from the raw events read once for the activity (`RawEdges`). A filter by model narrows
the rollup rows read (`model_id`); a filter no rollup serves reads no rollup at all
(its pieces have no windows, only raw events).
"""

from collections import defaultdict
from dataclasses import dataclass, field
from functools import partial
from typing import NamedTuple

from django.db import connection

from licensing.models import Tenant
from tasks.models import Ticket
from usage.models import ConsumerRollup, HostRollup, TicketRollup
from usage.pricing import KINDS, Cost, pico_cost
from usage.selectors.figures import Sums, TicketCost, Tokens
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import SUMS_SQL, Pieces, RawEdges, exact_query, query

TOP = 10


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
    there are more (so a caller can offer the next ones). Only priced usage counts: a
    ticket's unpriced usage is counted apart, never as $0."""
    return tuple(
        TicketCost(
            ticket_id=ticket_id,
            external_id=external_id,
            subject=subject,
            tokens=Tokens(inp, out, cached),
            cost=pico_cost(*(int(cost) for cost in costs)),
        )
        for ticket_id, inp, out, cached, *costs, _, _, external_id, subject in exact_query(
            partial(_ranked_tickets, tenant, periods, pieces, raw, rows + 1, model_id)
        )
    )


def _ranked_tickets(
    tenant: Tenant,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    limit: int,
    model_id: int | None,
    sql_type: str,
) -> tuple[str, list]:
    """One statement: the ticket rollup's whole grains and the raw edges, priced, summed
    per ticket, ranked and named. Exact in SQL, so no near tie can leave a ticket out."""
    branches = []
    if pieces.windows:
        source, params = pieces.source(TicketRollup, tenant.id, model_id)
        branches.append(_priced_tokens(periods, "grain_start", source, params, sql_type))
    if pieces.raw:
        events = raw.queryset(pieces.raw).filter(ticket__isnull=False)  # narrowed as the rest
        sql, params = events.values(*_RAW_TICKET_COLUMNS).query.sql_with_params()
        at = "EXTRACT(EPOCH FROM occurred_at)"  # exact: numeric, to the microsecond
        branches.append(_priced_tokens(periods, at, f"({sql}) AS event", params, sql_type))
    if not branches:
        return "SELECT 1 WHERE FALSE", []
    tokens = [f"{kind}_tokens" for kind in KINDS]
    sums = [f"CAST(SUM({column}) AS BIGINT)" for column in tokens]
    costs = [f"CAST(SUM({kind}_tokens * {kind}_price) AS {sql_type})" for kind in KINDS]
    cost = " + ".join(f"{kind}_tokens * {kind}_price" for kind in KINDS)
    order = "ranked.cost DESC, ranked.tokens DESC, ranked.ticket_id"
    ticket = connection.ops.quote_name(Ticket._meta.db_table)
    return (
        f"WITH piece AS ({' UNION ALL '.join(sql for sql, _ in branches)}), "
        f"ranked AS (SELECT ticket_id, {', '.join(sums + costs)}, "
        f"CAST(SUM({cost}) AS {sql_type}) AS cost, SUM({' + '.join(tokens)}) AS tokens "
        f"FROM piece WHERE input_price IS NOT NULL GROUP BY ticket_id "
        f"ORDER BY cost DESC, tokens DESC, ticket_id LIMIT {int(limit)}) "
        f"SELECT ranked.*, ticket.external_id, ticket.subject FROM ranked "
        f"JOIN {ticket} AS ticket ON ticket.id = ranked.ticket_id ORDER BY {order}",
        [param for _, params in branches for param in params],
    )


_RAW_TICKET_COLUMNS = ("ticket_id", "model_id", "occurred_at", *(f"{k}_tokens" for k in KINDS))


def _priced_tokens(
    periods: PlanPeriods, at: str, source: str, params: list, sql_type: str
) -> tuple[str, list]:
    """Each row of `source`: its ticket, tokens by kind and their prices by kind at `at`."""
    prices = [periods.pico_price_sql(kind, at, sql_type) for kind in KINDS]
    columns = ", ".join(
        [f"{kind}_tokens" for kind in KINDS]
        + [f"{sql} AS {kind}_price" for kind, (sql, _) in zip(KINDS, prices, strict=True)]
    )
    price_params = [param for _, kind_params in prices for param in kind_params]
    return f"SELECT ticket_id, {columns} FROM {source}", [*price_params, *params]
