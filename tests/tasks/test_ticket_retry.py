"""Rejected tickets: a Retry button per ticket and "Retry all rejected" on the tickets page,
and `POST /api/v1/tickets/retry-rejected/`; administrators only, each tenant its own."""

import pytest

from tasks.engine import run_pass
from tasks.models import Ticket
from tests.tasks.ticket_helpers import gateway_for, license_with, receive


@pytest.fixture
def rejected(tenant_a):
    """Two rejected tickets of tenant A (no task slot left) and one converted."""
    license_with(tenant_a, tasks_cap=1)
    gateway = gateway_for(tenant_a)[0]
    converted = receive(gateway, "INC-1", subject="Restart the agent")
    tickets = [receive(gateway, f"INC-{n}", subject=f"Rotate key {n}") for n in (2, 3)]
    run_pass()
    assert set(Ticket.objects.filter(tenant=tenant_a).values_list("status", flat=True)) == {
        "converted",
        "rejected",
    }
    return tickets, converted


@pytest.fixture
def theirs(tenant_b):
    license_with(tenant_b, tasks_cap=0)
    ticket = receive(gateway_for(tenant_b)[0], "THEIRS-1")
    run_pass()
    return ticket


def _status(ticket) -> str:
    ticket.refresh_from_db()
    return ticket.status


def test_a_rejected_ticket_has_a_retry_button_for_administrators(
    rejected, page_client_for, admin_a
):
    (first, _second), converted = rejected
    page = page_client_for(admin_a).get("/tickets/").content.decode()
    row = page.split(f'id="ticket-{first.pk}"')[1].split("</tr>")[0]
    assert f'action="/tickets/{first.pk}/retry/"' in row and ">Retry</button>" in row
    converted_row = page.split(f'id="ticket-{converted.pk}"')[1].split("</tr>")[0]
    assert "/retry/" not in converted_row


def test_members_see_no_retry_button(rejected, page_client_for, member_a):
    page = page_client_for(member_a).get("/tickets/").content.decode()
    assert "/retry/" not in page and "Retry all rejected" not in page
    assert "2 rejected" in page


def test_the_retry_button_puts_the_ticket_back_to_pending(
    rejected, page_client_for, admin_a, tenant_a
):
    (first, second), _converted = rejected
    response = page_client_for(admin_a).post(f"/tickets/{first.pk}/retry/", follow=True)
    assert "Ticket INC-2 is pending again" in response.content.decode()
    assert (_status(first), _status(second)) == ("pending", "rejected")
    license_with(tenant_a, tasks_cap=5)
    run_pass()
    assert _status(first) == "converted"


def test_retrying_a_ticket_that_is_no_longer_rejected_says_so(rejected, page_client_for, admin_a):
    _tickets, converted = rejected
    response = page_client_for(admin_a).post(f"/tickets/{converted.pk}/retry/", follow=True)
    assert "is converted, not rejected: there is nothing to retry." in response.content.decode()
    assert _status(converted) == "converted"


@pytest.mark.parametrize(
    ("who", "status"), [("member_a", 403), ("admin_b", 404), ("anonymous", 302)]
)
def test_who_cannot_retry_from_the_page(rejected, cast, page_client_for, who, status):
    (first, _second), _converted = rejected
    assert page_client_for(cast[who]).post(f"/tickets/{first.pk}/retry/").status_code == status
    assert _status(first) == "rejected"


def test_a_get_of_the_retry_url_changes_nothing(rejected, page_client_for, admin_a):
    (first, _second), _converted = rejected
    assert page_client_for(admin_a).get(f"/tickets/{first.pk}/retry/").status_code == 405
    assert _status(first) == "rejected"


def test_retry_all_puts_every_rejected_ticket_of_the_tenant_back_and_says_how_many(
    rejected, theirs, page_client_for, admin_a
):
    (first, second), converted = rejected
    client = page_client_for(admin_a)
    assert "Retry all rejected" in client.get("/tickets/").content.decode()

    response = client.post("/tickets/retry-rejected/", follow=True)

    assert "2 rejected tickets are pending again" in response.content.decode()
    assert (_status(first), _status(second), _status(converted)) == (
        "pending",
        "pending",
        "converted",
    )
    assert _status(theirs) == "rejected"  # another tenant's ticket is not touched
    assert "Retry all rejected" not in response.content.decode()  # nothing left to retry


def test_retry_all_with_nothing_rejected_says_there_was_nothing(tenant_a, page_client_for, admin_a):
    response = page_client_for(admin_a).post("/tickets/retry-rejected/", follow=True)
    assert "No ticket was rejected: there was nothing to retry." in response.content.decode()


@pytest.mark.parametrize(("who", "status"), [("member_a", 403), ("anonymous", 302)])
def test_who_cannot_retry_all_from_the_page(rejected, cast, page_client_for, who, status):
    (first, _second), _converted = rejected
    assert page_client_for(cast[who]).post("/tickets/retry-rejected/").status_code == status
    assert _status(first) == "rejected"


def test_another_tenants_retry_all_leaves_these_tickets_rejected(
    rejected, page_client_for, admin_b
):
    (first, _second), _converted = rejected
    response = page_client_for(admin_b).post("/tickets/retry-rejected/", follow=True)
    assert "nothing to retry" in response.content.decode()
    assert _status(first) == "rejected"


def test_the_api_retries_all_rejected_tickets_of_the_tenant(
    rejected, theirs, api_client_for, admin_a
):
    (first, second), _converted = rejected
    response = api_client_for(admin_a).post("/api/v1/tickets/retry-rejected/")
    assert (response.status_code, response.json()) == (200, {"retried": 2})
    assert (_status(first), _status(second), _status(theirs)) == ("pending", "pending", "rejected")
    assert api_client_for(admin_a).post("/api/v1/tickets/retry-rejected/").json() == {"retried": 0}


@pytest.mark.parametrize(
    ("who", "status"), [("member_a", 403), ("operator", 403), ("anonymous", 401)]
)
def test_who_cannot_retry_all_through_the_api(rejected, cast, api_client_for, who, status):
    (first, _second), _converted = rejected
    assert api_client_for(cast[who]).post("/api/v1/tickets/retry-rejected/").status_code == status
    assert _status(first) == "rejected"


def test_an_administrator_of_another_tenant_retries_only_their_own(
    rejected, theirs, api_client_for, admin_b
):
    (first, _second), _converted = rejected
    assert api_client_for(admin_b).post("/api/v1/tickets/retry-rejected/").json() == {"retried": 1}
    assert (_status(first), _status(theirs)) == ("rejected", "pending")
