"""The usage banner: a pure decision, and a context processor for administrators only."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory

from tests.factories import LicenseFactory
from tests.usage.activity_helpers import record_usage
from tests.usage.plan_helpers import set_usage
from usage.context_processors import usage_banner
from usage.plan import DimensionUsage, PlanUsage, banner_for


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


@pytest.mark.parametrize("events", [10, 10_000])
def test_the_banner_costs_six_small_queries_whatever_the_data_size(
    tenant_a, admin_a, django_assert_max_num_queries, events
):
    set_usage(tenant_a, hosts=9, gateways=3, tasks=45)
    record_usage(tenant_a, events=events)
    request = RequestFactory().get("/")
    request.user, request.tenant = admin_a, tenant_a

    # The plan (2), the tasks snapshots and schedules (2), the budget and its period (2).
    with django_assert_max_num_queries(6):
        first = usage_banner(request)
        again = usage_banner(request)  # a second template on the same request: cached

    assert first["usage_banner"].level == "warning" and again == first


def test_the_banner_adds_no_query_for_members(tenant_a, member_a, django_assert_num_queries):
    request = RequestFactory().get("/")
    request.user, request.tenant = member_a, tenant_a

    with django_assert_num_queries(0):
        assert usage_banner(request) == {}
