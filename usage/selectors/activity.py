"""`activity`: the LLM usage of a range, in Cost and Tokens (SPEC §5.1)."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal
from typing import Literal

from licensing.models import Tenant
from usage.buckets import Buckets, RangeRefused, buckets_for
from usage.models import MODEL_GRAINS, SUMMARY_GRAINS, LlmModel
from usage.pricing import Cost
from usage.selectors.breakdowns import (
    TOP,
    Summary,
    summaries,
    top_tickets,
)
from usage.selectors.figures import (
    Activity,
    ConsumerUsage,
    HostUsage,
    ModelUsage,
    ProviderUsage,
    SeriesPoint,
    Sums,
    TicketCost,
    UnattributedSpend,
    UncostedUsage,
    share_of,
)
from usage.selectors.filters import NO_FILTER, ActivityFilter
from usage.selectors.periods import PlanPeriods, priced_reads
from usage.selectors.rollups import (
    Pieces,
    RawEdges,
    model_grains,
    pieces,
    read_together,
)
from usage.selectors.tally import ModelTally, model_tally

Mode = Literal["tokens", "cost"]
MODES: tuple[str, ...] = ("tokens", "cost")


MAX_ROWS = 1000
# The breakdowns cut to `rows` rows, in the order the page shows them.
BREAKDOWNS = ("by_model", "by_provider", "by_host", "top_consumers", "top_tickets")


def activity(
    *,
    tenant: Tenant,
    start: datetime,
    end: datetime,
    mode: str,
    bucket: str = "auto",
    narrowed: ActivityFilter = NO_FILTER,
    rows: int = TOP,
) -> Activity:
    """The activity of `[start, end)` for `tenant` (SPEC §5.1).

    `start`/`end` are aware datetimes; `mode` is "tokens" or "cost"; `bucket` is
    "auto" (24 h -> 5m, 7 d -> 1h, 30 d -> 6h, longer -> 1d) or one of
    "5m", "15m", "1h", "6h", "1d". Raises `usage.buckets.RangeRefused` (a DomainError,
    400 `invalid_range`) for naive times, end not after start, an unknown bucket or
    mode, or more than 2,000 buckets. Cost is exact Decimal: tokens priced by the
    model's plan in force at each event's time; `cost` is the ticket-linked part,
    `unattributed_spend` the rest, `whole_bill` both; `unpriced` the usage no plan prices.

    `narrowed` (`usage.selectors.filters.activity_filter`) limits every figure to one
    model, consumer and/or host. Each breakdown has its first `rows` rows (1 to
    MAX_ROWS); `more` names those that have more. Each row's `share` is of the range's
    tokens in Tokens mode, of its whole bill in Cost mode.
    """
    if mode not in MODES:
        raise RangeRefused(f"Unknown mode {mode!r}: use tokens or cost.", code="invalid_mode")
    if not 1 <= rows <= MAX_ROWS:
        raise RangeRefused(f"rows must be 1 to {MAX_ROWS}.", code="invalid_rows")
    buckets = buckets_for(start=start, end=end, zone=tenant.zone, bucket=bucket)
    return priced_reads(
        tenant,
        buckets.start,
        buckets.end,
        lambda periods: _activity(tenant, buckets, mode, periods, narrowed, rows),
    )


def _activity(
    tenant: Tenant,
    buckets: Buckets,
    mode: str,
    periods: PlanPeriods,
    narrowed: ActivityFilter,
    rows: int,
) -> Activity:
    models = periods.models
    # A filter no rollup serves reads the whole range raw (no grains: no windows).
    reads_rollups = not narrowed.reads_raw
    cuts = periods.cuts()

    def cut(grains: tuple[int, ...]) -> Pieces:
        return pieces(buckets.start, buckets.end, grains if reads_rollups else (), cuts)

    # The buckets read grains that fit them; the totals, every grain (whole days, hours).
    bucket_pieces, total_pieces = cut(model_grains(buckets)), cut(MODEL_GRAINS)
    summary_pieces = cut(SUMMARY_GRAINS)
    edges = [*bucket_pieces.raw, *total_pieces.raw, *summary_pieces.raw]
    raw = RawEdges(tenant, edges, narrowed)
    model_id = narrowed.model_id
    _, _, tally, consumers, hosts, tickets = read_together(
        periods.check(),
        raw.read(),
        model_tally(
            tenant, buckets, periods, bucket_pieces, raw, model_id, totals=total_pieces, apart=False
        ),
        summaries(tenant, "consumer", periods, summary_pieces, raw, model_id),
        summaries(tenant, "host", periods, summary_pieces, raw, model_id),
        top_tickets(tenant, periods, summary_pieces, raw, rows=rows, model_id=model_id),
    )
    total = Sums()
    for sums in tally.bucket_sums:
        total.add(sums)
    cost = sum(tally.model_costs.values(), Cost())
    unattributed_spend = sum(tally.unattributed_costs.values(), Cost())
    share = _Share(mode, total.tokens.total, (cost + unattributed_spend).total)
    breakdowns: dict[str, list] = {
        "by_model": _by_model(models, tally, mode, share),
        "by_provider": _by_provider(models, tally, share),
        "by_host": _by_host(hosts, share),
        "top_consumers": _top_consumers(consumers, share),
        "top_tickets": _shared_tickets(tickets, share),
    }
    zone = buckets.zone
    return Activity(
        start=buckets.start.astimezone(zone),
        end=buckets.end.astimezone(zone),
        zone=zone.key,
        mode=mode,
        bucket=buckets.name,
        bucket_seconds=buckets.seconds,
        series=_series(buckets, tally),
        tokens=total.tokens,
        cost=cost,
        unattributed_spend=unattributed_spend,
        requests=total.requests,
        by_model=tuple(breakdowns["by_model"][:rows]),
        by_provider=tuple(breakdowns["by_provider"][:rows]),
        by_host=tuple(breakdowns["by_host"][:rows]),
        top_consumers=tuple(breakdowns["top_consumers"][:rows]),
        top_tickets=tuple(breakdowns["top_tickets"][:rows]),
        unpriced=_unpriced(models, tally, periods.unpriced_message),
        unattributed=_unattributed(models, tally),
        narrowed=narrowed,
        more=tuple(name for name in BREAKDOWNS if len(breakdowns[name]) > rows),
    )


@dataclass(frozen=True)
class _Share:
    """A row's share of the range: of its tokens (Tokens mode) or whole bill (Cost mode)."""

    mode: str
    tokens: int
    whole_bill: Decimal

    def of(self, tokens: int, whole_bill: Decimal) -> Decimal | None:
        if self.mode == "cost":
            return share_of(whole_bill, self.whole_bill)
        return share_of(tokens, self.tokens)

    def rank(self, tokens: int, whole_bill: Decimal) -> tuple:
        """Sort key: tokens (Tokens mode), or whole bill then tokens (Cost mode), largest first."""
        if self.mode == "cost":
            return (-whole_bill, -tokens)
        return (-tokens,)


