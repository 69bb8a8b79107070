"""The Plan-usage card as plain data, and the banner decision (SPEC §5.1, §5.2, §8.1)."""

from dataclasses import dataclass, replace
from datetime import datetime
from typing import Literal

from django.db.models import FilteredRelation, Q
from django.utils import timezone

from licensing.models import License, Tenant
from licensing.selectors import DIMENSIONS, Entitlements, entitlements_under, tenant_entitlements
from tasks.selectors import tenant_usage
from usage.budgets.models import Budget
from usage.budgets.selectors import BudgetCard, budget_card_of
from usage.projections import TaskProjection, days_elapsed, month_of
from usage.task_counts import task_history_annotations, task_history_from, tasks_projection_of

Level = Literal["ok", "warning", "danger"]

WARNING_PERCENT = 90
DANGER_PERCENT = 100
# Gateways are not in the banner: SPEC §5.2 names hosts and tasks only.
BANNER_DIMENSIONS = ("hosts", "tasks")


@dataclass(frozen=True)
class DimensionUsage:
    """Used against cap in one dimension; a cap of None is unlimited."""

    dimension: str
    used: int
    cap: int | None

    @property
    def unlimited(self) -> bool:
        return self.cap is None

    @property
    def percent(self) -> float | None:
        """Share of the cap used, one decimal; None when unlimited. A cap of 0 is full."""
        if self.cap is None:
            return None
        if self.cap == 0:
            return 100.0
        return round(self.used * 100 / self.cap, 1)

    @property
    def bar_percent(self) -> float:
        """Width of the bar: the percent clamped to 0–100 (0 when unlimited)."""
        return min(self.percent or 0.0, 100.0)

    @property
    def level(self) -> Level:
        # Integer comparison, so 89.96 % never rounds up into a warning.
        if self.cap is None:
            return "ok"
        if self.used * 100 >= DANGER_PERCENT * self.cap:
            return "danger"
        if self.used * 100 >= WARNING_PERCENT * self.cap:
            return "warning"
        return "ok"


@dataclass(frozen=True)
class PlanUsage:
    """What the Plan-usage card shows: the license window and usage per dimension."""

    state: str  # "free_tier", "licensed" or "expired"
    kind: str  # "free_tier", "contract" or "trial"
    starts_at: datetime | None
    ends_at: datetime | None
    perpetual: bool
    days_remaining: int | None
    expired: bool
    dimensions: tuple[DimensionUsage, ...]
    days_elapsed: int | None = None  # local days since the contract start (0 on day one)
    # Filled by `plan_usage_with_projections` (the page, the API, the banner):
    projection: TaskProjection | None = None  # the tasks cap, §8.1
    budget: BudgetCard | None = None  # this month's LLM spend and budget, §8.1/§8.2

    @property
    def kind_label(self) -> str:
        return {"free_tier": "Free tier", "contract": "Contract", "trial": "Trial"}[self.kind]

    @property
    def entitlements(self) -> dict[str, DimensionUsage]:
        """The dimensions by name: hosts, gateways, tasks."""
        return {usage.dimension: usage for usage in self.dimensions}

    def dimension(self, name: str) -> DimensionUsage:
        return next(usage for usage in self.dimensions if usage.dimension == name)


def plan_usage(tenant: Tenant, *, now: datetime | None = None) -> PlanUsage:
    """The tenant's plan usage in two small queries, whatever the data size."""
    now = now or timezone.now()
    return _plan_usage_of(tenant, tenant_entitlements(tenant, now=now), tenant_usage(tenant), now)


def _plan_usage_of(
    tenant: Tenant, entitlements: Entitlements, used: dict[str, int], now: datetime
) -> PlanUsage:
    return PlanUsage(
        state=entitlements.state,
        kind=entitlements.kind,
        starts_at=entitlements.starts_at,
        ends_at=entitlements.ends_at,
        perpetual=entitlements.is_perpetual,
        days_remaining=entitlements.days_remaining(now=now),
        expired=entitlements.is_expired,
        dimensions=tuple(
            DimensionUsage(name, used[name], entitlements.cap(name)) for name in DIMENSIONS
        ),
        days_elapsed=(
            days_elapsed(entitlements.starts_at, now, tenant.zone)
            if entitlements.starts_at
            else None
        ),
    )


