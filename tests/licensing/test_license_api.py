"""`/api/v1/license/` and `/api/v1/license/history/` (SPEC §6.1) with the fixed cast."""

from datetime import UTC, datetime, timedelta

import pytest

from licensing.models import License
from licensing.services import license_apply

STATE, HISTORY = "/api/v1/license/", "/api/v1/license/history/"


@pytest.mark.parametrize("url", [STATE, HISTORY])
@pytest.mark.parametrize(
    "who, status, code",
    [
        ("admin_a", 200, None),
        ("admin_b", 200, None),
        ("member_a", 403, "permission_denied"),
        ("operator", 403, "permission_denied"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_who_may_read_the_license(cast, api_client_for, url, who, status, code):
    response = api_client_for(cast[who]).get(url)
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code


@pytest.mark.parametrize("who, status", [("member_a", 403), ("operator", 403), ("anonymous", 401)])
def test_who_may_not_apply_a_license(vendor, cast, api_client_for, tenant_a, who, status):
    response = api_client_for(cast[who]).post(STATE, {"token": vendor.token(tenant_a)})
    assert response.status_code == status
    assert not License.objects.exists()


def test_the_free_tier_state_with_usage(admin_a, api_client_for, tenant_a):
    body = api_client_for(admin_a).get(STATE).json()
    assert body["state"] == "free_tier" and body["kind"] == "free_tier"
    assert body["license"] is None
    assert body["license_subject"] == str(tenant_a.license_subject)
    assert body["caps"] == {"hosts": 10, "gateways": None, "tasks": 50}
    assert body["usage"]["tasks"] == {"used": 0, "cap": 50}
    assert body["usage"]["gateways"] == {"used": 0, "cap": None}


def test_applying_a_token_answers_201_with_the_new_state(vendor, admin_a, api_client_for, tenant_a):
    token = vendor.token(tenant_a, jti="L-42", caps={"hosts": 3, "gateways": 2, "tasks": None})
    response = api_client_for(admin_a).post(STATE, {"token": token}, format="json")

    assert response.status_code == 201
    body = response.json()
    assert body["state"] == "licensed" and body["kind"] == "contract"
    assert body["caps"] == {"hosts": 3, "gateways": 2, "tasks": None}
    assert body["days_remaining"] == 30 and body["perpetual"] is False
    assert body["license"]["jti"] == "L-42"
    assert body["license"]["applied_by"] == "admin-a"
    assert body["license"]["status"] == "active"
    assert api_client_for(admin_a).get(STATE).json() == body


def test_a_refused_token_answers_400_with_the_refusal_code(
    vendor, admin_a, api_client_for, tenant_a
):
    active = license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    response = api_client_for(admin_a).post(STATE, {"token": vendor.token(tenant_a, kind="gold")})
    assert response.status_code == 400
    assert response.json() == {
        "code": "invalid_claim",
        "detail": "The license's claim 'kind' must be 'contract' or 'trial'.",
    }
    assert list(License.objects.values_list("pk", "status")) == [(active.pk, "active")]


def test_a_request_without_a_token_field_is_a_validation_error(admin_a, api_client_for):
    response = api_client_for(admin_a).post(STATE, {}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid" and "token" in response.json()["errors"]


def test_a_blank_token_is_refused_as_malformed(admin_a, api_client_for):
    response = api_client_for(admin_a).post(STATE, {"token": ""}, format="json")
    assert response.json()["code"] == "malformed"


def test_history_is_newest_first_and_only_of_the_callers_tenant(
    vendor, admin_a, admin_b, api_client_for, tenant_a
):
    earlier = int((datetime.now(UTC) - timedelta(days=2)).timestamp())
    license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, jti="old", iat=earlier), acting_user=None
    )
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a, jti="new"), acting_user=admin_a)

    body = api_client_for(admin_a).get(HISTORY).json()
    assert [(row["jti"], row["status"]) for row in body["results"]] == [
        ("new", "active"),
        ("old", "archived"),
    ]
    assert body["results"][1]["archived_at"] is not None
    assert body["results"][1]["applied_by"] is None
    assert api_client_for(admin_b).get(HISTORY).json()["results"] == []


def test_the_license_endpoints_are_in_the_openapi_schema_with_examples(client, db):
    schema = client.get("/api/schema/?format=json").json()
    state = schema["paths"]["/api/v1/license/"]
    assert set(state) >= {"get", "post"}
    assert "400" in state["post"]["responses"]
    assert "examples" in state["get"]["responses"]["200"]["content"]["application/json"]
    assert "/api/v1/license/history/" in schema["paths"]
