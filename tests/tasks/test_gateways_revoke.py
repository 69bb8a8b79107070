"""Revoking a gateway: its slot is free again, its tickets stay, its deliveries are refused.

A gateway that delivered tickets cannot be deleted (tickets are never lost), so removing
one revokes it: every entry point (API, page, Django admin) calls `gateway_revoke`.
"""

import pytest

from tasks.engine import run_pass
from tasks.models import Gateway, Ticket
from tasks.selectors import tenant_usage
from tasks.services import gateway_create, gateway_revoke
from tests.factories import active_license
from tests.tasks.ticket_helpers import receive

pytestmark = pytest.mark.django_db


def test_a_revoked_gateway_frees_its_slot_and_keeps_its_tickets(tenant_a):
    active_license(tenant_a, gateways=1)
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    receive(gateway, "INC-1")
    run_pass()

    gateway_revoke(gateway=gateway)

    gateway.refresh_from_db()
    assert gateway.revoked_at is not None
    assert tenant_usage(tenant_a)["gateways"] == 0
    assert Ticket.objects.get(gateway=gateway).status == Ticket.Status.CONVERTED
    replacement, _secret = gateway_create(tenant=tenant_a, name="Jira 2", kind="jira")
    assert list(Gateway.objects.registered().filter(tenant=tenant_a)) == [replacement]


def test_revoking_twice_keeps_the_first_revocation_time(tenant_a):
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    gateway_revoke(gateway=gateway)
    first = Gateway.objects.get(pk=gateway.pk).revoked_at

    gateway_revoke(gateway=gateway)

    assert Gateway.objects.get(pk=gateway.pk).revoked_at == first


def test_a_ticket_stored_before_the_revocation_is_still_converted(tenant_a):
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    ticket = receive(gateway, "INC-1")

    gateway_revoke(gateway=gateway)
    run_pass()

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CONVERTED


def test_the_admin_revokes_instead_of_deleting(page_client_for, operator, tenant_a):
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    receive(gateway, "INC-1")
    client = page_client_for(operator)

    response = client.post(
        "/admin/tasks/gateway/",
        {"action": "revoke_gateways", "_selected_action": [gateway.pk]},
        follow=True,
    )

    assert "1 gateways revoked" in response.content.decode()
    gateway.refresh_from_db()
    assert gateway.revoked_at is not None
    assert Ticket.objects.filter(gateway=gateway).count() == 1


def test_the_admin_offers_no_delete_that_could_only_fail(page_client_for, operator, tenant_a):
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    receive(gateway, "INC-1")
    client = page_client_for(operator)

    change_page = client.get(f"/admin/tasks/gateway/{gateway.pk}/change/").content.decode()
    list_page = client.get("/admin/tasks/gateway/").content.decode()
    response = client.post(f"/admin/tasks/gateway/{gateway.pk}/delete/", {"post": "yes"})

    assert "/delete/" not in change_page
    assert 'value="delete_selected"' not in list_page
    assert 'value="revoke_gateways"' in list_page
    assert response.status_code == 403
    assert Gateway.objects.filter(pk=gateway.pk).exists()


def test_the_plan_card_and_the_license_api_count_what_the_guard_counts(
    tenant_a, admin_a, api_client_for
):
    """One notion of "registered": a revoked gateway is used nowhere, not only in the guard."""
    from licensing.selectors import tenant_used
    from usage.plan import plan_usage

    active_license(tenant_a, gateways=3)
    kept, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    revoked, _secret = gateway_create(tenant=tenant_a, name="Old", kind="webhook")
    gateway_revoke(gateway=revoked)

    assert tenant_usage(tenant_a)["gateways"] == 1
    assert tenant_used(tenant_a)["gateways"] == 1
    plan = plan_usage(tenant_a).dimensions
    gateways = next(row for row in plan if row.dimension == "gateways")
    assert gateways.used == 1
    license_api = api_client_for(admin_a).get("/api/v1/license/").json()
    assert license_api["usage"]["gateways"]["used"] == 1
