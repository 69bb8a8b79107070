"""The demo's LLM usage: models, a price change, months of events, a budget near its limit.

Events go through `usage_events_record`, the API's service, in batches of at most
MAX_BATCH, so the rollups, the budget period and the budget alerts stay exact; their
`occurred_at` is the story's time, which the service takes as given (no backdating).

The story in the figures: usage grows with the tasks; `agent-triage` is the heavy
consumer and `gpt-4o` the heavy model; gpt-4o and claude-sonnet change price in the
middle (the old price keeps pricing the usage before it); `llama-local` runs on the
customer's own GPUs with no pricing plan (counted apart and named); about a third of the
usage is on no ticket (unattributed spend); 4 % of requests fail. Agents report the host
they run on; people call from their laptops (no host).
"""

import bisect
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from decimal import ROUND_CEILING, Decimal

from licensing.models import Tenant
from tasks.models import Ticket
from usage.budgets.services import budget_set
from usage.models import GRAIN_SECONDS, LlmModel
from usage.pricing import PricingTimeline, token_cost
from usage.projections import month_of
from usage.services import MAX_BATCH, llm_model_create, pricing_plan_create, usage_events_record
from usage.services.events import UsageEventData

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class Model:
    name: str
    provider: str
    first_prices: tuple[str, str, str] | None  # input, output, cached USD per million
    new_prices: tuple[str, str, str] | None  # from the price change on
    share: float  # of the requests


MODELS = (
    Model("gpt-4o", "OpenAI", ("2.50", "10.00", "1.25"), ("2.00", "8.00", "1.00"), 0.38),
    Model("gpt-4o-mini", "OpenAI", ("0.15", "0.60", "0.075"), None, 0.30),
    Model("claude-sonnet", "Anthropic", ("3.00", "15.00", "0.30"), ("3.00", "12.00", "0.30"), 0.22),
    Model("llama-local", "self-hosted", None, None, 0.10),  # no pricing plan: shown apart
)
# (consumer, share of the requests, prompt size factor, the hosts it runs on): the triage
# agent reads whole incident threads, so its prompts are long, and it prefers the big
# model; people call from their laptops (no host).
Consumer = tuple[str, float, float, tuple[str, ...]]
CONSUMERS: tuple[Consumer, ...] = (
    ("agent-triage", 0.40, 2.2, ("web-1", "web-2")),
    ("agent-disk-cleaner", 0.20, 0.6, ("db-1", "db-2")),
    ("agent-patcher", 0.18, 0.8, ("web-1", "web-2", "web-3", "build-1")),
    ("alice", 0.12, 0.5, ()),
    ("bob", 0.10, 0.5, ()),
)
# Relative activity per local hour (0-23): people and agents work in office hours.
HOURLY = (1, 1, 1, 1, 1, 2, 3, 6, 10, 12, 12, 11, 8, 10, 12, 12, 11, 9, 6, 4, 3, 2, 1, 1)
FAILURE_RATE = 0.04
ON_A_TICKET = 0.65  # the rest is unattributed spend (or unpriced, on llama-local)
TICKET_WORK_DAYS = 10  # usage is on tickets received in the days before it
BUDGET_USE = Decimal("0.91")  # the month's hard budget is 91 % used
RUNAWAY_HOURS = timedelta(hours=5)
PRICE_CHANGE_DAYS_AGO = 95


def models_create(
    tenant: Tenant,
    *,
    first_plan_at: datetime,
    change_at: datetime,
    models: tuple[Model, ...] = MODELS,
) -> None:
    """The models and their plans: a first plan at `first_plan_at` and, for some, a price
    change at `change_at` (both on the 15-minute pricing grain)."""
    for model in models:
        created = llm_model_create(tenant=tenant, name=model.name, provider=model.provider)
        # Newest plan first: a past plan is accepted only as a model's first plan or
        # before it (it then prices only usage that had no price), the public rule of
        # pricing_plan_create, so the demo needs no way around it.
        for prices, effective_at in (
            (model.new_prices, change_at),
            (model.first_prices, first_plan_at),
        ):
            if prices is not None:
                pricing_plan_create(
                    model=created,
                    input_per_million=Decimal(prices[0]),
                    output_per_million=Decimal(prices[1]),
                    cached_per_million=Decimal(prices[2]),
                    effective_at=effective_at,
                )


