"""Which tenants an operator should look at first: a pure function of a row's figures."""

from collections.abc import Sequence
from dataclasses import dataclass
from enum import IntEnum

NEAR_CAP_PERCENT = 90
ENDING_WITHIN_DAYS = 30


class Risk(IntEnum):
    """Most urgent first (SPEC §9); the value is the sort key."""

    EXPIRED = 0
    AT_CAP = 1
    PROJECTED_RUN_OUT = 2
    NEAR_CAP = 3
    ENDING_SOON = 4
    NONE = 5

    @property
    def label(self) -> str:
        return RISK_LABELS[self]


RISK_LABELS = {
    Risk.EXPIRED: "expired",
    Risk.AT_CAP: "at or over a cap",
    Risk.PROJECTED_RUN_OUT: "tasks projected to run out before the license ends",
    Risk.NEAR_CAP: f"at {NEAR_CAP_PERCENT} % of a cap or more",
    Risk.ENDING_SOON: f"ends within {ENDING_WITHIN_DAYS} days",
    Risk.NONE: "",
}


@dataclass(frozen=True)
class RiskFigures:
    """What the ordering reads. `usage` is (used, cap) per dimension, cap None = unlimited;
    `runs_out` is the tasks projection's (`usage.task_counts.tasks_projection_of`, the plan
    card's rule); None when no projection is known."""

    state: str
    usage: Sequence[tuple[int, int | None]]
    days_to_end: int | None
    runs_out: bool | None


def risk_of(figures: RiskFigures) -> Risk:
    """The tenant's most urgent risk, in SPEC §9's order."""
    if figures.state == "expired":
        return Risk.EXPIRED
    capped = [(used, cap) for used, cap in figures.usage if cap is not None]
    if any(used >= cap for used, cap in capped):
        return Risk.AT_CAP
    if figures.runs_out:
        return Risk.PROJECTED_RUN_OUT
    # used / cap >= 90 %, in integers (a cap of 0 was already "at cap").
    if any(used * 100 >= cap * NEAR_CAP_PERCENT for used, cap in capped):
        return Risk.NEAR_CAP
    if figures.days_to_end is not None and figures.days_to_end <= ENDING_WITHIN_DAYS:
        return Risk.ENDING_SOON
    return Risk.NONE
