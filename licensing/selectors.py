"""Reads about tenants and their entitlements, as plain data."""

import math
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
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
