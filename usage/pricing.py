"""Pricing: the plan in force at a time, the cost of tokens, and money as text.

The one home of these rules (STYLE, "One rule, one place"): activity, the CSV export,
the models page and the `cost_usd` template filter all ask this module.
"""

from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from decimal import ROUND_HALF_UP, Decimal

from usage.models import PricingPlan

CENT = Decimal("0.01")
KINDS = ("input", "output", "cached")  # the kinds of token a plan prices
SMALLEST_SHOWN = Decimal("0.0001")


@dataclass(frozen=True)
class Cost:
    """Exact USD of some tokens, split by kind of token."""

    input: Decimal = Decimal(0)
    output: Decimal = Decimal(0)
    cached: Decimal = Decimal(0)

    @property
    def total(self) -> Decimal:
        return self.input + self.output + self.cached

    def __add__(self, other: "Cost") -> "Cost":
        return Cost(
            self.input + other.input, self.output + other.output, self.cached + other.cached
        )


def token_cost(plan: PricingPlan, *, input: int, output: int, cached: int) -> Cost:
    """The exact cost of tokens under `plan` (prices are USD per million tokens)."""
    return Cost(
        input=(input * plan.input_per_million).scaleb(-6),
        output=(output * plan.output_per_million).scaleb(-6),
        cached=(cached * plan.cached_per_million).scaleb(-6),
    )


# A price has at most 6 decimal places (its column's scale): in millionths of a USD per
# million tokens it is a whole number, which is also 10^-12 USD ("picodollars") per token.
_PICO_PLACES = 12
_PICO = Decimal(1).scaleb(-_PICO_PLACES)  # 1E-12


@dataclass(frozen=True)
class PicoPrices:
    """A plan's prices in picodollars (10^-12 USD) per token: whole numbers, so the cost of
    any sums of tokens is integer arithmetic (exact, and far cheaper than Decimal when a
    read prices thousands of rollup rows); `pico_cost` makes it a `Cost`. Equal to
    `token_cost` to the last digit (tests/usage/test_pricing.py)."""

    input: int
    output: int
    cached: int

    @classmethod
    def of(cls, plan: PricingPlan) -> "PicoPrices":
        return cls(*(_whole(getattr(plan, f"{kind}_per_million").scaleb(6)) for kind in KINDS))


def _whole(value: Decimal) -> int:
    whole = int(value)
    if whole != value:
        raise ValueError(f"A price with more than 6 decimal places: {value.scaleb(-6)}")
    return whole


def pico_cost(input: int, output: int, cached: int) -> Cost:
    """The `Cost` of amounts in picodollars (as summed with `PicoPrices`)."""
    if not (input or output or cached):
        return _NO_PICOS  # shared (frozen): most buckets of a night cost nothing
    # Times 1E-12, the same Decimal as scaleb(-12) (coefficient and exponent), ~30 % cheaper.
    return Cost(Decimal(input) * _PICO, Decimal(output) * _PICO, Decimal(cached) * _PICO)


_NO_PICOS = Cost(*(Decimal(0).scaleb(-_PICO_PLACES) for _ in KINDS))


class PricingTimeline:
    """The pricing plans of some models, oldest first: which one is in force when.

    A plan is in force from its `effective_at` until the model's next plan; before a
    model's first plan its usage has no price ("unpriced", never $0).
    """

    def __init__(self, plans: Iterable[PricingPlan]) -> None:
        self.plans: dict[int, list[PricingPlan]] = defaultdict(list)
        for plan in sorted(plans, key=lambda plan: plan.effective_at):
            self.plans[plan.model_id].append(plan)
        self._times = {
            model_id: [plan.effective_at for plan in plans]
            for model_id, plans in self.plans.items()
        }

    @classmethod
    def of_models(cls, model_ids: Iterable[int]) -> "PricingTimeline":
        """The plans of these models, in one query."""
        return cls(PricingPlan.objects.filter(model__in=list(model_ids)))

    def in_force(self, model_id: int, at: datetime) -> PricingPlan | None:
        """The plan in force at `at`: the latest one taking effect at or before it."""
        index = bisect_right(self._times.get(model_id, ()), at)
        return self.plans[model_id][index - 1] if index else None

    def changes(self, model_id: int, *, after: datetime, before: datetime) -> list[PricingPlan]:
        """The model's plans taking effect in `(after, before)`, oldest first."""
        times = self._times.get(model_id, ())
        return [
            plan
            for plan in self.plans[model_id][bisect_right(times, after) :]
            if plan.effective_at < before
        ]


def plan_in_force(plans: list[PricingPlan], at: datetime) -> PricingPlan | None:
    """Of one model's plans (oldest first), the one in force at `at`, or None."""
    return PricingTimeline(plans).in_force(plans[0].model_id, at) if plans else None


def decimal_text(value: Decimal) -> str:
    """An exact decimal without trailing zeros or exponent: 0.00001375, 12, 0 (API, CSV)."""
    return format(value.normalize(), "f")


def optional_decimal_text(value: Decimal | None) -> str | None:
    """`decimal_text`, with None (no limit, no figure) kept as None."""
    return None if value is None else decimal_text(value)


def price_usd(value: Decimal) -> str:
    """A price as people write it: $3.00, $0.075, $1,250.50 (no float on the way)."""
    whole, _, fraction = f"{value.normalize():f}".partition(".")
    return f"${int(whole):,}.{fraction.ljust(2, '0')}"


def cost_usd(amount: Decimal) -> str:
    """$1,234.57 from a cent up; $0.0042 or $0.005 below it; "< $0.0001" for less; $0 for 0.

    Agents' requests often cost a fraction of a cent: rounded to cents they would read
    as $0.00, which is what usage with no cost must never look like (SPEC §5.1).
    """
    amount = Decimal(amount)
    if amount == 0:
        return "$0"
    if amount >= CENT:
        return f"${amount.quantize(CENT, ROUND_HALF_UP):,}"
    shown = amount.quantize(SMALLEST_SHOWN, ROUND_HALF_UP)
    if shown == 0:
        return f"< ${SMALLEST_SHOWN}"
    whole, _, fraction = f"{shown.normalize():f}".partition(".")
    return f"${whole}.{fraction.ljust(2, '0')}"
