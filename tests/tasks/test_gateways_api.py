"""`/api/v1/gateways/`: administrators only; the create answer holds the secret, once."""

import hashlib

import pytest

from tasks.models import Gateway
from tasks.services import gateway_create
from tests.factories import active_license

pytestmark = pytest.mark.django_db


def test_the_create_answer_holds_the_secret_and_the_list_never_does(
    api_client_for, admin_a, tenant_a
):
    client = api_client_for(admin_a)

    response = client.post("/api/v1/gateways/", {"name": "Jira", "kind": "jira"}, format="json")

    assert response.status_code == 201
    assert "no-store" in response["Cache-Control"]
    body = response.json()
    gateway = Gateway.objects.get(pk=body["id"], tenant=tenant_a)
    assert gateway.secret_hash == hashlib.sha256(body["secret"].encode()).hexdigest()
    assert body["delivery_url"] == f"/api/v1/gateways/{gateway.pk}/tickets/"
    listed = client.get("/api/v1/gateways/").json()["results"]
    assert [g["name"] for g in listed] == ["Jira"]
    assert "secret" not in listed[0]


def test_at_the_cap_the_api_answers_403_gateway_cap_reached(api_client_for, admin_a, tenant_a):
    active_license(tenant_a, gateways=1)
    gateway_create(tenant=tenant_a, name="Jira", kind="jira")

    response = api_client_for(admin_a).post(
        "/api/v1/gateways/", {"name": "Hook", "kind": "webhook"}, format="json"
    )

    assert response.status_code == 403
    body = response.json()
    assert (body["code"], body["used"], body["cap"]) == ("gateway_cap_reached", 1, 1)
    assert "secret" not in body


def test_an_unknown_kind_is_a_400(api_client_for, admin_a):
    response = api_client_for(admin_a).post(
        "/api/v1/gateways/", {"name": "Fax", "kind": "fax"}, format="json"
    )

    assert response.status_code == 400
    assert "kind" in response.json()["errors"]


def test_the_list_holds_only_the_callers_tenants_gateways(api_client_for, admin_a, tenant_b):
    gateway_create(tenant=tenant_b, name="Theirs", kind="jira")

    assert api_client_for(admin_a).get("/api/v1/gateways/").json()["results"] == []


@pytest.mark.parametrize("who, status", [("anonymous", 401), ("member_a", 403), ("operator", 403)])
def test_only_administrators_use_the_gateways_api(api_client_for, cast, who, status):
    assert api_client_for(cast[who]).get("/api/v1/gateways/").status_code == status


def test_delete_revokes_the_gateway_and_frees_its_slot(api_client_for, admin_a, tenant_a):
    active_license(tenant_a, gateways=1)
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    client = api_client_for(admin_a)

    response = client.delete(f"/api/v1/gateways/{gateway.pk}/")

    assert response.status_code == 204
    gateway.refresh_from_db()
    assert gateway.revoked_at is not None
    assert client.get("/api/v1/gateways/").json()["results"] == []
    created = client.post("/api/v1/gateways/", {"name": "Hook", "kind": "webhook"}, format="json")
    assert created.status_code == 201


def test_deleting_another_tenants_gateway_is_a_404(api_client_for, admin_a, tenant_b):
    theirs, _secret = gateway_create(tenant=tenant_b, name="Theirs", kind="jira")

    response = api_client_for(admin_a).delete(f"/api/v1/gateways/{theirs.pk}/")

    assert response.status_code == 404
    assert response.json()["code"] == "not_found"
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


@pytest.mark.parametrize("who, status", [("anonymous", 401), ("member_a", 403), ("operator", 403)])
def test_only_administrators_delete_gateways(api_client_for, cast, tenant_a, who, status):
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")

    assert api_client_for(cast[who]).delete(f"/api/v1/gateways/{gateway.pk}/").status_code == status
    gateway.refresh_from_db()
    assert gateway.revoked_at is None
