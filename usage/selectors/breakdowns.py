"""The breakdowns an activity is assembled from besides its model tally (`tally.py`):
consumers, hosts and tickets (`summaries`, `top_tickets`).

Each is one statement (a `Read`, sent with the others by `read_together`) over the
rollup's whole grains and the raw events of the partial edges (`RawEdges.sql`), priced
in SQL by the plan of each row's model at its time. A filter by model narrows the
rollup rows read (`model_id`); a filter no rollup serves reads no rollup at all (its
pieces have no windows, only raw events).
"""

from dataclasses import dataclass, field
from functools import partial

from django.db import connection

from licensing.models import Tenant
from tasks.models import Host, Ticket
from usage.models import ConsumerRollup, HostRollup, TicketRollup
from usage.pricing import KINDS, Cost, pico_cost
from usage.selectors.figures import Sums, TicketCost, Tokens
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import (
    ROW_SUMS_SQL,
    SUM_COLUMNS,
    SUMS_SQL,
    Pieces,
    RawEdges,
    Read,
    exact_read,
)

TOP = 10


@dataclass
class Summary:
    """A consumer's, host's, provider's or ticket's usage summed over its models and plan
    periods: its sums, the whole bill of its priced part, and its unpriced part; a host's
    `name` ('' for no host, or a host deleted since)."""

    sums: Sums = field(default_factory=Sums)
    cost: Cost = field(default_factory=Cost)  # every priced token: its whole bill
    unpriced: Sums = field(default_factory=Sums)
    name: str = ""


# The summary rollups by what they break usage down by: (rollup, its key column, the raw
# events' filter: the ticket rollup holds ticket-linked usage only, and the table whose
# `name` names a key, joined in the same statement).
_SUMMARIES = {
    "consumer": (ConsumerRollup, "consumer", "", None),
    "host": (HostRollup, "host_id", "", Host),
    "ticket": (TicketRollup, "ticket_id", "ticket_id IS NOT NULL", None),
}


def summaries(
    tenant: Tenant,
    by: str,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    model_id: int | None = None,
) -> Read[dict[object, Summary]]:
    """The read of every consumer (`by="consumer"`, '' none given), host (`by="host"`,
    None: no host; with its name) or ticket (`by="ticket"`) of the range with its
    `Summary`: one statement over the rollup's whole grains and the raw edges, priced in
    SQL (inside `exact_reads`)."""

    def made(rows: list[tuple]) -> dict[object, Summary]:
        return {
            key: Summary(
                Sums(*values[:5]), _pico_cost(values[5:8]), Sums(*values[8:13]), *values[13:]
            )
            for key, *values in rows
        }

    return exact_read(partial(_summary_sums, tenant, by, periods, pieces, raw, model_id), made)


def _summary_sums(
    tenant: Tenant,
    by: str,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    model_id: int | None,
    sql_type: str,
) -> tuple[str, list]:
    """Per key: the sums, the whole bill in picodollars by kind, the unpriced sums, and
    the key's name if its table has one ('' when its row is gone)."""
    _, key, _, names = _SUMMARIES[by]
    piece, params = _priced_rows(tenant, periods, pieces, raw, model_id, sql_type, by)
    costs = _cost_sums(sql_type)
    unpriced = [
        f"CAST(COALESCE(SUM({column}) FILTER (WHERE input_price IS NULL), 0) AS BIGINT)"
        for column in SUM_COLUMNS
    ]
    summed = (
        f"WITH piece AS ({piece}) SELECT {key}, {SUMS_SQL}, {', '.join(costs + unpriced)} "
        f"FROM piece GROUP BY {key}"
    )
    if names is None:
        return summed, params
    table = connection.ops.quote_name(names._meta.db_table)
    return (
        f"SELECT summed.*, COALESCE(named.name, '') FROM ({summed}) AS summed "
        f"LEFT JOIN {table} AS named ON named.id = summed.{key}",  # a round trip less
        params,
    )