def plan_usage_with_projections(tenant: Tenant, *, now: datetime | None = None) -> PlanUsage:
    """The plan usage with the tasks projection and this month's spend (the page, the plan
    API, the banner on every page) in TWO small queries, whatever the data size: what counts
    as used (`tenant_usage`, the rule's one home), and the tenant's row joined to everything
    else it needs (`_tenant_with_plan_inputs`)."""
    now = now or timezone.now()
    used = tenant_usage(tenant)
    row = _tenant_with_plan_inputs(tenant, now)
    plan = _plan_usage_of(
        tenant, entitlements_under(_joined(row, "active_license"), now=now), used, now
    )
    tasks = plan.dimension("tasks")
    projection = tasks_projection_of(
        tenant,
        task_history_from(row),
        now=now,
        used=tasks.used,
        cap=tasks.cap,
        ends_at=plan.ends_at,
    )
    budget = budget_card_of(
        tenant, budget=_budget_of(row), period=_joined(row, "this_period"), now=now
    )
    return replace(plan, projection=projection, budget=budget)


def _tenant_with_plan_inputs(tenant: Tenant, now: datetime) -> Tenant:
    """One row: the tenant LEFT JOINed to its active license (`licensing.selectors.
    active_license`'s rule: the one row in status active, a unique constraint), its budget and
    this month's budget period (unique per month), with the task history's few snapshots and
    schedules as arrays. Every join matches at most one row, and the arrays hold at most 8
    snapshots and the active schedules: the cost does not grow with tasks, events or months."""
    month = month_of(now, tenant.zone)
    return (
        Tenant.objects.filter(pk=tenant.pk)
        .annotate(
            active_license=FilteredRelation(
                "licenses", condition=Q(licenses__status=License.Status.ACTIVE)
            ),
            this_period=FilteredRelation(
                "budget_periods", condition=Q(budget_periods__month=month.first_day)
            ),
            **task_history_annotations(tenant, now=now),
        )
        # The stubs do not know FilteredRelation names; Django joins them (one row each).
        .select_related("active_license", "this_period", "llm_budget")  # type: ignore[misc]
        .get()
    )


def _joined(row: Tenant, relation: str):
    """The row a FilteredRelation joined, or None: Django leaves the attribute unset when the
    LEFT JOIN found none."""
    return getattr(row, relation, None)


def _budget_of(row: Tenant) -> Budget | None:
    try:
        return row.llm_budget
    except Budget.DoesNotExist:
        return None


@dataclass(frozen=True)
class Banner:
    level: Literal["warning", "danger"]
    message: str


def banner_for(plan: PlanUsage) -> Banner | None:
    """The banner administrators see on every page, or None. No database: a pure decision."""
    if plan.expired:
        # No date here: the Usage page shows it in the tenant's zone; this function has none.
        return Banner(
            "danger",
            "Your license has expired: no new hosts, gateways or tasks can be created "
            "until a new license is applied.",
        )
    near = [
        usage
        for usage in (plan.dimension(name) for name in BANNER_DIMENSIONS)
        if usage.level != "ok"
    ]
    sentences: list[tuple[Level, str]] = []
    if near:
        parts = "; ".join(f"{u.dimension} {u.used} of {u.cap} ({u.percent:g} %)" for u in near)
        if any(usage.level == "danger" for usage in near):
            sentences.append(
                ("danger", f"A plan cap is reached: {parts}. New ones will be refused.")
            )
        else:
            sentences.append(("warning", f"You are close to your plan's caps: {parts}."))
    projection = plan.projection
    if projection is not None and projection.runs_out and plan.dimension("tasks").level != "danger":
        before = "before the license ends" if plan.ends_at else "within a year"
        sentences.append(
            (
                "warning",
                f"At the current rate the tasks cap runs out on "
                f"{projection.cap_reached_on:%-d %b %Y} (in {projection.days_until_cap} "
                f"day{'s' if projection.days_until_cap != 1 else ''}), {before}.",
            )
        )
    if plan.budget is not None and plan.budget.needs_banner:
        sentences.append(_budget_sentence(plan.budget))
    if not sentences:
        return None
    level: Level = "danger" if any(lvl == "danger" for lvl, _ in sentences) else "warning"
    return Banner(level, " ".join(text for _, text in sentences))  # type: ignore[arg-type]


def _budget_sentence(card: BudgetCard) -> tuple[Level, str]:
    """A hard budget at 90 % or more: the fuller of its dimensions, in words."""
    fullest = max(
        (d for d in (card.usd, card.tokens) if d.limit is not None),
        key=lambda d: d.percent or 0.0,
    )
    what = "USD" if fullest.dimension == "usd" else "token"
    if fullest.level == "danger":
        return (
            "danger",
            f"The hard LLM {what} budget is exhausted ({fullest.percent:g} %): "
            "calls asking to authorize are refused until next month.",
        )
    return (
        "warning",
        f"The hard LLM {what} budget is at {fullest.percent:g} % of this month's limit.",
    )
