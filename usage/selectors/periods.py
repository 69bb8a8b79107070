"""Plan periods: which pricing plan prices each rollup row of an activity read.

Which plan is in force, and what tokens cost under it, is `usage/pricing.py`; this
module only numbers the plan changes inside a range so SQL can group rows by them.
"""

from collections.abc import Iterator
from datetime import UTC, datetime

from usage.models import LlmModel, PricingPlan
from usage.pricing import Cost, PricingTimeline, token_cost
from usage.selectors.figures import Sums


class PlanPeriods:
    """The plans that can apply in `[start, end)`, per model.

    A fact's `period` counts the model's plans that took effect inside the range at or
    before the fact's time; period 0 is the plan in force at `start` (or none).
    """

    def __init__(self, models: dict[int, LlmModel], start: datetime, end: datetime) -> None:
        self.timeline = PricingTimeline.of_models(models)
        self.base: dict[int, PricingPlan | None] = {
            model_id: self.timeline.in_force(model_id, start) for model_id in models
        }
        self.changes: dict[int, list[PricingPlan]] = {
            model_id: self.timeline.changes(model_id, after=start, before=end)
            for model_id in models
        }

    def period_sql(self, column: str) -> tuple[str, list]:
        parts, params = [], []
        for model_id, changes in self.changes.items():
            for plan in changes:
                parts.append(f"CASE WHEN model_id = %s AND {column} >= %s THEN 1 ELSE 0 END")
                params += [model_id, int(plan.effective_at.timestamp())]
        return ("(" + " + ".join(parts) + ")" if parts else "0"), params

    def approximate_cost_sql(self, column: str) -> tuple[str, list]:
        """SUM of the cost in floating point (for ranking only; never shown)."""
        kinds = ("input", "output", "cached")
        cases: dict[str, list[str]] = {kind: [] for kind in kinds}
        params: dict[str, list] = {kind: [] for kind in kinds}
        for model_id, plan, since in self._in_force_newest_first():
            for kind in kinds:
                price = float(getattr(plan, f"{kind}_per_million"))
                if since is None:
                    cases[kind].append("WHEN model_id = %s THEN %s")
                    params[kind] += [model_id, price]
                else:
                    cases[kind].append(f"WHEN model_id = %s AND {column} >= %s THEN %s")
                    params[kind] += [model_id, since, price]
        if not cases["input"]:
            return "SUM(0)", []  # not a bare 0: that would mean "column 0" in ORDER BY
        parts, values = [], []
        for kind in kinds:
            # Floating point on purpose: numeric arithmetic would cost more and ranks the same.
            price_sql = f"CAST(CASE {' '.join(cases[kind])} ELSE 0 END AS DOUBLE PRECISION)"
            parts.append(f"{kind}_tokens * {price_sql}")
            values += params[kind]
        return "SUM(" + " + ".join(parts) + ")", values

    def _in_force_newest_first(self) -> Iterator[tuple[int, PricingPlan, int | None]]:
        """(model id, plan, since in Unix seconds or None for "from the start")."""
        for model_id, changes in self.changes.items():
            for plan in reversed(changes):
                yield model_id, plan, int(plan.effective_at.timestamp())
            if (base := self.base[model_id]) is not None:
                yield model_id, base, None

    def cuts(self) -> list[int]:
        """Plan changes inside the range, in Unix seconds."""
        return [int(p.effective_at.timestamp()) for plans in self.changes.values() for p in plans]

    def period_at(self, model_id: int, instant: datetime) -> int:
        return sum(1 for plan in self.changes[model_id] if plan.effective_at <= instant)

    def priced(self, model_id: int, period: int) -> bool:
        """Whether a plan is in force in the model's `period` (`cost` is not None)."""
        return (self.changes[model_id][period - 1] if period else self.base[model_id]) is not None

    def cost(self, model_id: int, period: int, sums: Sums) -> Cost | None:
        """The cost of `sums` under the plan of `period`; None when no plan is in force."""
        plan = self.changes[model_id][period - 1] if period else self.base[model_id]
        if plan is None:
            return None
        return token_cost(plan, input=sums.input, output=sums.output, cached=sums.cached)

    def unpriced_message(self, model: LlmModel) -> str:
        plans = self.timeline.plans[model.id]
        if not plans:
            return f"Model {model.name} has no pricing plan: define one."
        first = plans[0].effective_at.astimezone(UTC)
        return (
            f"Model {model.name} has no pricing plan before {first:%Y-%m-%d %H:%M} UTC: "
            "define one that starts earlier."
        )
