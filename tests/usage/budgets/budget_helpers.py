"""Shared by the budget tests: a priced model, a budget, a call of a known estimate."""

from decimal import Decimal

from tests.usage.usage_helpers import model_with_plan
from usage.budgets.models import BudgetPeriod
from usage.budgets.services import authorize, budget_set

# $1 per million input tokens, $2 per million output tokens (and $0.50 cached).
PRICES = ("1", "2", "0.5")


def priced_model(tenant, name: str = "gpt-4o"):
    return model_with_plan(tenant, name, prices=PRICES)


def hard_budget(tenant, usd: str | None = "10", *, tokens: int | None = None, kind="hard"):
    budget, _ = budget_set(
        tenant=tenant,
        limit_usd=None if usd is None else Decimal(usd),
        limit_tokens=tokens,
        kind=kind,
    )
    return budget


def call(tenant, request_id: str, usd: str = "1", *, model: str = "gpt-4o", **extra):
    """Authorize a call whose estimate is `usd` (input $usd/2, output $usd/2)."""
    micro = int(Decimal(usd) * 1_000_000)
    assert micro % 4 == 0, "pick an estimate divisible into whole tokens"
    return authorize(
        tenant=tenant,
        request_id=request_id,
        model=model,
        input_tokens=micro // 2,
        max_output_tokens=micro // 4,
        **extra,
    )


def period_of(tenant) -> BudgetPeriod:
    return BudgetPeriod.objects.get(tenant=tenant)
