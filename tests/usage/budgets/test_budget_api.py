"""`GET/PUT /api/v1/usage/budget/` and `POST /api/v1/usage/authorize/` (SPEC §6.1, §8.2)."""

from datetime import UTC, datetime

import pytest
import time_machine

from tests.usage.budgets.budget_helpers import hard_budget, period_of, priced_model
from usage.budgets.models import Budget

pytestmark = [pytest.mark.django_db]
BUDGET = "/api/v1/usage/budget/"
AUTHORIZE = "/api/v1/usage/authorize/"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
CALL = {"request_id": "r-1", "model": "gpt-4o", "input_tokens": 1_000_000, "max_output_tokens": 0}


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("member_a", 403)])
@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("get", BUDGET, None), ("put", BUDGET, {"kind": "hard"}), ("post", AUTHORIZE, CALL)],
)
def test_only_administrators_reach_the_budget_api(
    cast, api_client_for, who, status, method, path, body
):
    response = getattr(api_client_for(cast[who]), method)(path, body, format="json")

    assert response.status_code == status
    assert "code" in response.json()


def test_setting_a_budget_is_201_then_200_and_get_shows_it(admin_a, api_client_for):
    client = api_client_for(admin_a)

    created = client.put(BUDGET, {"limit_usd": "250.50", "kind": "hard"}, format="json")
    changed = client.put(BUDGET, {"limit_usd": "300", "kind": "soft"}, format="json")
    shown = client.get(BUDGET)

    assert created.status_code == 201
    assert created.json()["budget"]["limit_usd"] == "250.5"
    assert changed.status_code == 200
    data = shown.json()
    assert data["budget"]["kind"] == "soft"
    assert data["budget"]["limit_usd"] == "300"
    assert data["period"]["month"] == "2026-11"
    assert data["period"]["usd"] == {
        "limit": "300",
        "spent": "0",
        "reserved": "0",
        "remaining": "300",
        "percent": 0.0,
    }
    assert data["spend"]["average_per_day_usd"] == "0"


def test_both_limits_null_removes_the_budget(admin_a, api_client_for, tenant_a):
    client = api_client_for(admin_a)
    client.put(BUDGET, {"limit_tokens": 5000, "kind": "hard"}, format="json")

    response = client.put(
        BUDGET, {"limit_usd": None, "limit_tokens": None, "kind": "hard"}, format="json"
    )

    assert response.status_code == 200
    assert response.json()["budget"] is None
    assert not Budget.objects.filter(tenant=tenant_a).exists()


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"limit_usd": "-1", "kind": "hard"}, "limit_usd"),
        ({"limit_usd": "1.1234567", "kind": "hard"}, "limit_usd"),
        ({"limit_usd": "ten", "kind": "hard"}, "limit_usd"),
        ({"limit_usd": "10"}, "kind"),
        ({"limit_usd": "10", "kind": "strict"}, "kind"),
        ({"limit_tokens": -5, "kind": "soft"}, "limit_tokens"),
    ],
)
def test_a_bad_budget_is_a_400_naming_the_field(admin_a, api_client_for, tenant_a, body, field):
    response = api_client_for(admin_a).put(BUDGET, body, format="json")

    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert not Budget.objects.filter(tenant=tenant_a).exists()


def test_authorize_answers_the_reservation(admin_a, api_client_for, tenant_a):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")

    response = api_client_for(admin_a).post(AUTHORIZE, CALL, format="json")

    assert response.status_code == 200
    data = response.json()
    assert data["allowed"] is True and data["priced"] is True
    assert (data["reserved_usd"], data["remaining_usd"]) == ("1", "9")
    assert data["period_ends_at"] == "2026-12-01T00:00:00+00:00"
    assert isinstance(data["reservation_id"], int)


def test_authorize_past_a_hard_budget_is_403_budget_exhausted(admin_a, api_client_for, tenant_a):
    priced_model(tenant_a)
    hard_budget(tenant_a, "1.5")
    client = api_client_for(admin_a)
    client.post(AUTHORIZE, CALL, format="json")

    response = client.post(AUTHORIZE, {**CALL, "request_id": "r-2"}, format="json")

    assert response.status_code == 403
    data = response.json()
    assert data["code"] == "budget_exhausted"
    assert (data["spent_usd"], data["reserved_usd"], data["estimate_usd"]) == ("0", "1", "1")
    assert data["budget"] == {
        "kind": "hard",
        "month": "2026-11",
        "limit_usd": "1.5",
        "limit_tokens": None,
    }


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"input_tokens": -1}, "input_tokens"),
        ({"max_output_tokens": 2**31}, "max_output_tokens"),
        ({"model": "gpt-9"}, "model"),
        ({"request_id": ""}, "request_id"),
        ({"request_id": "a\x00b"}, "request_id"),
        ({"ticket": "x"}, "ticket"),
    ],
)
def test_a_bad_authorization_is_a_400_and_reserves_nothing(
    admin_a, api_client_for, tenant_a, change, field
):
    priced_model(tenant_a)

    response = api_client_for(admin_a).post(AUTHORIZE, {**CALL, **change}, format="json")

    assert response.status_code == 400
    assert field in response.json()["errors"]


def test_tenants_never_see_or_spend_each_others_budget(
    admin_a, admin_b, api_client_for, tenant_a, tenant_b
):
    priced_model(tenant_a)
    priced_model(tenant_b)
    hard_budget(tenant_a, "1")
    api_client_for(admin_a).post(AUTHORIZE, CALL, format="json")

    seen_by_b = api_client_for(admin_b).get(BUDGET).json()
    b_call = api_client_for(admin_b).post(AUTHORIZE, CALL, format="json")  # same request_id

    assert seen_by_b["budget"] is None
    assert seen_by_b["period"]["usd"]["reserved"] == "0"
    assert b_call.status_code == 200
    assert b_call.json()["remaining_usd"] is None
    assert period_of(tenant_a).reserved_usd == 1
    assert period_of(tenant_b).reserved_usd == 1
