"""`/api/v1/hosts/`: members list, administrators register (403 at the cap) and delete."""

import pytest

from tasks.models import Host
from tasks.services import host_register
from tests.factories import active_license

pytestmark = pytest.mark.django_db


def test_an_administrator_registers_hosts_until_the_cap(api_client_for, admin_a, tenant_a):
    active_license(tenant_a, hosts=1)
    client = api_client_for(admin_a)

    created = client.post("/api/v1/hosts/", {"name": "web-1"}, format="json")
    refused = client.post("/api/v1/hosts/", {"name": "web-2"}, format="json")

    assert created.status_code == 201
    assert created.json()["name"] == "web-1"
    assert refused.status_code == 403
    body = refused.json()
    assert (body["code"], body["dimension"], body["used"], body["cap"]) == (
        "host_cap_reached",
        "hosts",
        1,
        1,
    )


def test_deleting_a_host_frees_its_slot_for_the_next_one(api_client_for, admin_a, tenant_a):
    active_license(tenant_a, hosts=1)
    host = host_register(tenant=tenant_a, name="web-1")
    client = api_client_for(admin_a)

    assert client.delete(f"/api/v1/hosts/{host.pk}/").status_code == 204
    assert client.post("/api/v1/hosts/", {"name": "web-2"}, format="json").status_code == 201


def test_a_member_lists_hosts_but_cannot_change_them(api_client_for, member_a, tenant_a):
    host = host_register(tenant=tenant_a, name="web-1")
    client = api_client_for(member_a)

    assert [h["name"] for h in client.get("/api/v1/hosts/").json()["results"]] == ["web-1"]
    assert client.post("/api/v1/hosts/", {"name": "web-2"}, format="json").status_code == 403
    assert client.delete(f"/api/v1/hosts/{host.pk}/").status_code == 403
    assert Host.objects.filter(tenant=tenant_a).count() == 1


def test_another_tenants_host_is_a_404(api_client_for, admin_a, tenant_b):
    theirs = host_register(tenant=tenant_b, name="theirs")

    assert api_client_for(admin_a).delete(f"/api/v1/hosts/{theirs.pk}/").status_code == 404
    assert Host.objects.filter(pk=theirs.pk).exists()


def test_an_expired_license_refuses_hosts(api_client_for, admin_a, tenant_a):
    active_license(tenant_a, expired=True)

    response = api_client_for(admin_a).post("/api/v1/hosts/", {"name": "web-1"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "license_expired"


@pytest.mark.parametrize("who, status", [("anonymous", 401), ("operator", 403)])
def test_outsiders_cannot_list_hosts(api_client_for, cast, who, status):
    assert api_client_for(cast[who]).get("/api/v1/hosts/").status_code == status
