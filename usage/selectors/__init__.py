"""Reads about LLM usage, by sub-domain; selectors return plain data.

- `activity.py`: `activity`, the usage of a range in Cost and Tokens (SPEC §5.1);
- `figures.py`: the plain data it returns;
- `breakdowns.py`: its facts per bucket and model, consumer and ticket;
- `rollups.py`: reading a range from the rollups and the raw edges;
- `periods.py`: the plan changes inside a range, numbered for SQL;
- `models.py`: the models and their pricing plans.

`plan_usage` (the Plan-usage card) lives in `usage/plan.py`.
"""

from usage.pricing import Cost
from usage.selectors.activity import MODES, activity
from usage.selectors.breakdowns import TOP
from usage.selectors.figures import (
    Activity,
    ConsumerUsage,
    ModelUsage,
    Requests,
    SeriesPoint,
    TicketCost,
    Tokens,
    UnattributedSpend,
    UncostedUsage,
)
from usage.selectors.models import llm_model_list

__all__ = [
    "MODES",
    "TOP",
    "Activity",
    "ConsumerUsage",
    "Cost",
    "ModelUsage",
    "Requests",
    "SeriesPoint",
    "TicketCost",
    "Tokens",
    "UnattributedSpend",
    "UncostedUsage",
    "activity",
    "llm_model_list",
]
