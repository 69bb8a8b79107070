"""Reads about hosts, gateways and tasks, as plain data."""

from collections.abc import Mapping
from typing import Any

from django.db import models
from django.db.models import Count, OuterRef, QuerySet, Subquery
from django.db.models.functions import Coalesce

from licensing.models import Tenant
from licensing.selectors import DIMENSIONS
from tasks.models import Gateway, Host, TaskCounter


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
