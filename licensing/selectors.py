"""Reads about tenants and their entitlements, as plain data."""

import math
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Literal

from django.db import models
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from licensing.models import License, Tenant

DIMENSIONS = ("hosts", "gateways", "tasks")
FREE_TIER_CAPS: dict[str, int | None] = {"tasks": 50, "hosts": 10, "gateways": None}
# The same leeway license verification allows (SPEC §2).
CLOCK_LEEWAY = timedelta(seconds=60)

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
    expired = license.expires_at is not None and now > license.expires_at + CLOCK_LEEWAY
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


def _related_model(name: str) -> type[models.Model]:
    """A model the tasks app relates to Tenant, found by its reverse name: licensing does
    not import tasks (dependencies point usage -> tasks -> licensing)."""
    return Tenant._meta.get_field(name).related_model


def _subquery(rows: QuerySet) -> Subquery:
    return Coalesce(Subquery(rows, output_field=models.IntegerField()), 0)


def tenant_usage(tenant: Tenant) -> dict[str, int]:
    """Used per dimension in one query: hosts and gateways registered now, tasks ever created."""

    def count_of(registered: QuerySet) -> Subquery:
        rows = registered.filter(tenant=OuterRef("pk")).order_by()
        return _subquery(rows.values("tenant").annotate(n=Count("pk")).values("n"))

    lifetime_tasks = _related_model("task_counter").objects.filter(tenant=OuterRef("pk"))
    row = (
        Tenant.objects.filter(pk=tenant.pk)
        .annotate(
            hosts_used=count_of(_related_model("hosts").objects.all()),
            # A revoked gateway stays (its tickets are kept) but is no longer registered.
            gateways_used=count_of(_related_model("gateways").objects.registered()),
            # No counter row yet: no task was ever created.
            tasks_used=_subquery(lifetime_tasks.values("used")[:1]),
        )
        .values("hosts_used", "gateways_used", "tasks_used")
        .get()
    )
    return {dimension: row[f"{dimension}_used"] for dimension in DIMENSIONS}