def _figures(summary: Summary, share: _Share) -> dict:
    """The figures every provider, host and consumer row has, from its summary."""
    return {
        "tokens": summary.sums.tokens,
        "requests": summary.sums.requests,
        "cost": summary.cost,
        "unpriced_tokens": summary.unpriced.tokens,
        "share": share.of(summary.sums.tokens.total, summary.cost.total),
    }


def _series(buckets: Buckets, tally: ModelTally) -> tuple[SeriesPoint, ...]:
    zone = buckets.zone
    bounds = [edge.astimezone(zone) for edge in (*buckets.edges, buckets.last_end)]
    costs = tally.bucket_costs
    return tuple(  # (start, end, tokens, cost, requests): positional, ~300 a read
        SeriesPoint(bounds[i], bounds[i + 1], sums.tokens, costs[i], sums.requests)
        for i, sums in enumerate(tally.bucket_sums)
    )


def _by_model(models: dict, tally: ModelTally, mode: str, share: _Share) -> list[ModelUsage]:
    by_model = []
    for model_id, sums in tally.model_sums.items():
        cost = tally.model_costs.get(model_id, Cost())
        unattributed_cost = tally.unattributed_costs.get(model_id, Cost())
        by_model.append(
            ModelUsage(
                model_id=model_id,
                name=models[model_id].name,
                provider=models[model_id].provider,
                tokens=sums.tokens,
                requests=sums.requests,
                cost=cost,
                unpriced_tokens=tally.unpriced.get(model_id, Sums()).tokens,
                unattributed_tokens=tally.unattributed.get(model_id, Sums()).tokens,
                unattributed_cost=unattributed_cost,
                share=share.of(sums.tokens.total, (cost + unattributed_cost).total),
            )
        )
    if mode == "cost":
        by_model.sort(
            key=lambda m: (-m.cost.total, -m.unattributed_cost.total, -m.tokens.total, m.name)
        )
    else:
        by_model.sort(key=lambda m: (-m.tokens.total, m.name))
    return by_model


