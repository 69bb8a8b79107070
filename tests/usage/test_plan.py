"""`plan_usage`: the Plan-usage card as data, and `GET /api/v1/usage/plan/`."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.factories import LicenseFactory
from tests.usage.plan_helpers import set_usage
from usage.plan import DimensionUsage, plan_usage

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _caps(plan):
    return {usage.dimension: (usage.used, usage.cap, usage.percent) for usage in plan.dimensions}


def test_a_tenant_without_a_license_is_on_the_free_tier_with_its_caps(tenant_a):
    set_usage(tenant_a, hosts=3, gateways=2, tasks=45)

    plan = plan_usage(tenant_a)

    assert plan.kind == "free_tier" and plan.kind_label == "Free tier"
    assert not plan.expired and not plan.perpetual
    assert plan.starts_at is None and plan.ends_at is None and plan.days_remaining is None
    assert _caps(plan) == {
        "hosts": (3, 10, 30.0),
        "gateways": (2, None, None),
        "tasks": (45, 50, 90.0),
    }


def test_tasks_used_is_zero_when_the_tenant_never_created_a_task(tenant_a):
    assert plan_usage(tenant_a).dimension("tasks").used == 0


def test_a_contract_shows_its_caps_window_and_days_remaining(tenant_a):
    LicenseFactory(
        tenant=tenant_a,
        kind="contract",
        hosts_cap=20,
        gateways_cap=None,
        tasks_cap=1000,
        starts_at=NOW - timedelta(days=30),
        expires_at=NOW + timedelta(days=10, hours=5),
    )
    set_usage(tenant_a, hosts=5, tasks=999)

    with time_machine.travel(NOW, tick=False):
        plan = plan_usage(tenant_a)

    assert plan.kind == "contract" and plan.state == "licensed"
    assert plan.starts_at == NOW - timedelta(days=30)
    assert plan.ends_at == NOW + timedelta(days=10, hours=5)
    assert plan.days_remaining == 11  # 10 days and 5 hours, rounded up
    assert not plan.perpetual and not plan.expired
    assert _caps(plan) == {
        "hosts": (5, 20, 25.0),
        "gateways": (0, None, None),
        "tasks": (999, 1000, 99.9),
    }


def test_a_license_without_an_end_is_perpetual(tenant_a):
    LicenseFactory(tenant=tenant_a, kind="trial", expires_at=None)

    plan = plan_usage(tenant_a)

    assert plan.perpetual and plan.kind_label == "Trial"
    assert plan.ends_at is None and plan.days_remaining is None


def test_a_license_past_its_end_is_expired_with_no_days_remaining(tenant_a):
    LicenseFactory(tenant=tenant_a, expires_at=NOW - timedelta(days=2))

    with time_machine.travel(NOW, tick=False):
        plan = plan_usage(tenant_a)

    assert plan.expired and plan.state == "expired"
    assert plan.days_remaining == 0


def test_another_tenants_hosts_gateways_and_tasks_are_not_counted(tenant_a, tenant_b):
    set_usage(tenant_b, hosts=7, gateways=3, tasks=40)
    set_usage(tenant_a, hosts=1)

    used = {usage.dimension: usage.used for usage in plan_usage(tenant_a).dimensions}

    assert used == {"hosts": 1, "gateways": 0, "tasks": 0}


def test_plan_usage_takes_two_queries(tenant_a, django_assert_num_queries):
    LicenseFactory(tenant=tenant_a)
    set_usage(tenant_a, hosts=4, gateways=2, tasks=30)

    with django_assert_num_queries(2):
        plan_usage(tenant_a)


@pytest.mark.parametrize(
    "used, cap, percent, level",
    [
        (0, 10, 0.0, "ok"),
        (89, 100, 89.0, "ok"),
        (8999, 10000, 90.0, "ok"),  # 89.99 % shows as 90.0 but is not yet a warning
        (90, 100, 90.0, "warning"),
        (100, 100, 100.0, "danger"),
        (12, 10, 120.0, "danger"),
        (0, 0, 100.0, "danger"),
        (5000, None, None, "ok"),
    ],
)
def test_a_dimensions_percent_and_level(used, cap, percent, level):
    usage = DimensionUsage("tasks", used, cap)

    assert (usage.percent, usage.level) == (percent, level)
    assert 0 <= usage.bar_percent <= 100


def test_the_plan_api_gives_the_card_as_data(tenant_a, admin_a, api_client_for):
    LicenseFactory(
        tenant=tenant_a,
        hosts_cap=10,
        gateways_cap=None,
        tasks_cap=500,
        starts_at=NOW - timedelta(days=1),
        expires_at=NOW + timedelta(days=40),
    )
    set_usage(tenant_a, hosts=9, gateways=2, tasks=120)

    with time_machine.travel(NOW, tick=False):
        response = api_client_for(admin_a).get("/api/v1/usage/plan/")

    assert response.status_code == 200
    assert response.json() == {
        "state": "licensed",
        "kind": "contract",
        "starts_at": "2026-05-31T12:00:00Z",
        "ends_at": "2026-07-11T12:00:00Z",
        "perpetual": False,
        "days_remaining": 40,
        "expired": False,
        "entitlements": {
            "hosts": {"used": 9, "cap": 10, "percent": 90.0},
            "gateways": {"used": 2, "cap": None, "percent": None},
            "tasks": {"used": 120, "cap": 500, "percent": 24.0},
        },
        "days_elapsed": 1,
        "projection": {
            "tasks_per_day": None,
            "schedule_ticks_per_day": "0.00",
            "cap_reached_on": None,
            "days_until_cap": None,
            "status": "not_enough_data",
        },
        "spend": {
            "month_to_date_usd": "0.000000",
            "average_per_day_usd": None,  # 1 June: no complete day of the month yet
            "projected_month_end_usd": None,
            "budget": None,
        },
    }


@pytest.mark.parametrize(
    "who, status", [("admin_a", 200), ("member_a", 403), ("anonymous", 401), ("admin_b", 200)]
)
def test_only_administrators_read_the_plan_api(cast, api_client_for, who, status):
    response = api_client_for(cast[who]).get("/api/v1/usage/plan/")

    assert response.status_code == status


def test_another_tenants_administrator_reads_only_its_own_plan(
    tenant_a, tenant_b, admin_b, api_client_for
):
    set_usage(tenant_a, hosts=8, tasks=49)
    set_usage(tenant_b, hosts=1, tasks=2)

    entitlements = api_client_for(admin_b).get("/api/v1/usage/plan/").json()["entitlements"]

    assert entitlements["hosts"]["used"] == 1 and entitlements["tasks"]["used"] == 2


def test_the_plan_api_is_in_the_openapi_schema_with_an_example(admin_a, api_client_for):
    schema = api_client_for(admin_a).get("/api/schema/", {"format": "json"}).json()

    operation = schema["paths"]["/api/v1/usage/plan/"]["get"]
    content = operation["responses"]["200"]["content"]["application/json"]
    assert "examples" in content
