"""`tenant_entitlements`: free tier, licensed, expired (a hard block), perpetual; at the edges."""

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from licensing.selectors import FREE_TIER_CAPS, tenant_entitlements, tenant_used
from licensing.services import license_apply
from tests.factories import LicenseFactory

START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
END = START + timedelta(days=30)


@pytest.fixture
def thirty_day_license(vendor, tenant_a):
    token = vendor.token(
        tenant_a,
        iat=int(START.timestamp()),
        nbf=int(START.timestamp()),
        exp=int(END.timestamp()),
        caps={"hosts": 12, "gateways": 5, "tasks": 500},
    )
    with time_machine.travel(START, tick=False):
        return license_apply(tenant=tenant_a, token=token, acting_user=None)


def test_a_tenant_that_never_applied_a_license_is_on_the_free_tier(tenant_a):
    entitlements = tenant_entitlements(tenant_a)
    assert entitlements.state == "free_tier" and entitlements.kind == "free_tier"
    assert entitlements.caps == {"tasks": 50, "hosts": 10, "gateways": None}
    assert entitlements.license is None and not entitlements.is_perpetual
    assert entitlements.days_remaining() is None


def test_the_free_tier_caps_are_a_copy_nobody_can_change_by_accident(tenant_a):
    tenant_entitlements(tenant_a).caps["tasks"] = 10**6
    assert FREE_TIER_CAPS["tasks"] == 50
    assert tenant_entitlements(tenant_a).cap("tasks") == 50


@pytest.mark.parametrize(
    "moment, state, days",
    [
        (START, "licensed", 30),
        (START + timedelta(days=10, hours=1), "licensed", 20),
        (END, "licensed", 0),
        (END + timedelta(seconds=60), "licensed", 0),
        (END + timedelta(seconds=61), "expired", 0),
        (END + timedelta(days=400), "expired", 0),
    ],
    ids=["start", "day-ten", "exp", "exp-plus-leeway", "a-second-after-leeway", "long-after"],
)
def test_the_state_follows_the_validity_window(thirty_day_license, tenant_a, moment, state, days):
    with time_machine.travel(moment, tick=False):
        entitlements = tenant_entitlements(tenant_a)
        assert entitlements.state == state
        assert entitlements.days_remaining() == days
    assert entitlements.caps == {"hosts": 12, "gateways": 5, "tasks": 500}
    assert (entitlements.starts_at, entitlements.ends_at) == (START, END)
    assert entitlements.is_expired is (state == "expired")


def test_an_expired_license_does_not_fall_back_to_the_free_tier(thirty_day_license, tenant_a):
    with time_machine.travel(END + timedelta(days=1), tick=False):
        entitlements = tenant_entitlements(tenant_a)
    assert entitlements.state == "expired"
    assert entitlements.kind == "contract"
    assert entitlements.license == thirty_day_license


def test_a_fresh_license_lifts_the_expired_block(thirty_day_license, vendor, tenant_a):
    with time_machine.travel(END + timedelta(days=1), tick=False):
        license_apply(tenant=tenant_a, token=vendor.token(tenant_a, kind="trial"), acting_user=None)
        entitlements = tenant_entitlements(tenant_a)
    assert entitlements.state == "licensed" and entitlements.kind == "trial"


def test_a_perpetual_license_never_expires(vendor, tenant_a):
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a, drop=("exp",)), acting_user=None)
    with time_machine.travel(datetime(2199, 1, 1, tzinfo=UTC), tick=False):
        entitlements = tenant_entitlements(tenant_a)
    assert entitlements.state == "licensed"
    assert entitlements.is_perpetual and entitlements.ends_at is None
    assert entitlements.days_remaining() is None


def test_entitlements_cost_one_query(tenant_a, django_assert_num_queries):
    LicenseFactory(tenant=tenant_a)
    with django_assert_num_queries(1):
        tenant_entitlements(tenant_a)


def test_licensing_reads_usage_through_the_reader_the_tasks_app_registers(tenant_a):
    """Licensing shows usage without knowing the tables: tasks.selectors answers for it."""
    from tasks.models import Host, TaskCounter

    assert tenant_used(tenant_a) == {"hosts": 0, "gateways": 0, "tasks": 0}
    Host.objects.create(tenant=tenant_a, name="web-1")
    TaskCounter.objects.update_or_create(tenant=tenant_a, defaults={"used": 7})
    assert tenant_used(tenant_a) == {"hosts": 1, "gateways": 0, "tasks": 7}