def _by_provider(models: dict, tally: ModelTally, share: _Share) -> list[ProviderUsage]:
    """The models' usage summed by their provider (model rollups, by the model's provider)."""
    providers: dict[str, Summary] = defaultdict(Summary)
    for model_id, sums in tally.model_sums.items():
        summary = providers[models[model_id].provider]
        summary.sums.add(sums)
        summary.cost += tally.model_costs.get(model_id, Cost())
        summary.cost += tally.unattributed_costs.get(model_id, Cost())
        summary.unpriced.add(tally.unpriced.get(model_id, Sums()))
    rows = [
        ProviderUsage(
            provider=provider,
            **_figures(summary, share),
        )
        for provider, summary in providers.items()
    ]
    return sorted(rows, key=lambda r: (*share.rank(r.tokens.total, r.cost.total), r.provider))


def _by_host(hosts: dict, share: _Share) -> list[HostUsage]:
    rows = [
        HostUsage(
            host_id=host_id,
            name=summary.name,
            **_figures(summary, share),
        )
        for host_id, summary in hosts.items()
    ]
    # Among equals: named hosts by name (names may repeat: then by id), no host last.
    return sorted(
        rows,
        key=lambda r: (
            *share.rank(r.tokens.total, r.cost.total),
            not r.name,
            r.name,
            r.host_id or 0,
        ),
    )


def _top_consumers(consumers: dict, share: _Share) -> list[ConsumerUsage]:
    rows = [
        ConsumerUsage(
            consumer=name,
            **_figures(summary, share),
        )
        for name, summary in consumers.items()
    ]
    return sorted(rows, key=lambda r: (*share.rank(r.tokens.total, r.cost.total), r.consumer))


def _shared_tickets(tickets: tuple[TicketCost, ...], share: _Share) -> list[TicketCost]:
    """The tickets with their share (all of a ticket's cost is on the whole bill)."""
    return [
        replace(ticket, share=share.of(ticket.tokens.total, ticket.cost.total))
        for ticket in tickets
    ]


def _by_name(models: dict[int, LlmModel], sums_by_model: dict[int, Sums]):
    """(model, sums) of each model, by model name."""
    for model_id in sorted(sums_by_model, key=lambda model_id: models[model_id].name):
        yield models[model_id], sums_by_model[model_id]


def _unpriced(
    models: dict[int, LlmModel], tally: ModelTally, message: Callable[[LlmModel], str]
) -> tuple[UncostedUsage, ...]:
    return tuple(
        UncostedUsage(model.id, model.name, sums.tokens, sums.requests, message(model))
        for model, sums in _by_name(models, tally.unpriced)
    )


def _unattributed(models: dict[int, LlmModel], tally: ModelTally) -> tuple[UnattributedSpend, ...]:
    return tuple(
        UnattributedSpend(
            model.id, model.name, sums.tokens, sums.requests, tally.unattributed_costs[model.id]
        )
        for model, sums in _by_name(models, tally.unattributed)
    )
