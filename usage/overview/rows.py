"""The overview's rows, built with a fixed number of queries whatever the number of tenants.

Everything comes from counters and rollups, never from events or tasks: one query over the
tenants with a correlated subquery per figure (each answered from an index: the task
counter, the hosts and gateways of the tenant, its alerts, endpoints and budget period, and
the newest 5-minute rollup grain), plus one for the active licenses (prefetched), and two
for the tasks projection of every tenant: the task snapshots of the last 8 days and the
active schedules of all tenants, grouped here and projected by `tasks_projection_of`.
bench/overview.py: 1,000 tenants and 1,000,000 events, the page in 174 ms (median of 7),
7 queries at 10 tenants and at 1,000 (tests/usage/overview: 7 at 3 tenants and at 300).
"""

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

from django.db import models
from django.db.models import Count, F, Func, OuterRef, Prefetch, QuerySet, Subquery, Value
from django.db.models.functions import Coalesce
from django.utils import timezone

from licensing.models import License, Tenant
from licensing.selectors import DIMENSIONS, Entitlements, entitlements_under
from tasks.models import Gateway, Host, TaskCounter
from usage.budgets.models import BudgetPeriod
from usage.models import FINE_GRAIN_SECONDS, ModelRollup
from usage.notifications.models import Alert, Endpoint
from usage.overview.risk import Risk, RiskFigures, risk_of
from usage.projections import TaskProjection
from usage.task_counts import TaskHistory, task_histories, tasks_projection_of

ALERT_WINDOW = timedelta(days=7)
STATES = ("free_tier", "licensed", "expired")


@dataclass(frozen=True)
class Usage:
    dimension: str
    used: int
    cap: int | None  # None: unlimited

    @property
    def percent(self) -> int | None:
        if self.cap is None:
            return None
        if self.cap == 0:
            return 100 if self.used == 0 else 100 * self.used
        return self.used * 100 // self.cap


@dataclass(frozen=True)
class OverviewRow:
    tenant_id: int
    name: str
    slug: str
    zone: str
    entitlements: Entitlements
    days_to_end: int | None
    usage: tuple[Usage, ...]
    tasks_projection: TaskProjection  # the plan card's, from the same snapshots and rule
    spent_usd: Decimal
    budget_usd: Decimal | None
    alerts_last_7_days: int
    failing_endpoints: int
    disabled_endpoints: int
    last_activity: datetime | None  # in the tenant's zone
    risk: Risk

    @property
    def state(self) -> str:
        return self.entitlements.state

    @property
    def kind(self) -> str:
        return self.entitlements.kind

    @property
    def runs_out_on(self) -> date | None:
        """The local day (tenant's zone) the tasks cap is projected to be reached, when it
        is before the license ends (or within a year, when perpetual)."""
        return self.tasks_projection.cap_reached_on

    @property
    def days_until_run_out(self) -> int | None:
        return self.tasks_projection.days_until_cap

    @property
    def spend_percent(self) -> int | None:
        if not self.budget_usd:
            return None
        return int(self.spent_usd * 100 // self.budget_usd)


class _LocalMonth(Func):
    """The first day of the month `now` falls in, in the zone named by a column."""

    template = "(date_trunc('month', %(expressions)s))::date"
    arg_joiner = " AT TIME ZONE "
    output_field = models.DateField()


def _count(rows: QuerySet) -> Coalesce:
    counted = rows.filter(tenant=OuterRef("pk")).order_by().values("tenant")
    counted = counted.annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=models.IntegerField()), 0)


