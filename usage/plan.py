"""The Plan-usage card as plain data, and the banner decision (SPEC §5.1, §5.2)."""

from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from django.utils import timezone

from licensing.models import Tenant
from licensing.selectors import DIMENSIONS, tenant_entitlements
from tasks.selectors import tenant_usage

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
    entitlements = tenant_entitlements(tenant, now=now)
    used = tenant_usage(tenant)
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
    )


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
    if not near:
        return None
    parts = "; ".join(f"{u.dimension} {u.used} of {u.cap} ({u.percent:g} %)" for u in near)
    if any(usage.level == "danger" for usage in near):
        return Banner("danger", f"A plan cap is reached: {parts}. New ones will be refused.")
    return Banner("warning", f"You are close to your plan's caps: {parts}.")
