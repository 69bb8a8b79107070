"""When an alert fires (SPEC §7.1), as pure functions: no database, testable with plain values."""

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from usage.pricing import decimal_text

QUOTA_THRESHOLDS = (100, 95, 80)  # percent, highest first: one change may cross several
LICENSE_END_DAYS = (30, 7, 1)  # days before the end
EXPIRED_THRESHOLD = 0  # `license.expired` is the 0-day threshold of the same sequence
PROJECTION_THRESHOLD = 0  # `quota.projected_exhaustion` fires once per license


def thresholds_crossed_up(
    *, used_before: int | Decimal, used_after: int | Decimal, cap: int | Decimal | None
) -> list[int]:
    """The thresholds reached by going from `used_before` to `used_after`, highest first.

    Integer arithmetic only (percent * cap <= used * 100), so 80 % of 5 is reached at 4,
    exactly; an unlimited (None) or zero cap never alerts.
    """
    if not cap or used_after <= used_before:
        return []
    return [
        threshold
        for threshold in QUOTA_THRESHOLDS
        if used_before * 100 < threshold * cap <= used_after * 100
    ]


def thresholds_crossed_down(*, used_before: int, used_after: int, cap: int | None) -> list[int]:
    """The thresholds fallen back below (hosts, gateways): these re-arm."""
    if not cap or used_after >= used_before:
        return []
    return [
        threshold
        for threshold in QUOTA_THRESHOLDS
        if used_after * 100 < threshold * cap <= used_before * 100
    ]


def highest_threshold_reached(*, used: int, cap: int | None) -> int | None:
    """Of the thresholds already passed (a new license over current usage), the nearest."""
    if not cap:
        return None
    return next((t for t in QUOTA_THRESHOLDS if t * cap <= used * 100), None)


def license_end_threshold(*, ends_at: datetime | None, now: datetime) -> int | None:
    """The nearest license-end threshold passed at `now`: 0 once ended, else the smallest of
    30/7/1 days that the remaining time is within; None when none is passed or perpetual.

    Only this one fires: the farther ones already passed are skipped (SPEC §7.1).
    """
    if ends_at is None:
        return None
    if now >= ends_at:
        return EXPIRED_THRESHOLD
    remaining = ends_at - now
    passed = [days for days in LICENSE_END_DAYS if remaining <= timedelta(days=days)]
    return min(passed) if passed else None


def percent(current: int | Decimal | None, cap: int | Decimal | None) -> float | None:
    """A share for people to read (one decimal), not money: a float is fine here."""
    if current is None or not cap:
        return None
    return round(float(current * 100 / cap), 1)


def payload(
    *,
    event_id: str,
    type: str,
    timestamp: datetime,
    tenant: dict[str, Any],
    quota: str | None = None,
    threshold: int | None = None,
    current: int | Decimal | None = None,
    cap: int | Decimal | None = None,
    license_id: str | None = None,
    license_ends_at: datetime | None = None,
    cycle_ends_at: datetime | None = None,
) -> dict[str, Any]:
    """The webhook body of SPEC §7.2; fields that do not apply are null."""
    return {
        "id": event_id,
        "type": type,
        "timestamp": timestamp.isoformat(),
        "data": {
            "tenant": tenant,
            "quota": quota,
            "threshold": threshold,
            "current": _number(current),
            "cap": _number(cap),
            "percent": percent(current, cap),
            "license_id": license_id,
            "license_ends_at": license_ends_at.isoformat() if license_ends_at else None,
            "cycle_ends_at": cycle_ends_at.isoformat() if cycle_ends_at else None,
        },
    }


def _number(value: int | Decimal | None) -> int | str | None:
    """Counts stay JSON numbers; money (a budget's USD) is exact decimal text, never a float."""
    return decimal_text(value) if isinstance(value, Decimal) else value


def summary(body: dict[str, Any]) -> str:
    """The alert in one sentence, for email subjects and Slack."""
    data = body["data"]
    tenant = data["tenant"]["name"]
    kind = body["type"]
    if kind == "quota.threshold_crossed":
        cap = data["cap"]
        return (
            f"{tenant}: {data['quota']} usage reached {data['threshold']} % of its cap "
            f"({data['current']} of {cap}, {data['percent']} %)."
        )
    if kind == "quota.projected_exhaustion":
        return (
            f"{tenant}: at the current rate the tasks cap ({data['cap']}) runs out before the "
            f"license ends ({data['current']} used)."
        )
    if kind == "license.expiring":
        return (
            f"{tenant}: the license {data['license_id']} ends within {data['threshold']} "
            f"day{'s' if data['threshold'] != 1 else ''}, on {data['license_ends_at']}."
        )
    if kind == "license.expired":
        return (
            f"{tenant}: the license {data['license_id']} ended on {data['license_ends_at']}; "
            "no new tasks, hosts or gateways until a new license is applied."
        )
    if kind == "budget.threshold_crossed":
        unit = "$" if data["quota"] == "budget_usd" else ""
        what = "LLM spend" if unit else "LLM tokens"
        return (
            f"{tenant}: {what} this month reached {data['threshold']} % of the budget "
            f"({unit}{data['current']} of {unit}{data['cap']}, spent and reserved)."
        )
    if kind == "test":
        return f"{tenant}: a test event from Tally. Your endpoint receives alerts."
    return f"{tenant}: {kind} ({data['threshold']})."
