"""Reads about hosts, gateways, tasks and the engine, as plain data."""

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.db import models
from django.db.models import Count, Min, OuterRef, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce
from django.utils import timezone

from licensing.models import Tenant
from licensing.selectors import DIMENSIONS
from tasks.models import EngineHeartbeat, Gateway, Host, TaskCounter, Ticket
from tasks.models.engine import HEARTBEAT_ID

# An engine polls every 2 s when idle (`run_engine --sleep`) and writes the heartbeat after
# every pass; a pass through a large backlog can take minutes. Silence longer than this means
# no engine is running.
ENGINE_SILENT_AFTER = timedelta(minutes=5)


def _count_or_zero(rows: QuerySet) -> Coalesce:
    return Coalesce(Subquery(rows, output_field=models.IntegerField()), 0)


def _registered_count(registered: QuerySet) -> Coalesce:
    rows = registered.filter(tenant=OuterRef("pk")).order_by()
    return _count_or_zero(rows.values("tenant").annotate(n=Count("pk")).values("n"))


def tenant_usage(tenant: Tenant) -> dict[str, int]:
    """What counts against each cap now, in one query (keys: licensing's DIMENSIONS).

    hosts: registered now (deleting one frees its slot); gateways: registered and not
    revoked; tasks: the lifetime counter (deleting a task gives nothing back).
    """
    lifetime_tasks = TaskCounter.objects.filter(tenant=OuterRef("pk")).values("used")[:1]
    row: Mapping[str, Any] = (
        Tenant.objects.filter(pk=tenant.pk)
        .annotate(
            hosts_used=_registered_count(Host.objects.all()),
            # A revoked gateway stays (its tickets are kept) but is no longer registered.
            gateways_used=_registered_count(Gateway.objects.registered()),
            # No counter row yet: no task was ever created.
            tasks_used=_count_or_zero(lifetime_tasks),
        )
        .values("hosts_used", "gateways_used", "tasks_used")
        .get()
    )
    return {dimension: row[f"{dimension}_used"] for dimension in DIMENSIONS}


@dataclass(frozen=True)
class EngineHealth:
    """Is an engine converting this tenant's tickets? For the tickets page."""

    now: datetime
    last_pass_at: datetime | None  # None: no engine ever finished a pass on this database
    pending: int
    oldest_pending_at: datetime | None
    rejected: int

    @property
    def running(self) -> bool:
        return self.last_pass_at is not None and self.now - self.last_pass_at <= ENGINE_SILENT_AFTER

    @property
    def last_pass_age(self) -> timedelta | None:
        return None if self.last_pass_at is None else self.now - self.last_pass_at

    @property
    def oldest_pending_age(self) -> timedelta | None:
        return None if self.oldest_pending_at is None else self.now - self.oldest_pending_at


def engine_health(*, tenant: Tenant, now: datetime | None = None) -> EngineHealth:
    """The last engine pass, and the tenant's pending (count, oldest) and rejected tickets.

    Two indexed reads: the heartbeat row by primary key, and the tenant's pending and
    rejected tickets from the (tenant, status, received_at) index.
    """
    last_pass_at = (
        EngineHeartbeat.objects.filter(pk=HEARTBEAT_ID)
        .values_list("last_pass_at", flat=True)
        .first()
    )
    pending = Q(status=Ticket.Status.PENDING)
    queue = Ticket.objects.filter(
        tenant=tenant, status__in=[Ticket.Status.PENDING, Ticket.Status.REJECTED]
    ).aggregate(
        pending=Count("pk", filter=pending),
        oldest_pending_at=Min("received_at", filter=pending),
        rejected=Count("pk", filter=Q(status=Ticket.Status.REJECTED)),
    )
    return EngineHealth(now=now or timezone.now(), last_pass_at=last_pass_at, **queue)


def rejected_ticket_count(tenant: Tenant) -> int:
    """The tenant's rejected tickets (the (tenant, status, received_at) index)."""
    return Ticket.objects.filter(tenant=tenant, status=Ticket.Status.REJECTED).count()
