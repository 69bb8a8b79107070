"""The usage part of `seed_demo`: models, pricing plans and 30 days of LLM usage.

Events go through `usage_events_record` in batches of 1,000, the same path as the API, so
the rollups stay exact. About 24,000 events: a daily rhythm in the tenant's time zone
(busy working hours, quiet nights and weekends), cached input, 3 % failures, several
agents and people, usage on the tenant's tickets and off them, one model with no plan.
"""

import random
from collections.abc import Callable
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from licensing.models import Tenant
from tasks.models import Ticket
from usage.models import GRAIN_SECONDS
from usage.services import MAX_BATCH, llm_model_create, pricing_plan_create, usage_events_record

DAYS = 30
EVENTS_PER_WORKING_HOUR = 80
# (name, provider, price before the change, price after the change or None, share of use)
MODELS = [
    ("gpt-4o", "OpenAI", ("2.50", "10.00", "1.25"), ("2.00", "8.00", "1.00"), 0.35),
    ("gpt-4o-mini", "OpenAI", ("0.15", "0.60", "0.075"), None, 0.30),
    ("claude-sonnet", "Anthropic", ("3.00", "15.00", "0.30"), ("3.00", "12.00", "0.30"), 0.25),
    ("llama-local", "self-hosted", None, None, 0.10),  # no pricing plan: shown apart
]
CONSUMERS = ["agent-triage", "agent-disk-cleaner", "agent-patcher", "alice", "bob"]
# Relative activity per local hour (0-23): people and agents work in office hours.
HOURLY = [1, 1, 1, 1, 1, 2, 3, 6, 10, 12, 12, 11, 8, 10, 12, 12, 11, 9, 6, 4, 3, 2, 1, 1]


def seed_usage(tenant: Tenant, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Create the demo models, plans and usage; returns the number of events stored."""
    rng = random.Random(2026)
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    # A price change in the middle of the range, on the pricing grain (a quarter hour).
    change = now - timedelta(days=DAYS // 2)
    change -= timedelta(seconds=change.timestamp() % GRAIN_SECONDS)
    first_plan = start - timedelta(days=30)
    first_plan -= timedelta(seconds=first_plan.timestamp() % GRAIN_SECONDS)
    for name, provider, before, after, _ in MODELS:
        model = llm_model_create(tenant=tenant, name=name, provider=provider)
        # Newest plan first: a past plan is accepted only as a model's first plan or
        # before it (it then prices only usage that had no price), the public rule of
        # pricing_plan_create, so the demo needs no way around it.
        for prices, effective_at in ((after, change), (before, first_plan)):
            if prices is not None:
                pricing_plan_create(
                    model=model,
                    input_per_million=Decimal(prices[0]),
                    output_per_million=Decimal(prices[1]),
                    cached_per_million=Decimal(prices[2]),
                    effective_at=effective_at,
                )

    tickets = list(Ticket.objects.filter(tenant=tenant).values_list("id", flat=True))
    events = list(_events(rng, tenant, start, now, tickets))
    total = len(events)
    for offset in range(0, total, MAX_BATCH):
        usage_events_record(tenant=tenant, events=events[offset : offset + MAX_BATCH])
        if progress:
            progress(min(offset + MAX_BATCH, total), total)
    return total


def _events(rng: random.Random, tenant: Tenant, start, end, tickets: list[int]):
    zone = tenant.zone
    names = [m[0] for m in MODELS]
    weights = [m[4] for m in MODELS]
    hour = start.replace(minute=0, second=0)
    number = 0
    while hour < end:
        local = hour.astimezone(zone)
        next_hour = hour + timedelta(hours=1)
        rate = EVENTS_PER_WORKING_HOUR * HOURLY[local.hour] / 12
        if local.weekday() >= 5:
            rate /= 4
        for _ in range(_poisson(rng, rate)):
            at = hour + timedelta(seconds=rng.randrange(3600))
            if not start <= at < end:
                continue
            model = rng.choices(names, weights)[0]
            prompt = int(rng.lognormvariate(7.5, 0.8))
            cached = int(prompt * rng.choice([0, 0, 0.3, 0.6, 0.8]))
            number += 1
            yield {
                "request_id": f"demo-{number:06d}",
                "occurred_at": at,
                "model": model,
                "input_tokens": min(prompt - cached, 2**31 - 1),
                "cached_tokens": cached,
                "output_tokens": int(rng.lognormvariate(5.5, 0.9)),
                "ticket": rng.choice(tickets) if tickets and rng.random() < 0.65 else None,
                "consumer": rng.choice(CONSUMERS),
                "succeeded": rng.random() > 0.03,
            }
        hour = next_hour


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth); means here are small."""
    limit, count, product = 2.718281828459045**-mean, 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def progress_bar(stream, label: str = "LLM usage", width: int = 30) -> Callable[[int, int], None]:
    """A one-line text progress bar for `seed_usage(progress=...)` on a command's stdout."""

    def show(done: int, total: int) -> None:
        filled = width * done // total
        bar = "#" * filled + "." * (width - filled)
        stream.write(f"\r  {label} [{bar}] {done:,}/{total:,} events", ending="")
        if done >= total:
            stream.write("")
        stream.flush()

    return show
