"""Plan periods: which pricing plan prices each rollup row of an activity read.

Which plan is in force, and what tokens cost under it, is `usage/pricing.py`; this
module only numbers the plan changes inside a range so SQL can group rows by them, and
reads the tenant's models and plans for it (`priced_reads`).
"""

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import cache, cached_property
from typing import TypeVar

from django.db import connection

from licensing.models import Tenant
from usage.models import LlmModel, PricingPlan
from usage.pricing import KINDS, Cost, PicoPrices, PricingTimeline, token_cost
from usage.selectors.figures import Sums
from usage.selectors.rollups import NOTHING, Read, exact_reads, read_together

T = TypeVar("T")


class StalePlans(Exception):
    """The models or plans a read was priced with are no longer the tenant's."""


@dataclass(frozen=True)
class _TenantPlans:
    """A tenant's models (by id) and their plans as read, and the fingerprint of both."""

    fingerprint: str
    models: dict[int, LlmModel]
    plans: list[PricingPlan]


# Per process: each tenant's models and plans as it last read them (read-only once here).
_LAST_READ: dict[int, _TenantPlans] = {}
_LAST_READ_MAX = 10_000  # tenants; beyond it the process forgets them all (bounded memory)


def priced_reads(
    tenant: Tenant, start: datetime, end: datetime, read: Callable[["PlanPeriods"], T]
) -> T:
    """`read(periods)` inside `exact_reads`, `periods` the `PlanPeriods` of the tenant's
    models in `[start, end)`. `read` sends `periods.check()` with its statements (its first
    `read_together`).

    Models and plans are written rarely and read by every activity: the process keeps
    them as it last read them, and `check` compares their fingerprint with the tenant's
    in the same round trip as the read's statements; if they changed, the read is made
    again with them read anew. A round trip less: ~0.65 ms of a day's ~8 ms activity
    (bench/activity.py's data, 2026-12-04, timed in turn with the plans read each time)."""
    known = _LAST_READ.get(tenant.id)
    if known is not None:
        expected = (tenant.id, known.fingerprint)
        periods = PlanPeriods(known.models, start, end, known.plans, expected=expected)
        try:
            return _checked(periods, read)
        except StalePlans:
            pass
    return _checked(PlanPeriods.of_tenant(tenant, start, end), read)


def _checked(periods: "PlanPeriods", read: Callable[["PlanPeriods"], T]) -> T:
    result = exact_reads(lambda: read(periods))
    if not periods.checked:
        raise RuntimeError("A priced read must send periods.check() with its statements.")
    return result


_MODEL_FIELDS = [field.attname for field in LlmModel._meta.concrete_fields]
_PLAN_FIELDS = [field.attname for field in PricingPlan._meta.concrete_fields]
_COLUMNS = [f"model.{name}" for name in _MODEL_FIELDS] + [f"plan.{name}" for name in _PLAN_FIELDS]


def _models_and_plans_sql(columns: str) -> str:
    """SELECT `columns` of the tenant's models, each joined to its plans (none: NULLs)."""
    quote = connection.ops.quote_name
    return (
        f"SELECT {columns} FROM {quote(LlmModel._meta.db_table)} AS model "
        f"LEFT JOIN {quote(PricingPlan._meta.db_table)} AS plan ON plan.model_id = model.id "
        "WHERE model.tenant_id = %s"
    )


@cache
def _fingerprint_sql() -> str:
    """The md5 of every column of the tenant's models and plans, each row as a record's
    text (quoted, NULLs kept): any change to them changes it."""
    return _models_and_plans_sql(
        f"md5(COALESCE(string_agg(CAST(ROW({', '.join(_COLUMNS)}) AS TEXT), ',' "
        "ORDER BY model.id, plan.id), ''))"
    )


