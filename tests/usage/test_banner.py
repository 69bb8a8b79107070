"""The usage banner: a pure decision, and a context processor for administrators only."""

from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from django.test import RequestFactory

from tests.factories import LicenseFactory, ScheduleFactory
from tests.usage.activity_helpers import record_usage
from tests.usage.budgets.budget_helpers import hard_budget
from tests.usage.plan_helpers import set_usage
from usage.budgets.models import BudgetPeriod
from usage.budgets.selectors import budget_card
from usage.context_processors import usage_banner
from usage.plan import (
    DimensionUsage,
    PlanUsage,
    banner_for,
    plan_usage,
    plan_usage_with_projections,
)
from usage.projections import month_of
from usage.task_counts import TaskCountSnapshot, tasks_projection_for


def _plan(*, hosts=(0, 10), gateways=(0, None), tasks=(0, 100), expired=False) -> PlanUsage:
    return PlanUsage(
        state="expired" if expired else "licensed",
        kind="contract",
        starts_at=datetime(2026, 1, 1, tzinfo=UTC),
        ends_at=datetime(2026, 3, 1, tzinfo=UTC),
        perpetual=False,
        days_remaining=0 if expired else 30,
        expired=expired,
        dimensions=(
            DimensionUsage("hosts", *hosts),
            DimensionUsage("gateways", *gateways),
            DimensionUsage("tasks", *tasks),
        ),
    )


def test_no_banner_at_89_percent_of_the_tasks_cap():
    assert banner_for(_plan(tasks=(89, 100))) is None


def test_a_warning_banner_at_90_percent_of_the_tasks_cap():
    banner = banner_for(_plan(tasks=(90, 100)))

    assert banner.level == "warning"
    assert "tasks 90 of 100 (90 %)" in banner.message


def test_a_warning_banner_at_90_percent_of_the_hosts_cap():
    banner = banner_for(_plan(hosts=(9, 10)))

    assert banner.level == "warning" and "hosts 9 of 10" in banner.message


def test_a_danger_banner_at_100_percent_naming_every_dimension_near_its_cap():
    banner = banner_for(_plan(hosts=(9, 10), tasks=(100, 100)))

    assert banner.level == "danger"
    assert "hosts 9 of 10" in banner.message and "tasks 100 of 100" in banner.message


def test_gateways_near_their_cap_do_not_raise_the_banner():
    assert banner_for(_plan(gateways=(5, 5))) is None


def test_never_a_banner_with_unlimited_caps():
    assert banner_for(_plan(hosts=(10_000, None), tasks=(10**9, None))) is None


@pytest.mark.parametrize("tasks", [(0, 100), (0, None), (100, 100)])
def test_always_a_danger_banner_when_the_license_has_expired(tasks):
    banner = banner_for(_plan(tasks=tasks, expired=True))

    assert banner.level == "danger"
    assert banner.message.startswith("Your license has expired")


def test_administrators_see_the_banner_on_every_page_linking_to_usage(
    tenant_a, admin_a, page_client_for
):
    set_usage(tenant_a, tasks=45)  # free tier: 45 of 50 is 90 %

    response = page_client_for(admin_a).get("/")

    assert response.context["usage_banner"].level == "warning"
    content = response.content.decode()
    assert 'data-testid="usage-banner"' in content and 'href="/usage/"' in content


def test_members_never_see_the_banner(tenant_a, member_a, page_client_for):
    LicenseFactory(tenant=tenant_a, expires_at=datetime(2020, 1, 1, tzinfo=UTC))
    set_usage(tenant_a, tasks=100)

    response = page_client_for(member_a).get("/")

    assert "usage_banner" not in response.context
    assert 'data-testid="usage-banner"' not in response.content.decode()


def test_an_expired_license_puts_the_danger_banner_on_the_administrators_pages(
    tenant_a, admin_a, page_client_for
):
    LicenseFactory(tenant=tenant_a, expires_at=datetime.now(UTC) - timedelta(days=1))

    response = page_client_for(admin_a).get("/")

    assert response.context["usage_banner"].level == "danger"


