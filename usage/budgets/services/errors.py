"""The budgets' domain errors, translated once at each edge (the API's exception handler)."""

from decimal import Decimal
from typing import Any

from licensing.errors import DomainError
from usage.budgets.models import BudgetPeriod
from usage.pricing import decimal_text, optional_decimal_text


class BudgetRefused(DomainError):
    """A budget or authorization request that is not valid (400), naming the fields."""

    code = "invalid"

    def __init__(self, detail: str, *, errors: dict[str, list[str]]) -> None:
        super().__init__(detail)
        self.errors = errors

    def extra(self) -> dict[str, Any]:
        return {"errors": self.errors}


class BudgetExhausted(DomainError):
    """A hard budget that the call's estimate would pass: 403, nothing reserved."""

    code = "budget_exhausted"
    http_status = 403

    def __init__(self, *, period: BudgetPeriod, estimate_usd: Decimal, estimate_tokens: int):
        self.period, self.estimate_usd, self.estimate_tokens = period, estimate_usd, estimate_tokens
        parts = []
        if period.limit_usd is not None:
            parts.append(
                f"${decimal_text(period.spent_usd)} spent and "
                f"${decimal_text(period.reserved_usd)} reserved of "
                f"${decimal_text(period.limit_usd)}; "
                f"this call may cost ${decimal_text(estimate_usd)}"
            )
        if period.limit_tokens is not None:
            parts.append(
                f"{period.spent_tokens} tokens spent and {period.reserved_tokens} reserved of "
                f"{period.limit_tokens}; this call may use {estimate_tokens}"
            )
        super().__init__(
            f"The hard LLM budget for {period.month:%B %Y} is exhausted: {'; '.join(parts)}. "
            "Raise the budget or wait for the next month."
        )

    def extra(self) -> dict[str, Any]:
        p = self.period
        return {
            "budget": {
                "kind": "hard",
                "month": f"{p.month:%Y-%m}",
                "limit_usd": optional_decimal_text(p.limit_usd),
                "limit_tokens": p.limit_tokens,
            },
            "spent_usd": optional_decimal_text(p.spent_usd),
            "reserved_usd": optional_decimal_text(p.reserved_usd),
            "spent_tokens": p.spent_tokens,
            "reserved_tokens": p.reserved_tokens,
            "estimate_usd": optional_decimal_text(self.estimate_usd),
            "estimate_tokens": self.estimate_tokens,
            "period_ends_at": p.ends_at.isoformat(),
        }
