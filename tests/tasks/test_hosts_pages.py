"""`/hosts/`: every user of the tenant sees its hosts; administrators register and delete them."""

import pytest

from tasks.models import Host
from tasks.services import host_register
from tests.factories import active_license

pytestmark = pytest.mark.django_db


def test_an_administrator_registers_a_host(page_client_for, admin_a, tenant_a):
    response = page_client_for(admin_a).post("/hosts/", {"name": "web-1"})

    assert response.status_code == 302
    assert list(Host.objects.filter(tenant=tenant_a).values_list("name", flat=True)) == ["web-1"]
    assert "web-1" in page_client_for(admin_a).get("/hosts/").content.decode()


def test_at_the_cap_registering_shows_the_refusal_with_the_numbers(
    page_client_for, admin_a, tenant_a
):
    active_license(tenant_a, hosts=1)
    host_register(tenant=tenant_a, name="web-1")

    response = page_client_for(admin_a).post("/hosts/", {"name": "web-2"})

    page = response.content.decode()
    assert response.status_code == 403
    assert 'data-code="host_cap_reached"' in page
    assert "1 of 1 hosts used" in page
    assert 'href="/usage/"' in page
    assert Host.objects.filter(tenant=tenant_a).count() == 1


def test_deleting_a_host_on_the_page_frees_its_slot(page_client_for, admin_a, tenant_a):
    active_license(tenant_a, hosts=1)
    host = host_register(tenant=tenant_a, name="web-1")
    client = page_client_for(admin_a)

    assert client.post(f"/hosts/{host.pk}/delete/").status_code == 302
    assert client.post("/hosts/", {"name": "web-2"}).status_code == 302
    assert list(Host.objects.filter(tenant=tenant_a).values_list("name", flat=True)) == ["web-2"]


def test_another_tenants_host_cannot_be_deleted(page_client_for, admin_a, tenant_b):
    theirs = host_register(tenant=tenant_b, name="theirs")

    assert page_client_for(admin_a).post(f"/hosts/{theirs.pk}/delete/").status_code == 404
    assert Host.objects.filter(pk=theirs.pk).exists()


def test_the_hosts_page_lists_only_the_tenants_hosts(page_client_for, admin_a, tenant_a, tenant_b):
    host_register(tenant=tenant_a, name="ours")
    host_register(tenant=tenant_b, name="theirs")

    page = page_client_for(admin_a).get("/hosts/").content.decode()

    assert "ours" in page
    assert "theirs" not in page


def test_a_member_sees_the_tenants_hosts_read_only(page_client_for, member_a, tenant_a, tenant_b):
    host_register(tenant=tenant_a, name="ours")
    host_register(tenant=tenant_b, name="theirs")

    response = page_client_for(member_a).get("/hosts/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "ours" in page
    assert "theirs" not in page
    assert "Register host" not in page
    assert "/delete/" not in page


def test_a_members_writes_on_the_hosts_page_are_refused(page_client_for, member_a, tenant_a):
    host = host_register(tenant=tenant_a, name="web-1")
    client = page_client_for(member_a)

    assert client.post("/hosts/", {"name": "web-2"}).status_code == 403
    assert client.post(f"/hosts/{host.pk}/delete/").status_code == 403
    assert list(Host.objects.filter(tenant=tenant_a).values_list("name", flat=True)) == ["web-1"]


@pytest.mark.parametrize(
    "who, status", [("admin_a", 200), ("member_a", 200), ("operator", 403), ("anonymous", 302)]
)
def test_every_user_of_the_tenant_opens_the_hosts_page(page_client_for, cast, who, status):
    assert page_client_for(cast[who]).get("/hosts/").status_code == status


def test_a_member_finds_hosts_and_gateways_in_the_navigation(page_client_for, member_a):
    nav = page_client_for(member_a).get("/tasks/").content.decode().split("</nav>")[0]

    assert 'href="/hosts/"' in nav
    assert 'href="/gateways/"' in nav
    assert 'href="/usage/"' not in nav