def test_no_banner_below_the_threshold(tenant_a, admin_a, page_client_for):
    set_usage(tenant_a, hosts=8, tasks=44)

    response = page_client_for(admin_a).get("/")

    assert response.context["usage_banner"] is None
    assert 'data-testid="usage-banner"' not in response.content.decode()


def _history(tenant, *, days: int, schedules: int, months: int) -> None:
    """`days` daily snapshots (a run-out ahead), `schedules` active schedules, a hard budget
    at 95 % this month and `months` periods of earlier months."""
    today = datetime.now(UTC).date()
    TaskCountSnapshot.objects.bulk_create(
        TaskCountSnapshot(
            tenant=tenant,
            day=today - timedelta(days=n),
            tasks_used=40_000 - 2_000 * n,
            schedule_ticks_created=0,
            taken_at=datetime.now(UTC),
        )
        for n in range(days)
    )
    ScheduleFactory.create_batch(schedules, tenant=tenant, every_minutes=1440)
    hard_budget(tenant, "100")
    month = month_of(datetime.now(UTC), tenant.zone)
    BudgetPeriod.objects.filter(tenant=tenant, month=month.first_day).update(spent_usd=95)
    BudgetPeriod.objects.bulk_create(
        BudgetPeriod(
            tenant=tenant,
            month=date(2000 + n // 12, n % 12 + 1, 1),
            ends_at=datetime(2000 + n // 12, n % 12 + 1, 28, tzinfo=UTC),
        )
        for n in range(months)
    )


@pytest.mark.parametrize(
    "size",
    [
        {"events": 10, "days": 4, "schedules": 1, "months": 1},
        {"events": 10_000, "days": 400, "schedules": 60, "months": 120},
    ],
)
def test_the_banner_costs_two_small_queries_whatever_the_data_size(
    tenant_a, admin_a, django_assert_num_queries, size
):
    LicenseFactory(
        tenant=tenant_a,
        hosts_cap=10,
        tasks_cap=100_000,
        expires_at=datetime.now(UTC) + timedelta(days=300),
    )
    set_usage(tenant_a, hosts=9, gateways=3, tasks=40_000)
    record_usage(tenant_a, events=size["events"])
    _history(tenant_a, days=size["days"], schedules=size["schedules"], months=size["months"])
    request = RequestFactory().get("/")
    request.user, request.tenant = admin_a, tenant_a

    # What counts as used (tasks' rule), and the tenant's row joined to its license, budget,
    # this month's period, and the few snapshots and schedules of the projection.
    with django_assert_num_queries(2):
        first = usage_banner(request)
        again = usage_banner(request)  # a second template on the same request: cached

    banner = first["usage_banner"]
    assert again == first and banner.level == "warning"
    assert "hosts 9 of 10" in banner.message  # the license's caps, not the free tier's
    assert "the tasks cap runs out on" in banner.message  # the snapshots and schedules
    assert "USD budget is at 95 %" in banner.message  # the budget and this month's period


def test_the_plan_card_reads_the_same_figures_as_the_queries_it_replaces(tenant_a):
    LicenseFactory(
        tenant=tenant_a,
        hosts_cap=10,
        tasks_cap=100_000,
        expires_at=datetime.now(UTC) + timedelta(days=300),
    )
    set_usage(tenant_a, hosts=4, tasks=40_000)
    _history(tenant_a, days=9, schedules=2, months=3)
    now = datetime.now(UTC)

    plan = plan_usage_with_projections(tenant_a, now=now)

    tasks = plan.dimension("tasks")
    assert plan == replace(
        plan_usage(tenant_a, now=now),
        projection=tasks_projection_for(
            tenant_a, now=now, used=tasks.used, cap=tasks.cap, ends_at=plan.ends_at
        ),
        budget=budget_card(tenant_a, now=now),
    )
    assert plan.projection.runs_out and plan.budget.usd.spent == 95


def test_the_banner_adds_no_query_for_members(tenant_a, member_a, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user, request.tenant = member_a, tenant_a

    with django_assert_num_queries(0):
        assert usage_banner(request) == {}
