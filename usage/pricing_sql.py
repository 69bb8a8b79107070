"""The SQL form of `usage/pricing.py`'s rule, for reads that price every event in SQL.

`PricingTimeline.in_force` says a plan is in force from its `effective_at` until the
model's next plan, and `token_cost` prices tokens at USD per million. Here the same
rule is a range join: each plan carries the `effective_at` of the model's next plan
(`LEAD`), and an event joins the one plan whose `[effective_at, next)` holds its time
(a LEFT JOIN: no plan then means unpriced, never $0). Cost is numeric, exact: tokens
times price times 0.000001, the scale adding up, nothing rounded.

`tests/usage/test_pricing_sql.py` checks, event by event on random data, that this
SQL and `pricing.py` agree; change both or neither.
"""

from django.db import connection

from usage.models import PricingPlan

# Which plan is in force when: one row per plan with the time the next one takes effect.
PLANS_IN_FORCE_CTE = f"""
plan AS (
    SELECT model_id, input_per_million, output_per_million, cached_per_million,
        effective_at AS since,
        LEAD(effective_at) OVER (PARTITION BY model_id ORDER BY effective_at) AS until
    FROM {connection.ops.quote_name(PricingPlan._meta.db_table)}
)
"""


def plan_join(event: str) -> str:
    """`LEFT JOIN plan`: the plan in force at the time of the events aliased `event`."""
    return (
        f"LEFT JOIN plan ON plan.model_id = {event}.model_id "
        f"AND {event}.occurred_at >= plan.since "
        f"AND (plan.until IS NULL OR {event}.occurred_at < plan.until)"
    )


def cost_sql(event: str) -> str:
    """The exact cost (numeric USD) of one event under the joined plan; NULL if none."""
    return (
        f"(({event}.input_tokens * plan.input_per_million"
        f" + {event}.output_tokens * plan.output_per_million"
        f" + {event}.cached_tokens * plan.cached_per_million) * 0.000001)"
    )


def cost_text_sql(event: str) -> str:
    """`cost_sql` as `pricing.decimal_text` writes it: no trailing zeros, no exponent."""
    return f"trim_scale({cost_sql(event)})::text"