def _tenants(now: datetime) -> QuerySet[Tenant]:
    period = BudgetPeriod.objects.filter(
        tenant=OuterRef("pk"), month=_LocalMonth(Value(now), OuterRef("timezone"))
    )
    endpoints = Endpoint.objects.filter(removed_at__isnull=True)
    newest_grain = ModelRollup.objects.filter(
        tenant=OuterRef("pk"), grain_seconds=FINE_GRAIN_SECONDS
    ).order_by("-grain_start")
    # Only what entitlements_under reads: the token and its claims are the bulk of a row.
    active = License.objects.filter(status=License.Status.ACTIVE).only(
        "tenant_id", "kind", "status", "hosts_cap", "gateways_cap", "tasks_cap",
        "starts_at", "expires_at",
    )  # fmt: skip
    tenants = (
        Tenant.objects.order_by()
        .only("name", "slug", "timezone")
        .prefetch_related(Prefetch("licenses", queryset=active, to_attr="active_licenses"))
        .annotate(
            hosts_used=_count(Host.objects.all()),
            # The same rules as tasks.selectors.tenant_usage: registered gateways only, and
            # the lifetime task counter (no row yet: no task ever created).
            gateways_used=_count(Gateway.objects.registered()),
            tasks_used=Coalesce(
                Subquery(TaskCounter.objects.filter(tenant=OuterRef("pk")).values("used")[:1]), 0
            ),
            alerts_last_7_days=_count(Alert.objects.filter(raised_at__gte=now - ALERT_WINDOW)),
            failing_endpoints=_count(
                endpoints.filter(failing_since__isnull=False, disabled_at__isnull=True)
            ),
            disabled_endpoints=_count(endpoints.filter(disabled_at__isnull=False)),
            spent_usd=Subquery(period.values("spent_usd")[:1]),
            period_limit_usd=Subquery(period.values("limit_usd")[:1]),
            period_exists=Subquery(period.values("pk")[:1]),
            budget_limit_usd=F("llm_budget__limit_usd"),
            last_grain_start=Subquery(newest_grain.values("grain_start")[:1]),
        )
    )
    return tenants


def overview_rows(*, now: datetime | None = None, state: str | None = None) -> list[OverviewRow]:
    """One row per tenant (only those in `state`, one of STATES, when given), most urgent
    first; in four queries whatever the number of tenants (the tenants with their figures,
    their active licenses, then the task snapshots and the active schedules of them all)."""
    now = now or timezone.now()
    tenants = list(_tenants(now))
    histories = task_histories([t.pk for t in tenants], now=now)
    rows = [_row(tenant, now, histories[tenant.pk]) for tenant in tenants]
    # The state is licensing's decision (entitlements_under), so it is filtered here, not in SQL.
    return sorted((r for r in rows if state in (None, r.state)), key=_risk_order)


def _risk_order(row: OverviewRow) -> tuple:
    """Most urgent first; within a risk the soonest end first, then by name."""
    days = row.days_to_end if row.days_to_end is not None else float("inf")
    return (row.risk, days, row.name.casefold(), row.tenant_id)


def _row(tenant, now: datetime, history: TaskHistory) -> OverviewRow:
    active = tenant.active_licenses
    entitlements = entitlements_under(active[0] if active else None, now=now)
    usage = tuple(Usage(d, getattr(tenant, f"{d}_used"), entitlements.cap(d)) for d in DIMENSIONS)
    days_to_end = entitlements.days_remaining(now=now)
    budget_usd = tenant.period_limit_usd if tenant.period_exists else tenant.budget_limit_usd
    last_activity = None
    if tenant.last_grain_start is not None:
        grain = datetime.fromtimestamp(tenant.last_grain_start, tz=UTC)
        last_activity = grain.astimezone(tenant.zone)
    projection = tasks_projection_of(
        tenant,
        history,
        now=now,
        used=tenant.tasks_used,
        cap=entitlements.cap("tasks"),
        ends_at=entitlements.ends_at,
    )
    risk = risk_of(
        RiskFigures(
            state=entitlements.state,
            usage=[(u.used, u.cap) for u in usage],
            days_to_end=days_to_end,
            runs_out=projection.runs_out,
        )
    )
    return OverviewRow(
        tenant_id=tenant.pk,
        name=tenant.name,
        slug=tenant.slug,
        zone=tenant.timezone,
        entitlements=entitlements,
        days_to_end=days_to_end,
        usage=usage,
        tasks_projection=projection,
        spent_usd=tenant.spent_usd or Decimal(0),
        budget_usd=budget_usd,
        alerts_last_7_days=tenant.alerts_last_7_days,
        failing_endpoints=tenant.failing_endpoints,
        disabled_endpoints=tenant.disabled_endpoints,
        last_activity=last_activity,
        risk=risk,
    )
