"""Reads about tenants and their entitlements, as plain data."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, tzinfo
from typing import Literal

from django.db.models import QuerySet
from django.utils import timezone

from licensing.models import License, Tenant

DIMENSIONS = ("hosts", "gateways", "tasks")
FREE_TIER_CAPS: dict[str, int | None] = {"tasks": 50, "hosts": 10, "gateways": None}
# The same leeway license verification allows (SPEC §2).
CLOCK_LEEWAY = timedelta(seconds=60)


def _open_until(ends_at: datetime | None) -> datetime | None:
    """A license ending at `ends_at` still admits creates up to this instant (inclusive)."""
    return ends_at + CLOCK_LEEWAY if ends_at is not None else None


State = Literal["free_tier", "licensed", "expired"]


@dataclass(frozen=True)
class Entitlements:
    """What a tenant may create now. A cap of None is unlimited."""

    state: State
    kind: str  # "free_tier", "contract" or "trial"
    caps: dict[str, int | None]
    starts_at: datetime | None
    ends_at: datetime | None
    license: License | None

    @property
    def is_perpetual(self) -> bool:
        return self.license is not None and self.ends_at is None

    @property
    def is_expired(self) -> bool:
        return self.state == "expired"

    @property
    def tasks_open_until(self) -> datetime | None:
        """The last instant tasks may be created (None: no end, perpetual or free tier).

        The same rule as `entitlements_under`'s expiry: open while now <= this instant.
        """
        return _open_until(self.ends_at)

    def cap(self, dimension: str) -> int | None:
        return self.caps[dimension]

    def days_remaining(self, *, now: datetime | None = None) -> int | None:
        """Whole days left, rounded up: a 365-day license applied now has 365, not 364."""
        if self.ends_at is None:
            return None
        remaining = self.ends_at - (now or timezone.now())
        return max(math.ceil(remaining / timedelta(days=1)), 0)


def active_license(tenant: Tenant) -> License | None:
    return License.objects.filter(tenant=tenant, status=License.Status.ACTIVE).first()


def tenant_entitlements(tenant: Tenant, *, now: datetime | None = None) -> Entitlements:
    """The tenant's entitlements in one query: free tier, licensed, or expired (a hard block)."""
    return entitlements_under(active_license(tenant), now=now)


def entitlements_under(license: License | None, *, now: datetime | None = None) -> Entitlements:
    """The entitlements a tenant has with `license` active (None: no license ever applied)."""
    now = now or timezone.now()
    if license is None:
        return Entitlements("free_tier", "free_tier", dict(FREE_TIER_CAPS), None, None, None)
    caps = {dimension: license.cap(dimension) for dimension in DIMENSIONS}
    open_until = _open_until(license.expires_at)
    expired = open_until is not None and now > open_until
    return Entitlements(
        "expired" if expired else "licensed",
        license.kind,
        caps,
        license.starts_at,
        license.expires_at,
        license,
    )


def license_history(tenant: Tenant) -> QuerySet[License]:
    """Every license the tenant has applied, newest first (who applied it: `applied_by_name`)."""
    return License.objects.filter(tenant=tenant).order_by("-applied_at", "-id")


UsageReader = Callable[[Tenant], dict[str, int]]
# Licensing shows usage but must not know the tables that hold it (dependencies point
# usage -> tasks -> licensing): the tasks app registers its reader here in its ready().
_usage_readers: list[UsageReader] = []


def register_usage_reader(reader: UsageReader) -> None:
    """Set the function that says what a tenant uses per dimension (tasks.selectors)."""
    _usage_readers[:] = [reader]


def tenant_used(tenant: Tenant) -> dict[str, int]:
    """Used per dimension, as the registered reader (tasks.selectors.tenant_usage) counts it."""
    if not _usage_readers:
        raise RuntimeError("No usage reader is registered: is the tasks app installed?")
    return _usage_readers[0](tenant)


RejectedTicketsReader = Callable[[Tenant], int]
# How many of a tenant's tickets were rejected (and may pass after a new license): tickets are
# the tasks app's, which registers this reader in its ready(), like the usage reader above.
_rejected_tickets_readers: list[RejectedTicketsReader] = []


def register_rejected_tickets_reader(reader: RejectedTicketsReader) -> None:
    _rejected_tickets_readers[:] = [reader]


def rejected_tickets(tenant: Tenant) -> int:
    """The tenant's rejected tickets; 0 while no reader is registered (nothing to point at)."""
    return _rejected_tickets_readers[0](tenant) if _rejected_tickets_readers else 0


def cap_text(cap: int | None) -> str:
    return "unlimited" if cap is None else f"{cap:,}"


KIND_NAMES = {"free_tier": "Free tier", "contract": "Contract", "trial": "Trial"}


@dataclass(frozen=True)
class CapChange:
    dimension: str
    old: int | None
    new: int | None
    used: int

    @property
    def changed(self) -> bool:
        return self.old != self.new

    @property
    def below_used(self) -> bool:
        """The new cap is under what is used: nothing more of it can be created."""
        return self.new is not None and self.new < self.used

    @property
    def text(self) -> str:
        return f"{self.dimension.capitalize()} {cap_text(self.old)} → {cap_text(self.new)}"


@dataclass(frozen=True)
class LicenseChange:
    """What moving from entitlements `before` to `after` changes, for a preview or a message."""

    before: Entitlements
    after: Entitlements
    caps: list[CapChange]

    @property
    def old_kind(self) -> str:
        return KIND_NAMES[self.before.kind]

    @property
    def new_kind(self) -> str:
        return KIND_NAMES[self.after.kind]

    @property
    def old_customer(self) -> str:
        return self.before.license.customer if self.before.license else ""

    @property
    def new_customer(self) -> str:
        return self.after.license.customer if self.after.license else ""

    def summary(self, zone: tzinfo) -> str:
        """'Tasks 500 → 1,000; valid until 2027-12-01' (dates in the tenant's zone `zone`)."""
        parts = [cap.text for cap in self.caps if cap.changed] or ["caps unchanged"]
        if self.old_kind != self.new_kind:
            parts.append(f"{self.old_kind} → {self.new_kind}")
        if self.new_customer != self.old_customer and self.new_customer:
            parts.append(f"customer {self.new_customer}")
        if self.after.ends_at is None:
            parts.append("perpetual")
        else:
            parts.append(f"valid until {self.after.ends_at.astimezone(zone):%Y-%m-%d}")
        return "; ".join(parts)


def license_change(
    before: Entitlements, after: Entitlements, *, used: dict[str, int]
) -> LicenseChange:
    caps = [
        CapChange(dimension, before.cap(dimension), after.cap(dimension), used[dimension])
        for dimension in DIMENSIONS
    ]
    return LicenseChange(before, after, caps)
