"""usage/pricing_sql.py, the SQL form of pricing.py's rule, agrees with it event by event."""

import random
from datetime import UTC, datetime, timedelta

from django.db import connection

from tests.usage.usage_helpers import model_with_plan, record, scheduled_plan, ticket_for
from usage.models import UsageEvent
from usage.pricing import PricingTimeline, decimal_text, token_cost
from usage.pricing_sql import cost_text_sql, period_join, plan_periods_cte

START = datetime(2026, 6, 1, tzinfo=UTC)


def _random_price(rng: random.Random) -> tuple[str, str, str]:
    return tuple(f"{rng.randrange(0, 30_000_000) / 10**6:f}" for _ in range(3))


# The plan in force, as SQL reading one tenant's events (parameter: its id).
PLAN_PERIODS = (
    "WITH model AS (SELECT id FROM usage_llmmodel WHERE tenant_id = %(tenant)s), "
    f"{plan_periods_cte(models='model')} SELECT e.id, {cost_text_sql('e')} "
    f"FROM usage_usageevent e {period_join('e')} WHERE e.tenant_id = %(tenant)s"
)


def test_the_sql_plan_in_force_and_cost_equal_pricing_py_on_random_events(tenant_a):
    rng = random.Random(15)
    changes = [START + timedelta(minutes=15 * rng.randrange(1, 4 * 24 * 10)) for _ in range(6)]
    gpt = model_with_plan(tenant_a, "gpt", prices=_random_price(rng), effective_at=START)
    for at in sorted(set(changes)):
        scheduled_plan(gpt, _random_price(rng), at)
    model_with_plan(tenant_a, "claude", prices=_random_price(rng), effective_at=changes[0])
    model_with_plan(tenant_a, "local", prices=None)
    ticket = ticket_for(tenant_a)
    times = [START + timedelta(seconds=rng.randrange(-86400, 11 * 86400)) for _ in range(300)]
    times += changes + [at - timedelta(microseconds=1) for at in changes]  # the edges exactly
    record(
        tenant_a,
        [
            {
                "occurred_at": at.isoformat(),
                "request_id": f"r{i}",
                "model": rng.choice(["gpt", "claude", "local"]),
                "input_tokens": rng.randrange(2**31),
                "output_tokens": rng.randrange(2**31),
                "cached_tokens": rng.randrange(2**31),
                "ticket": rng.choice([ticket.id, None]),
            }
            for i, at in enumerate(times)
        ],
    )
    with connection.cursor() as cursor:
        cursor.execute(PLAN_PERIODS, {"tenant": tenant_a.id})
        rows = cursor.fetchall()
        from_sql = dict(rows)
    events = list(UsageEvent.objects.filter(tenant=tenant_a))
    timeline = PricingTimeline.of_models({e.model_id for e in events})
    from_python = {}
    for e in events:
        plan = timeline.in_force(e.model_id, e.occurred_at)
        cost = plan and token_cost(
            plan, input=e.input_tokens, output=e.output_tokens, cached=e.cached_tokens
        )
        from_python[e.id] = cost and decimal_text(cost.total)
    assert len(rows) == len(from_sql) == len(times)  # one plan (or none) per event
    assert from_sql == from_python
    assert sum(cost is None for cost in from_sql.values()) > 10  # unpriced ones were tried