def on_the_grain(instant: datetime) -> datetime:
    """The quarter hour at or before `instant`: when a pricing plan may take effect."""
    whole = instant.replace(microsecond=0)
    return whole - timedelta(seconds=int(whole.timestamp()) % GRAIN_SECONDS)


@dataclass(frozen=True)
class Volume:
    """Requests per busy local hour: `start` at the beginning, `end` by now (linear)."""

    start: float
    end: float


def events(
    rng: random.Random,
    tenant: Tenant,
    *,
    start: datetime,
    end: datetime,
    volume: Volume,
    prefix: str,
    models: tuple[Model, ...] = MODELS,
    consumers: tuple[Consumer, ...] = CONSUMERS,
) -> Iterator[UsageEventData]:
    """The usage records of `[start, end)`, hour by hour in the tenant's zone (busy working
    hours, quiet nights and weekends), on tickets received in the days before each."""
    tickets = _tickets_by_time(tenant)
    names, weights = [m.name for m in models], [m.share for m in models]
    span = (end - start).total_seconds()
    hour = start.replace(minute=0, second=0, microsecond=0)
    number = 0
    while hour < end:
        local = hour.astimezone(tenant.zone)
        progress = max(0.0, (hour - start).total_seconds() / span)
        rate = (volume.start + (volume.end - volume.start) * progress) * HOURLY[local.hour] / 12
        if local.weekday() >= 5:
            rate /= 4
        for _ in range(poisson(rng, rate)):
            at = hour + timedelta(seconds=rng.randrange(3600))
            if not start <= at < end:
                continue
            consumer, _, size, hosts = rng.choices(consumers, [c[1] for c in consumers])[0]
            model = "gpt-4o" if size > 2 and rng.random() < 0.5 else rng.choices(names, weights)[0]
            if model not in names:
                model = names[0]
            prompt = int(rng.lognormvariate(9.3, 0.8) * size)
            cached = int(prompt * rng.choice([0, 0, 0.3, 0.6, 0.8]))
            number += 1
            yield {
                "request_id": f"{prefix}-{number:06d}",
                "occurred_at": at,
                "model": model,
                "input_tokens": prompt - cached,
                "cached_tokens": cached,
                "output_tokens": int(rng.lognormvariate(6.3, 0.9)),
                "ticket": _a_ticket(rng, tickets, at) if rng.random() < ON_A_TICKET else None,
                "consumer": consumer,
                "host": rng.choice(hosts) if hosts else None,
                "succeeded": rng.random() > FAILURE_RATE,
            }
        hour += timedelta(hours=1)


def _tickets_by_time(tenant: Tenant) -> tuple[list[datetime], list[int]]:
    """The tenant's converted one-off tickets (a schedule's ticket is routine work), by time."""
    rows = list(
        Ticket.objects.filter(
            tenant=tenant, status=Ticket.Status.CONVERTED, recurrence__isnull=True
        )
        .order_by("received_at")
        .values_list("received_at", "id")
    )
    return [row[0] for row in rows], [row[1] for row in rows]


def _a_ticket(rng: random.Random, tickets: tuple[list[datetime], list[int]], at: datetime):
    times, ids = tickets
    last = bisect.bisect_right(times, at)
    first = bisect.bisect_left(times, at - timedelta(days=TICKET_WORK_DAYS))
    return ids[rng.randrange(first, last)] if first < last else None


def poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth); means here are small."""
    limit, count, product = 2.718281828459045**-mean, 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def record(
    tenant: Tenant,
    records: list[UsageEventData],
    *,
    batch: int = MAX_BATCH,
    progress: Progress | None = None,
    after_batch: Callable[[datetime], None] | None = None,
    done: int = 0,
    total: int | None = None,
) -> None:
    """Store `records` (in time order) through the ingestion service, a batch at a time;
    `after_batch(time of its last event)` runs after each (alerts it raised)."""
    for offset in range(0, len(records), batch):
        chunk = records[offset : offset + batch]
        usage_events_record(tenant=tenant, events=chunk)
        if after_batch is not None:
            after_batch(chunk[-1]["occurred_at"])
        if progress:
            progress(done + min(offset + batch, len(records)), total or len(records))


def pricer(tenant: Tenant) -> Callable[[UsageEventData], Decimal]:
    """What a record adds to the budget: priced by the plan in force at its time
    (`usage.pricing`, the one home of that rule); an unpriced one counts 0."""
    ids = dict(LlmModel.objects.filter(tenant=tenant).values_list("name", "id"))
    timeline = PricingTimeline.of_models(ids.values())

    def cost(item: UsageEventData) -> Decimal:
        plan = timeline.in_force(ids[item["model"]], item["occurred_at"])
        if plan is None:
            return Decimal(0)
        return token_cost(
            plan,
            input=item["input_tokens"],
            output=item["output_tokens"],
            cached=item.get("cached_tokens", 0),
        ).total

    return cost


def runaway_loop(
    rng: random.Random,
    tenant: Tenant,
    *,
    costing: Decimal,
    start: datetime,
    end: datetime,
) -> list[UsageEventData]:
    """The triage agent stuck retrying one ticket over `[start, end)`: long gpt-4o prompts,
    a third of them failing, until they cost `costing` (what takes the budget to
    BUDGET_USE)."""
    cost, ticket = pricer(tenant), _tickets_by_time(tenant)[1][-1:]
    records: list[UsageEventData] = []
    spent = Decimal(0)
    seconds = max(int((end - start).total_seconds()), 1)
    while spent < costing:
        prompt = int(rng.lognormvariate(10.4, 0.2))
        item: UsageEventData = {
            "request_id": f"demo-loop-{len(records) + 1:06d}",
            "occurred_at": start + timedelta(seconds=rng.randrange(seconds)),
            "model": "gpt-4o",
            "input_tokens": prompt,
            "cached_tokens": 0,
            "output_tokens": int(rng.lognormvariate(6.5, 0.3)),
            "ticket": ticket[0] if ticket else None,
            "consumer": "agent-triage",
            "host": "web-1",
            "succeeded": rng.random() > 0.33,
        }
        spent += cost(item)
        records.append(item)
    return records


def story_usage(
    tenant: Tenant,
    *,
    start: datetime,
    now: datetime,
    month_start: datetime,
    volume: Volume,
    before_the_month: Callable[[], None] = lambda: None,
    after_batch: Callable[[datetime], None] | None = None,
    progress: Progress | None = None,
) -> int:
    """The tenant's usage from `start` to `now`. The months before this one first; then
    `before_the_month()` (an endpoint added, say); then a hard budget of last month's bill
    (rounded up to $10), set before this month's usage so that its crossings raise their
    alerts as they happen; then this month's usage in small batches (each batch's alerts
    delivered by `after_batch`), with, in its last hours, the triage agent's runaway loop
    that takes the budget to BUDGET_USE. Returns the count of events."""
    rng = random.Random(2026)
    records = list(events(rng, tenant, start=start, end=now, volume=volume, prefix="demo"))
    times = [item["occurred_at"] for item in records]
    split = bisect.bisect_left(times, month_start)
    earlier, this_month = records[:split], records[split:]
    record(tenant, earlier, progress=progress, total=len(records))
    before_the_month()
    cost = pricer(tenant)
    last_month = records[
        bisect.bisect_left(
            times, month_of(month_start - timedelta(seconds=1), tenant.zone).starts_at
        ) : split
    ]
    month_to_date = sum((cost(item) for item in this_month), Decimal(0))
    limit = max(
        (sum((cost(item) for item in last_month), Decimal(0)) / 10).to_integral_value(ROUND_CEILING)
        * 10,
        (month_to_date / BUDGET_USE).quantize(Decimal("0.01"), ROUND_CEILING),
    )
    loop_end = now - timedelta(minutes=10)
    if limit > 0:
        budget_set(tenant=tenant, limit_usd=limit, limit_tokens=None, kind="hard")
        loop_start = max(month_start, now - RUNAWAY_HOURS)
        this_month += runaway_loop(
            rng,
            tenant,
            costing=limit * BUDGET_USE - month_to_date,
            start=loop_start,
            end=loop_end,
        )
        this_month.sort(key=lambda item: item["occurred_at"])
    # Recorded in two parts, cut where the loop ends: early in a month one batch can span
    # the whole loop, and its alerts would be raised at its last event, about `now`: too
    # late for any retry of a failing endpoint to lie in the past.
    cut = bisect.bisect_left([item["occurred_at"] for item in this_month], loop_end)
    total = len(earlier) + len(this_month)
    for done, part in ((len(earlier), this_month[:cut]), (len(earlier) + cut, this_month[cut:])):
        record(
            tenant,
            part,
            batch=200,
            after_batch=after_batch,
            progress=progress,
            done=done,
            total=total,
        )
    return total