class PlanPeriods:
    """The plans that can apply in `[start, end)`, per model.

    A fact's `period` counts the model's plans that took effect inside the range at or
    before the fact's time; period 0 is the plan in force at `start` (or none).
    """

    def __init__(
        self,
        models: dict[int, LlmModel],
        start: datetime,
        end: datetime,
        plans: list[PricingPlan],
        *,
        expected: tuple[int, str] | None = None,
    ) -> None:
        """`plans`: the models' plans, in any order (`of_tenant` reads both). `expected`:
        (tenant id, fingerprint) of models and plans remembered, for `check` to compare."""
        self.models = dict(models)  # (a copy: `priced_reads` keeps the one it was given)
        self.expected = expected
        self.checked = False
        self.timeline = PricingTimeline(plans)
        self._price_columns: dict[tuple[str, str], str] = {}
        self.base: dict[int, PricingPlan | None] = {
            model_id: self.timeline.in_force(model_id, start) for model_id in models
        }
        self.changes: dict[int, list[PricingPlan]] = {
            model_id: self.timeline.changes(model_id, after=start, before=end)
            for model_id in models
        }

    @classmethod
    def of_tenant(cls, tenant: Tenant, start: datetime, end: datetime) -> "PlanPeriods":
        """The plans of the tenant's models (`models`, by id) in `[start, end)`: models and
        plans read in one query (the two ORM queries were ~1 ms of a ~10 ms activity), and
        remembered with their fingerprint for `priced_reads` (read in the same round trip)."""
        rows, fingerprint = read_together(
            Read(_models_and_plans_sql(", ".join(_COLUMNS)), [tenant.id], list),
            Read(_fingerprint_sql(), [tenant.id], lambda found: found[0][0]),
        )
        models: dict[int, LlmModel] = {}
        plans: list[PricingPlan] = []
        for row in rows:
            model, plan = row[: len(_MODEL_FIELDS)], row[len(_MODEL_FIELDS) :]
            if model[0] not in models:
                models[model[0]] = LlmModel.from_db(None, _MODEL_FIELDS, model)
            if plan[0] is not None:  # a model with no plan: no plan row joined
                plans.append(PricingPlan.from_db(None, _PLAN_FIELDS, plan))
        if len(_LAST_READ) >= _LAST_READ_MAX:
            _LAST_READ.clear()
        _LAST_READ[tenant.id] = _TenantPlans(fingerprint, models, plans)
        return cls(models, start, end, plans)

    def check(self) -> Read[None]:
        """The read that makes sure these are still the tenant's models and plans, to send
        with a `priced_reads` read's statements: raises StalePlans if they changed since
        this process read them (nothing to check if they were read for this read)."""
        self.checked = True
        if self.expected is None:
            return Read(*NOTHING, lambda _: None)
        tenant_id, fingerprint = self.expected

        def made(rows: list[tuple]) -> None:
            if rows[0][0] != fingerprint:
                raise StalePlans(f"The models or plans of tenant {tenant_id} changed.")

        return Read(_fingerprint_sql(), [tenant_id], made)

    def period_sql(self, column: str) -> str:
        """SQL of a row's plan period, by its `model_id` and `column` (Unix seconds).

        The plans' ids and times are written into the SQL, not sent as parameters:
        shorter statements, and constants PostgreSQL folds while planning."""
        parts = [
            f"CASE WHEN model_id = {int(model_id)} AND {column} >= {_seconds(plan)} "
            "THEN 1 ELSE 0 END"
            for model_id, changes in self.changes.items()
            for plan in changes
        ]
        return "(" + " + ".join(parts) + ")" if parts else "0"

    @cached_property
    def pico_prices(self) -> dict[tuple[int, int], PicoPrices | None]:
        """The prices of each model's plan in each period (None: no plan then)."""
        return {
            (model_id, period): None if plan is None else PicoPrices.of(plan)
            for model_id, period, plan in self._plans_by_period()
        }

    def pico_price_columns(self, column: str, sql_type: str) -> str:
        """SELECT columns `input_price`, `output_price`, `cached_price` of a row
        (`pico_price_sql` of each kind of token). Written once per column and type: an
        activity asks for the same ones in several statements."""
        key = (column, sql_type)
        if key not in self._price_columns:
            self._price_columns[key] = ", ".join(
                f"{self.pico_price_sql(kind, column, sql_type)} AS {kind}_price" for kind in KINDS
            )
        return self._price_columns[key]

    def pico_price_sql(self, kind: str, column: str, sql_type: str) -> str:
        """SQL of a row's price of `kind` tokens (input, output, cached) in picodollars per
        token (`PicoPrices`), by its `model_id` and `column` (Unix seconds): NULL when no
        plan prices it; as NUMERIC if `sql_type` says so (else integer literals, whose
        products with bigint tokens are bigint). A CASE, not a join: cheaper per row read.
        Prices and times written in, as in `period_sql`."""
        branches = []
        for model_id, changes in self.changes.items():
            picos = [self.pico_prices[model_id, period] for period in range(len(changes) + 1)]
            if all(price is None for price in picos):
                continue
            prices = ["NULL" if price is None else str(getattr(price, kind)) for price in picos]
            if not changes:
                branches.append(f"WHEN {int(model_id)} THEN {prices[0]}")
                continue
            whens = [
                f"WHEN {column} >= {_seconds(plan)} THEN {price}"
                for plan, price in reversed(list(zip(changes, prices[1:], strict=True)))
            ]  # latest first: the first match is in force
            branches.append(
                f"WHEN {int(model_id)} THEN CASE {' '.join(whens)} ELSE {prices[0]} END"
            )
        if not branches:
            return f"CAST(NULL AS {sql_type})"
        price = f"CASE model_id {' '.join(branches)} END"
        return price if sql_type == "BIGINT" else f"CAST({price} AS {sql_type})"

    def _plans_by_period(self) -> Iterator[tuple[int, int, PricingPlan | None]]:
        """(model id, period, the plan in force then or None) of every period."""
        for model_id, changes in self.changes.items():
            for period, plan in enumerate([self.base[model_id], *changes]):
                yield model_id, period, plan

    def cuts(self) -> list[int]:
        """Plan changes inside the range, in Unix seconds."""
        return [int(p.effective_at.timestamp()) for plans in self.changes.values() for p in plans]

    def period_at(self, model_id: int, instant: datetime) -> int:
        return sum(1 for plan in self.changes[model_id] if plan.effective_at <= instant)

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


def _seconds(plan: PricingPlan) -> int:
    return int(plan.effective_at.timestamp())
