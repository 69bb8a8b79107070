"""Tenants in every state the overview tells apart, made straight from the counter rows."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from licensing.models import Tenant
from tasks.models import TaskCounter
from tests.factories import (
    GatewayFactory,
    HostFactory,
    LlmModelFactory,
    ScheduleFactory,
    active_license,
)
from usage.budgets.models import BudgetPeriod
from usage.models import FINE_GRAIN_SECONDS, ModelRollup
from usage.notifications.models import Alert, AlertType, Endpoint, new_event_id
from usage.projections import month_of
from usage.task_counts import TaskCountSnapshot


def tasks_used(tenant: Tenant, used: int) -> None:
    TaskCounter.objects.update_or_create(tenant=tenant, defaults={"used": used})


def spend(tenant: Tenant, *, spent: str, limit: str | None) -> BudgetPeriod:
    month = month_of(timezone.now(), tenant.zone)
    return BudgetPeriod.objects.create(
        tenant=tenant,
        month=month.first_day,
        ends_at=month.ends_at,
        limit_usd=None if limit is None else Decimal(limit),
        hard=True,
        spent_usd=Decimal(spent),
    )


def alert(tenant: Tenant, *, days_ago: float, threshold: int = 80) -> Alert:
    return Alert.objects.create(
        tenant=tenant,
        type=AlertType.QUOTA_THRESHOLD,
        dimension="tasks",
        threshold=threshold,
        event_id=new_event_id(),
        raised_at=timezone.now() - timedelta(days=days_ago),
        payload={},
    )


def endpoint(tenant: Tenant, *, failing: bool = False, disabled: bool = False) -> Endpoint:
    now = timezone.now()
    return Endpoint.objects.create(
        tenant=tenant,
        url="https://hooks.example.com/tally",
        failing_since=now - timedelta(days=1) if failing or disabled else None,
        disabled_at=now if disabled else None,
    )


def activity(tenant: Tenant, at: datetime) -> ModelRollup:
    seconds = int(at.timestamp())
    return ModelRollup.objects.create(
        tenant=tenant,
        model=LlmModelFactory(tenant=tenant),
        on_ticket=False,
        grain_seconds=FINE_GRAIN_SECONDS,
        grain_start=seconds - seconds % FINE_GRAIN_SECONDS,
        input_tokens=10,
    )


def task_snapshots(tenant: Tenant, totals: list[int]) -> None:
    """One snapshot a local day (tenant's zone) ending today: `totals[i]` tasks used then."""
    now = timezone.now()
    today = now.astimezone(tenant.zone).date()
    first = today - timedelta(days=len(totals) - 1)
    TaskCountSnapshot.objects.bulk_create(
        TaskCountSnapshot(
            tenant=tenant,
            day=first + timedelta(days=n),
            tasks_used=used,
            schedule_ticks_created=0,
            taken_at=now,
        )
        for n, used in enumerate(totals)
    )


def a_busy_tenant(tenant: Tenant, n: int) -> None:
    """Every figure of the row set, so each subquery has something to find."""
    active_license(tenant, hosts=5, gateways=5, tasks=100)
    HostFactory(tenant=tenant)
    GatewayFactory(tenant=tenant)
    tasks_used(tenant, n % 100)
    task_snapshots(tenant, [0, 1, 2, 3, 4, 5, 6, n % 100])
    ScheduleFactory(tenant=tenant, every_minutes=60)
    spend(tenant, spent="1.50", limit="10")
    alert(tenant, days_ago=1)
    endpoint(tenant, failing=True)
    activity(tenant, datetime(2026, 1, 1, tzinfo=UTC) + timedelta(minutes=n))
