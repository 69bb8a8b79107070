"""`activity`: the LLM usage of a range, in Cost and Tokens (SPEC §5.1)."""

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from decimal import localcontext
from typing import Literal

from licensing.models import Tenant
from usage.buckets import Buckets, RangeRefused, buckets_for
from usage.models import SUMMARY_GRAINS, LlmModel
from usage.pricing import Cost
from usage.selectors.breakdowns import TOP, ModelFact, consumer_facts, model_facts, top_tickets
from usage.selectors.figures import (
    Activity,
    ConsumerUsage,
    ModelUsage,
    SeriesPoint,
    Sums,
    UnattributedSpend,
    UncostedUsage,
)
from usage.selectors.periods import PlanPeriods
from usage.selectors.rollups import RawEdges, model_grains, pieces, serial_reads

Mode = Literal["tokens", "cost"]
MODES: tuple[str, ...] = ("tokens", "cost")


def activity(
    *, tenant: Tenant, start: datetime, end: datetime, mode: str, bucket: str = "auto"
) -> Activity:
    """The activity of `[start, end)` for `tenant` (SPEC §5.1).

    `start`/`end` are aware datetimes; `mode` is "tokens" or "cost"; `bucket` is
    "auto" (24 h -> 5m, 7 d -> 1h, 30 d -> 6h, longer -> 1d) or one of
    "5m", "15m", "1h", "6h", "1d". Raises `usage.buckets.RangeRefused` (a DomainError,
    400 `invalid_range`) for naive times, end not after start, an unknown bucket or
    mode, or more than 2,000 buckets. Cost is exact Decimal: tokens priced by the
    model's plan in force at each event's time; `cost` is the ticket-linked part,
    `unattributed_spend` the rest, `whole_bill` both; `unpriced` the usage no plan prices.
    """
    if mode not in MODES:
        raise RangeRefused(f"Unknown mode {mode!r}: use tokens or cost.", code="invalid_mode")
    buckets = buckets_for(start=start, end=end, zone=tenant.zone, bucket=bucket)
    models = {m.id: m for m in LlmModel.objects.filter(tenant=tenant)}
    periods = PlanPeriods(models, buckets.start, buckets.end)
    with localcontext() as context, serial_reads():
        context.prec = 60  # cost sums stay exact far beyond any real bill
        return _activity(tenant, buckets, mode, models, periods)


@dataclass
class ModelTally:
    """The model facts summed per bucket and per model, priced or kept apart: the one
    place that sorts usage into ticket-linked cost, unattributed spend and unpriced."""

    bucket_sums: list[Sums]
    bucket_costs: list[Cost]
    # Per bucket too, for the history's cycles (a bucket per month).
    bucket_unpriced: dict[int, Sums] = field(default_factory=lambda: defaultdict(Sums))
    bucket_unattributed_costs: dict[int, Cost] = field(default_factory=lambda: defaultdict(Cost))
    model_sums: dict[int, Sums] = field(default_factory=lambda: defaultdict(Sums))
    model_costs: dict[int, Cost] = field(default_factory=lambda: defaultdict(Cost))
    unpriced: dict[int, Sums] = field(default_factory=lambda: defaultdict(Sums))
    unattributed: dict[int, Sums] = field(default_factory=lambda: defaultdict(Sums))
    unattributed_costs: dict[int, Cost] = field(default_factory=lambda: defaultdict(Cost))

    def add(self, fact: ModelFact, sums: Sums, periods: PlanPeriods) -> None:
        self.bucket_sums[fact.bucket].add(sums)
        self.model_sums[fact.model_id].add(sums)
        cost = periods.cost(fact.model_id, fact.period, sums)
        if cost is None:
            self.unpriced[fact.model_id].add(sums)  # on a ticket or not: no plan prices it
            self.bucket_unpriced[fact.bucket].add(sums)
        elif fact.on_ticket:
            self.bucket_costs[fact.bucket] += cost
            self.model_costs[fact.model_id] += cost
        else:
            self.unattributed[fact.model_id].add(sums)
            self.unattributed_costs[fact.model_id] += cost
            self.bucket_unattributed_costs[fact.bucket] += cost


def _activity(
    tenant: Tenant, buckets: Buckets, mode: str, models: dict, periods: PlanPeriods
) -> Activity:
    model_pieces = pieces(buckets.start, buckets.end, model_grains(buckets), periods.cuts())
    consumer_pieces = pieces(buckets.start, buckets.end, SUMMARY_GRAINS)
    ticket_pieces = pieces(buckets.start, buckets.end, SUMMARY_GRAINS, periods.cuts())
    raw = RawEdges(tenant, [*model_pieces.raw, *consumer_pieces.raw, *ticket_pieces.raw])
    tally = ModelTally([Sums() for _ in buckets.edges], [Cost()] * len(buckets))
    for fact, sums in model_facts(tenant, buckets, periods, model_pieces, raw).items():
        tally.add(fact, sums, periods)
    total = Sums()
    for sums in tally.bucket_sums:
        total.add(sums)
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
        cost=sum(tally.model_costs.values(), Cost()),
        unattributed_spend=sum(tally.unattributed_costs.values(), Cost()),
        requests=total.requests,
        by_model=_by_model(models, tally, mode),
        top_consumers=_top_consumers(consumer_facts(tenant, consumer_pieces, raw)),
        top_tickets=top_tickets(tenant, periods, ticket_pieces, raw),
        unpriced=_unpriced(models, tally, periods.unpriced_message),
        unattributed=_unattributed(models, tally),
    )


def _series(buckets: Buckets, tally: ModelTally) -> tuple[SeriesPoint, ...]:
    zone = buckets.zone
    return tuple(
        SeriesPoint(
            start=buckets.edges[i].astimezone(zone),
            end=buckets.bucket_end(i).astimezone(zone),
            tokens=sums.tokens,
            cost=tally.bucket_costs[i],
            requests=sums.requests,
        )
        for i, sums in enumerate(tally.bucket_sums)
    )


def _by_model(models: dict, tally: ModelTally, mode: str) -> tuple[ModelUsage, ...]:
    by_model = [
        ModelUsage(
            model_id=model_id,
            name=models[model_id].name,
            provider=models[model_id].provider,
            tokens=sums.tokens,
            requests=sums.requests,
            cost=tally.model_costs.get(model_id, Cost()),
            unpriced_tokens=tally.unpriced.get(model_id, Sums()).tokens,
            unattributed_tokens=tally.unattributed.get(model_id, Sums()).tokens,
            unattributed_cost=tally.unattributed_costs.get(model_id, Cost()),
        )
        for model_id, sums in tally.model_sums.items()
    ]
    if mode == "cost":
        by_model.sort(
            key=lambda m: (-m.cost.total, -m.unattributed_cost.total, -m.tokens.total, m.name)
        )
    else:
        by_model.sort(key=lambda m: (-m.tokens.total, m.name))
    return tuple(by_model)


def _top_consumers(facts: dict[str, Sums]) -> tuple[ConsumerUsage, ...]:
    consumers = (
        ConsumerUsage(consumer=name, tokens=sums.tokens, requests=sums.requests)
        for name, sums in facts.items()
    )
    return tuple(sorted(consumers, key=lambda c: (-c.tokens.total, c.consumer))[:TOP])


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