def top_tickets(
    tenant: Tenant,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    *,
    rows: int = TOP,
    model_id: int | None = None,
) -> Read[tuple[TicketCost, ...]]:
    """The read of the first `rows` tickets by exact cost (then tokens, then id), and one
    more when there are more (so a caller can offer the next ones). Only priced usage
    counts: a ticket's unpriced usage is counted apart, never as $0."""

    def made(found: list[tuple]) -> tuple[TicketCost, ...]:
        return tuple(
            TicketCost(
                ticket_id=ticket_id,
                external_id=external_id,
                subject=subject,
                tokens=Tokens(inp, out, cached),
                cost=_pico_cost(costs),
            )
            for ticket_id, inp, out, cached, *costs, _, _, external_id, subject in found
        )

    statement = partial(_ranked_tickets, tenant, periods, pieces, raw, rows + 1, model_id)
    return exact_read(statement, made)


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
    piece, params = _priced_rows(tenant, periods, pieces, raw, model_id, sql_type, "ticket")
    tokens = [f"{kind}_tokens" for kind in KINDS]
    sums = [f"CAST(SUM({column}) AS BIGINT)" for column in tokens]
    costs = _cost_sums(sql_type)
    cost = " + ".join(f"{kind}_tokens * {kind}_price" for kind in KINDS)
    order = "ranked.cost DESC, ranked.tokens DESC, ranked.ticket_id"
    ticket = connection.ops.quote_name(Ticket._meta.db_table)
    return (
        f"WITH piece AS ({piece}), "
        f"ranked AS (SELECT ticket_id, {', '.join(sums + costs)}, "
        f"CAST(SUM({cost}) AS {sql_type}) AS cost, SUM({' + '.join(tokens)}) AS tokens "
        f"FROM piece WHERE input_price IS NOT NULL GROUP BY ticket_id "
        f"ORDER BY cost DESC, tokens DESC, ticket_id LIMIT {int(limit)}) "
        f"SELECT ranked.*, ticket.external_id, ticket.subject FROM ranked "
        f"JOIN {ticket} AS ticket ON ticket.id = ranked.ticket_id ORDER BY {order}",
        params,
    )


# The raw events' columns as the rollups' (succeeded: one request, succeeded or failed).
_RAW_SUMS = (
    "input_tokens, output_tokens, cached_tokens, "
    "CASE WHEN succeeded THEN 1 ELSE 0 END AS succeeded_requests, "
    "CASE WHEN succeeded THEN 0 ELSE 1 END AS failed_requests"
)


def _priced_rows(
    tenant: Tenant,
    periods: PlanPeriods,
    pieces: Pieces,
    raw: RawEdges,
    model_id: int | None,
    sql_type: str,
    by: str,
) -> tuple[str, list]:
    """The summary rollup's rows of the whole grains and the raw events of the edges, as
    one table: the key, the sum columns, and the price of each kind of token at the row's
    time (`PlanPeriods.pico_price_sql`; NULL: unpriced)."""
    rollup, key, raw_where, _ = _SUMMARIES[by]
    branches: list[tuple[str, list]] = []

    def branch(sums: str, at: str, source: tuple[str, list]) -> None:
        """Priced in each branch, not over the union: the rollup's times stay bigint."""
        prices = periods.pico_price_columns(at, sql_type)
        branches.append((f"SELECT {key}, {sums}, {prices} FROM {source[0]}", source[1]))

    if pieces.windows:
        branch(ROW_SUMS_SQL, "grain_start", pieces.source(rollup, tenant.id, model_id))
    if pieces.raw or not pieces.windows:  # (an empty range: an empty table all the same)
        sql, params = raw.sql(pieces.raw, ["*"], raw_where)
        at = "EXTRACT(EPOCH FROM occurred_at)"  # numeric: exact to the microsecond
        branch(_RAW_SUMS, at, (f"({sql}) AS event", params))
    return (
        " UNION ALL ".join(sql for sql, _ in branches),
        [param for _, params in branches for param in params],
    )


def _cost_sums(sql_type: str) -> list[str]:
    """The priced rows' cost in picodollars, summed per kind of token (NULL prices, the
    unpriced rows, add nothing)."""
    return [f"CAST(SUM({kind}_tokens * {kind}_price) AS {sql_type})" for kind in KINDS]


def _pico_cost(picos) -> Cost:
    """`pico_cost` of SQL sums: NULL (nothing priced) is 0; numeric (`exact_reads`'
    fallback) is made an int."""
    return pico_cost(*(int(value or 0) for value in picos))
