"""Reads about LLM budgets: the Budget card and `GET /api/v1/usage/budget/` as plain data."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django.utils import timezone

from licensing.models import Tenant
from usage.budgets.models import Budget, BudgetPeriod
from usage.projections import Month, SpendProjection, month_of, spend_projection

WARNING_PERCENT = 80
BANNER_PERCENT = 90  # SPEC §5.2: a hard budget at 90 % or more
DANGER_PERCENT = 100


@dataclass(frozen=True)
class BudgetDimension:
    """Spent and reserved against a limit in one dimension ("usd" or "tokens")."""

    dimension: str
    limit: Decimal | int | None
    spent: Decimal | int
    reserved: Decimal | int

    @property
    def used(self) -> Decimal | int:
        return self.spent + self.reserved

    @property
    def remaining(self) -> Decimal | int | None:
        """What a call may still reserve (0 once spent + reserved reach the limit)."""
        if self.limit is None:
            return None
        return max(self.limit - self.used, 0)

    @property
    def percent(self) -> float | None:
        """(spent + reserved) / limit, one decimal; a limit of 0 is full."""
        if self.limit is None:
            return None
        if self.limit == 0:
            return 100.0
        return round(float(Decimal(self.used) * 100 / Decimal(self.limit)), 1)

    def _bar(self, value) -> float:
        if not self.limit:
            return 100.0 if self.limit == 0 else 0.0
        return min(float(Decimal(value) * 100 / Decimal(self.limit)), 100.0)

    @property
    def spent_bar(self) -> float:
        return self._bar(self.spent)

    @property
    def reserved_bar(self) -> float:
        return max(min(self._bar(self.used), 100.0) - self.spent_bar, 0.0)

    @property
    def level(self) -> str:
        if self.limit is None:
            return "ok"
        if self.used * 100 >= DANGER_PERCENT * self.limit:
            return "danger"
        if self.used * 100 >= WARNING_PERCENT * self.limit:
            return "warning"
        return "ok"


@dataclass(frozen=True)
class BudgetCard:
    """The Budget card: the budget (None: none set), this month's figures and projection."""

    budget: Budget | None
    month: Month
    usd: BudgetDimension
    tokens: BudgetDimension
    spend: SpendProjection

    @property
    def hard(self) -> bool:
        return self.budget is not None and self.budget.kind == Budget.Kind.HARD

    @property
    def needs_banner(self) -> bool:
        """A hard budget at BANNER_PERCENT or more in either dimension (SPEC §5.2)."""
        return self.hard and any(
            d.limit is not None and d.used * 100 >= BANNER_PERCENT * d.limit
            for d in (self.usd, self.tokens)
        )


def budget_card(tenant: Tenant, *, now: datetime | None = None) -> BudgetCard:
    """The tenant's budget and this month's period in two small queries, whatever the data
    size (no period row yet: nothing spent or reserved this month)."""
    now = now or timezone.now()
    month = month_of(now, tenant.zone)
    budget = Budget.objects.filter(tenant=tenant).first()
    period = BudgetPeriod.objects.filter(tenant=tenant, month=month.first_day).first()
    return budget_card_of(tenant, budget=budget, period=period, now=now)


def budget_card_of(
    tenant: Tenant, *, budget: Budget | None, period: BudgetPeriod | None, now: datetime
) -> BudgetCard:
    """The card from the budget and this month's period as read (no database): for a caller
    that read them in a query of its own (`usage.plan`)."""
    month = month_of(now, tenant.zone)
    if period is None:
        period = BudgetPeriod(tenant=tenant, month=month.first_day, ends_at=month.ends_at)
    today = now.astimezone(tenant.zone).date()
    limit_usd = budget.limit_usd if budget else None
    limit_tokens = budget.limit_tokens if budget else None
    spend = spend_projection(
        month_to_date_usd=period.spent_usd,
        today_usd=period.latest_day_spent_usd if period.latest_day == today else Decimal(0),
        complete_days=(today - month.first_day).days,
        days_in_month=month.days,
        limit_usd=limit_usd,
        limit_tokens=limit_tokens,
        kind=budget.kind if budget else None,
    )
    return BudgetCard(
        budget=budget,
        month=month,
        usd=BudgetDimension("usd", limit_usd, period.spent_usd, period.reserved_usd),
        tokens=BudgetDimension("tokens", limit_tokens, period.spent_tokens, period.reserved_tokens),
        spend=spend,
    )
