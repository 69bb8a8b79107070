"""Writes about LLM budgets (SPEC §8.2), by sub-domain.

- `periods.py`: set a budget; the month's period row; the signal when its figures move;
- `authorize.py`: reserve an LLM call's estimate, or refuse it (the one conditional UPDATE);
- `settle.py`: settle reservations by their usage events, expire the unsettled ones;
- `errors.py`: the domain errors.
"""

from usage.budgets.services.authorize import Authorization, authorize, call_estimate
from usage.budgets.services.errors import BudgetExhausted, BudgetRefused
from usage.budgets.services.periods import budget_set
from usage.budgets.services.settle import (
    RESERVATION_LIFETIME,
    Settled,
    reservations_expire,
    reservations_settle,
)

__all__ = [
    "RESERVATION_LIFETIME",
    "Authorization",
    "BudgetExhausted",
    "BudgetRefused",
    "Settled",
    "authorize",
    "budget_set",
    "call_estimate",
    "reservations_expire",
    "reservations_settle",
]
