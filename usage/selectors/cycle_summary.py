"""`cycle_summary`: one cycle summarised by model, provider, host, consumer and ticket (§5.5),
for finance to reconcile: within each dimension the rows add up to the cycle's total row.

From the rollups like the history (`usage.selectors.tally` for the totals, models
and providers; the host, consumer and ticket rollups, by model, for the rest), with raw
events only for the partial grains before now in the current cycle.
"""

from collections import defaultdict
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from licensing.models import Tenant
from tasks.models import Ticket
from usage.buckets import Buckets, month_buckets, month_cuts
from usage.models import (
    MODEL_GRAINS,
    SUMMARY_GRAINS,
    LlmModel,
)
from usage.pricing import Cost
from usage.projections import Month
from usage.selectors.breakdowns import summaries
from usage.selectors.figures import Requests, Sums, Tokens
from usage.selectors.periods import PlanPeriods, priced_reads
from usage.selectors.rollups import (
    RawEdges,
    pieces,
    read_together,
)
from usage.selectors.tally import ModelTally, model_tally

NO_TICKET = "(no ticket)"
NO_HOST = "(no host)"
NO_CONSUMER = "(no consumer)"


@dataclass(frozen=True)
class SummaryRow:
    """One line of a cycle's summary. `dimension` is total, model, provider, host,
    consumer or ticket; `key` the model or ticket id, the provider or the consumer ('' for none);
    `detail` a model's provider or a ticket's subject.

    `whole_bill` is the priced usage, `unpriced_tokens` the usage no plan prices; `cost`
    (ticket-linked) and `unattributed_spend` split the whole bill, None where the rollup
    cannot tell the two apart (hosts and consumers)."""

    dimension: str
    key: str
    name: str
    detail: str
    tokens: Tokens
    requests: Requests
    cost: Cost | None
    unattributed_spend: Cost | None
    unpriced_tokens: Tokens
    whole_bill: Cost


@dataclass(frozen=True)
class CycleSummary:
    month: str
    start: datetime
    end: datetime
    rows: tuple[SummaryRow, ...]


def cycle_summary(*, tenant: Tenant, month: Month, now: datetime) -> CycleSummary:
    """The summary of `month` (a cycle, see `history.cycle_of`) up to `now` if it is the
    current one. A constant number of queries: models and plans (once per process:
    `priced_reads`), one round trip for the model, host, consumer and ticket rollups and
    the raw edges, then the tickets named."""
    zone = tenant.zone
    end = min(month.ends_at, now)
    buckets = month_buckets(edges=(month.starts_at,), last_end=month.ends_at, end=end, zone=zone)
    rows = priced_reads(
        tenant, buckets.start, buckets.end, lambda periods: _rows(tenant, buckets, periods)
    )
    return CycleSummary(
        month=f"{month.first_day:%Y-%m}",
        start=month.starts_at.astimezone(zone),
        end=end.astimezone(zone),
        rows=tuple(rows),
    )


def _rows(tenant: Tenant, buckets: Buckets, periods: PlanPeriods) -> list[SummaryRow]:
    cuts = [*periods.cuts(), *month_cuts(buckets)]  # no row read straddles two months
    model_pieces = pieces(buckets.start, buckets.end, MODEL_GRAINS, cuts)
    summary_pieces = pieces(buckets.start, buckets.end, SUMMARY_GRAINS, periods.cuts())
    raw = RawEdges(tenant, [*model_pieces.raw, *summary_pieces.raw])
    _, _, tally, hosts, consumers, tickets = read_together(
        periods.check(),
        raw.read(),
        model_tally(tenant, buckets, periods, model_pieces, raw),
        *(
            summaries(tenant, by, periods, summary_pieces, raw)
            for by in ("host", "consumer", "ticket")
        ),
    )  # every host, consumer and ticket (no top: finance needs them all)
    total = _total_row(tally)
    return [
        total,
        *_model_rows(periods.models, tally),
        *_provider_rows(periods.models, tally),
        *_host_rows(hosts),
        *_consumer_rows(consumers),
        *_ticket_rows(total, tickets),
    ]


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
        tally.bucket_costs[0] + tally.bucket_unattributed_costs.get(0, Cost()),
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
            tally.model_costs.get(model_id, Cost())
            + tally.unattributed_costs.get(model_id, Cost()),
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
            costs[provider] + unattributed[provider],
        )


def _keyed_rows(dimension: str, priced: dict, names: dict) -> Iterator[SummaryRow]:
    """Rows of a dimension whose rollup cannot tell ticket-linked from unattributed: the
    whole bill and the unpriced tokens of each key, by name."""
    for key in sorted(priced, key=lambda key: (names[key], str(key))):
        one = priced[key]
        yield SummaryRow(
            dimension,
            "" if key is None else str(key),
            names[key],
            "",
            one.sums.tokens,
            one.sums.requests,
            None,
            None,
            one.unpriced.tokens,
            one.cost,
        )


def _consumer_rows(priced: dict) -> Iterator[SummaryRow]:
    yield from _keyed_rows("consumer", priced, {key: key or NO_CONSUMER for key in priced})


def _host_rows(priced: dict) -> Iterator[SummaryRow]:
    names = {key: NO_HOST if key is None else priced[key].name for key in priced}
    yield from _keyed_rows("host", priced, names)


def _ticket_rows(total: SummaryRow, priced: dict) -> Iterator[SummaryRow]:
    """A row per ticket (by external id), then the usage on no ticket: the total less the
    tickets, so the dimension adds up to the total exactly."""
    tickets = Ticket.objects.in_bulk(list(priced))
    rest, rest_unpriced = _sums_of(total), Sums(*_tokens(total.unpriced_tokens))
    rest_bill = total.whole_bill
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
            ticket.cost,
        )
        rest = _less(rest, ticket.sums)
        rest_unpriced = _less(rest_unpriced, ticket.unpriced)
        rest_bill = _less_cost(rest_bill, ticket.cost)
    yield SummaryRow(
        "ticket",
        "",
        NO_TICKET,
        "",
        rest.tokens,
        rest.requests,
        _less_cost(rest_bill, total.unattributed_spend or Cost()),  # 0: tickets hold it all
        total.unattributed_spend,
        rest_unpriced.tokens,
        rest_bill,
    )


def _tokens(tokens: Tokens) -> tuple[int, int, int]:
    return (tokens.input, tokens.output, tokens.cached)


def _sums_of(row: SummaryRow) -> Sums:
    return Sums(*_tokens(row.tokens), row.requests.succeeded, row.requests.failed)


def _less(a: Sums, b: Sums) -> Sums:
    return Sums(*(x - y for x, y in zip(a.values(), b.values(), strict=True)))


def _less_cost(a: Cost, b: Cost) -> Cost:
    return Cost(input=a.input - b.input, output=a.output - b.output, cached=a.cached - b.cached)
