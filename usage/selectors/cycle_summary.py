"""`cycle_summary`: one cycle summarised by model, provider, consumer and ticket (SPEC §5.5),
for finance to reconcile: within each dimension the rows add up to the cycle's total row.

From the rollups like the history (`model_facts` and `ModelTally` for the totals, models
and providers; the ticket and consumer rollups for the rest), with raw events only for the
partial grains before now in the current cycle.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import localcontext

from licensing.models import Tenant
from tasks.models import Ticket
from usage.buckets import month_buckets
from usage.models import SUMMARY_GRAINS, LlmModel, TicketRollup
from usage.pricing import Cost
from usage.projections import Month
from usage.selectors.activity import ModelTally
from usage.selectors.breakdowns import TicketFact, consumer_facts, model_facts
from usage.selectors.figures import Requests, Sums, Tokens
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import (
    SUMS_SQL,
    Pieces,
    RawEdges,
    model_grains,
    pieces,
    query,
    serial_reads,
)

NO_TICKET = "(no ticket)"


@dataclass(frozen=True)
class SummaryRow:
    """One line of a cycle's summary. `dimension` is total, model, provider, consumer or
    ticket; `key` the model or ticket id, the provider or the consumer ('' for none);
    `detail` a model's provider or a ticket's subject.

    `cost` is the ticket-linked cost and `unattributed_spend` the priced usage on no ticket;
    `whole_bill` is both; `unpriced_tokens` the usage no plan prices. None where the rollup
    cannot tell (consumers carry no model, so no price)."""

    dimension: str
    key: str
    name: str
    detail: str
    tokens: Tokens
    requests: Requests
    cost: Cost | None
    unattributed_spend: Cost | None
    unpriced_tokens: Tokens | None

    @property
    def whole_bill(self) -> Cost | None:
        if self.cost is None or self.unattributed_spend is None:
            return None
        return self.cost + self.unattributed_spend


@dataclass(frozen=True)
class CycleSummary:
    month: str
    start: datetime
    end: datetime
    rows: tuple[SummaryRow, ...]


def cycle_summary(*, tenant: Tenant, month: Month, now: datetime) -> CycleSummary:
    """The summary of `month` (a cycle, see `history.cycle_of`) up to `now` if it is the
    current one. A constant number of queries: models, plans, the model, ticket and
    consumer rollups, the raw edges, the tickets named."""
    zone = tenant.zone
    end = min(month.ends_at, now)
    buckets = month_buckets(edges=(month.starts_at,), last_end=month.ends_at, end=end, zone=zone)
    models = {m.id: m for m in LlmModel.objects.filter(tenant=tenant)}
    periods = PlanPeriods(models, buckets.start, buckets.end)
    with localcontext() as context, serial_reads():
        context.prec = 60  # exact sums, as in activity
        model_pieces = pieces(buckets.start, buckets.end, model_grains(buckets), periods.cuts())
        summary_pieces = pieces(buckets.start, buckets.end, SUMMARY_GRAINS, periods.cuts())
        raw = RawEdges(tenant, [*model_pieces.raw, *summary_pieces.raw])
        tally = ModelTally([Sums()], [Cost()])
        for fact, sums in model_facts(tenant, buckets, periods, model_pieces, raw).items():
            tally.add(fact, sums, periods)
        total = _total_row(tally)
        rows = [
            total,
            *_model_rows(models, tally),
            *_provider_rows(models, tally),
            *_consumer_rows(consumer_facts(tenant, summary_pieces, raw)),
            *_ticket_rows(total, _priced_tickets(tenant, periods, summary_pieces, raw)),
        ]
    return CycleSummary(
        month=f"{month.first_day:%Y-%m}",
        start=month.starts_at.astimezone(zone),
        end=end.astimezone(zone),
        rows=tuple(rows),
    )


def _total_row(tally: ModelTally) -> SummaryRow:
    return SummaryRow(
        "total",
        "",
        "",
        "",
        tally.bucket_sums[0].tokens,
        tally.bucket_sums[0].requests,
        tally.bucket_costs[0],
        tally.bucket_unattributed_costs.get(0, Cost()),
        tally.bucket_unpriced.get(0, Sums()).tokens,
    )


def _model_rows(models: dict[int, LlmModel], tally: ModelTally) -> Iterator[SummaryRow]:
    for model_id in sorted(tally.model_sums, key=lambda model_id: models[model_id].name):
        sums, model = tally.model_sums[model_id], models[model_id]
        yield SummaryRow(
            "model",
            str(model_id),
            model.name,
            model.provider,
            sums.tokens,
            sums.requests,
            tally.model_costs.get(model_id, Cost()),
            tally.unattributed_costs.get(model_id, Cost()),
            tally.unpriced.get(model_id, Sums()).tokens,
        )


def _provider_rows(models: dict[int, LlmModel], tally: ModelTally) -> Iterator[SummaryRow]:
    sums: dict[str, Sums] = defaultdict(Sums)
    costs: dict[str, Cost] = defaultdict(Cost)
    unattributed: dict[str, Cost] = defaultdict(Cost)
    unpriced: dict[str, Sums] = defaultdict(Sums)
    for model_id, model_sums in tally.model_sums.items():
        provider = models[model_id].provider
        sums[provider].add(model_sums)
        costs[provider] += tally.model_costs.get(model_id, Cost())
        unattributed[provider] += tally.unattributed_costs.get(model_id, Cost())
        unpriced[provider].add(tally.unpriced.get(model_id, Sums()))
    for provider in sorted(sums):
        yield SummaryRow(
            "provider",
            provider,
            provider,
            "",
            sums[provider].tokens,
            sums[provider].requests,
            costs[provider],
            unattributed[provider],
            unpriced[provider].tokens,
        )


def _consumer_rows(facts: dict[str, Sums]) -> Iterator[SummaryRow]:
    for consumer in sorted(facts):
        sums = facts[consumer]
        yield SummaryRow(
            "consumer", consumer, consumer, "", sums.tokens, sums.requests, None, None, None
        )


@dataclass
class _PricedTicket:
    sums: Sums
    cost: Cost
    unpriced: Sums


def _priced_tickets(
    tenant: Tenant, periods: PlanPeriods, pieces: Pieces, raw: RawEdges
) -> dict[int, _PricedTicket]:
    """Every ticket of the cycle with its sums, cost and unpriced usage (no top: finance
    needs them all; the rows are as many as the cycle's tickets, not its events)."""
    facts: dict[TicketFact, Sums] = defaultdict(Sums)
    for event in raw.within(pieces.raw):
        if event.ticket_id is not None:
            period = periods.period_at(event.model_id, event.occurred_at)
            facts[TicketFact(event.ticket_id, event.model_id, period)].add(event.sums)
    if pieces.windows:
        source, source_params = pieces.source(TicketRollup, tenant.id)
        period_sql, period_params = periods.period_sql("grain_start")
        for ticket_id, model_id, period, *sums in query(
            f"SELECT ticket_id, model_id, {period_sql} AS period, {SUMS_SQL} FROM {source} "
            "GROUP BY ticket_id, model_id" + (", period" if period_params else ""),
            [*period_params, *source_params],
        ):
            facts[TicketFact(ticket_id, model_id, period)].add(Sums.of_row(sums))
    tickets: dict[int, _PricedTicket] = {}
    for fact, fact_sums in facts.items():
        ticket = tickets.setdefault(fact.ticket_id, _PricedTicket(Sums(), Cost(), Sums()))
        ticket.sums.add(fact_sums)
        cost = periods.cost(fact.model_id, fact.period, fact_sums)
        if cost is None:
            ticket.unpriced.add(fact_sums)  # counted apart, never as $0
        else:
            ticket.cost += cost
    return tickets


def _ticket_rows(total: SummaryRow, priced: dict[int, _PricedTicket]) -> Iterator[SummaryRow]:
    """A row per ticket (by external id), then the usage on no ticket: the total less the
    tickets, so the dimension adds up to the total exactly."""
    tickets = Ticket.objects.in_bulk(list(priced))
    rest, rest_unpriced = Sums(*_tokens_and_requests(total)), Sums(*_tokens(total.unpriced_tokens))
    rest_cost = total.cost or Cost()
    for ticket_id in sorted(priced, key=lambda pk: (tickets[pk].external_id, pk)):
        ticket = priced[ticket_id]
        yield SummaryRow(
            "ticket",
            str(ticket_id),
            tickets[ticket_id].external_id,
            tickets[ticket_id].subject,
            ticket.sums.tokens,
            ticket.sums.requests,
            ticket.cost,
            Cost(),
            ticket.unpriced.tokens,
        )
        rest = _less(rest, ticket.sums)
        rest_unpriced = _less(rest_unpriced, ticket.unpriced)
        rest_cost = _less_cost(rest_cost, ticket.cost)
    yield SummaryRow(
        "ticket",
        "",
        NO_TICKET,
        "",
        rest.tokens,
        rest.requests,
        rest_cost,
        total.unattributed_spend,
        rest_unpriced.tokens,
    )


def _tokens(tokens: Tokens | None) -> tuple[int, int, int]:
    return (0, 0, 0) if tokens is None else (tokens.input, tokens.output, tokens.cached)


def _tokens_and_requests(row: SummaryRow) -> tuple[int, int, int, int, int]:
    return (*_tokens(row.tokens), row.requests.succeeded, row.requests.failed)


def _less(a: Sums, b: Sums) -> Sums:
    return Sums(*(x - y for x, y in zip(a.values(), b.values(), strict=True)))


def _less_cost(a: Cost, b: Cost) -> Cost:
    return Cost(input=a.input - b.input, output=a.output - b.output, cached=a.cached - b.cached)
