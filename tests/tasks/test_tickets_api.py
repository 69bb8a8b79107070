"""GET /api/v1/tickets/<id>/ (members) and POST /api/v1/tickets/<id>/retry/ (administrators)."""

import pytest

from tasks.engine import run_pass
from tasks.models import Ticket
from tests.tasks.ticket_helpers import gateway_for, license_with, receive


@pytest.fixture
def rejected(tenant_a):
    license_with(tenant_a, tasks_cap=0)
    ticket = receive(gateway_for(tenant_a)[0], "INC-1")
    run_pass()
    ticket.refresh_from_db()
    return ticket


@pytest.fixture
def converted(tenant_a):
    ticket = receive(gateway_for(tenant_a, name="Webhook", kind="webhook")[0], "INC-2")
    run_pass()
    ticket.refresh_from_db()
    return ticket


def test_a_member_reads_a_converted_ticket_with_its_task(converted, api_client_for, member_a):
    response = api_client_for(member_a).get(f"/api/v1/tickets/{converted.pk}/")
    assert response.status_code == 200
    body = response.json()
    assert (body["status"], body["task"], body["refusal_code"]) == (
        "converted",
        converted.task_id,
        "",
    )


def test_a_member_reads_a_rejected_ticket_with_its_refusal(rejected, api_client_for, member_a):
    body = api_client_for(member_a).get(f"/api/v1/tickets/{rejected.pk}/").json()
    assert (body["status"], body["task"], body["refusal_code"]) == (
        "rejected",
        None,
        "task_cap_reached",
    )
    assert "0 of 0 tasks used" in body["refusal_detail"]


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin_a", 200), ("member_a", 200), ("admin_b", 404), ("operator", 403), ("anonymous", 401)],
)
def test_who_can_read_a_ticket(rejected, cast, api_client_for, who, status):
    response = api_client_for(cast[who]).get(f"/api/v1/tickets/{rejected.pk}/")
    assert response.status_code == status


def test_the_ticket_list_filters_by_status(converted, rejected, api_client_for, member_a):
    client = api_client_for(member_a)
    assert client.get("/api/v1/tickets/").json()["count"] == 2
    listed = client.get("/api/v1/tickets/?status=rejected").json()["results"]
    assert [ticket["id"] for ticket in listed] == [rejected.pk]


@pytest.mark.parametrize(
    ("who", "status"),
    [("admin_a", 200), ("member_a", 403), ("admin_b", 404), ("operator", 403), ("anonymous", 401)],
)
def test_who_can_retry_a_rejected_ticket(rejected, cast, api_client_for, who, status):
    response = api_client_for(cast[who]).post(f"/api/v1/tickets/{rejected.pk}/retry/")
    assert response.status_code == status
    rejected.refresh_from_db()
    expected = Ticket.Status.PENDING if status == 200 else Ticket.Status.REJECTED
    assert rejected.status == expected


def test_a_retried_ticket_is_pending_and_converted_once_a_license_allows_it(
    rejected, api_client_for, admin_a, tenant_a
):
    response = api_client_for(admin_a).post(f"/api/v1/tickets/{rejected.pk}/retry/")
    assert response.json()["status"] == "pending"
    assert response.json()["refusal_code"] == ""
    run_pass()
    rejected.refresh_from_db()
    assert rejected.status == "rejected"  # the cap has not moved: refused again
    license_with(tenant_a, tasks_cap=5)
    api_client_for(admin_a).post(f"/api/v1/tickets/{rejected.pk}/retry/")
    run_pass()
    body = api_client_for(admin_a).get(f"/api/v1/tickets/{rejected.pk}/").json()
    assert body["status"] == "converted" and body["task"] is not None


def test_retrying_a_ticket_that_is_not_rejected_is_a_409(converted, api_client_for, admin_a):
    response = api_client_for(admin_a).post(f"/api/v1/tickets/{converted.pk}/retry/")
    assert response.status_code == 409
    assert response.json()["code"] == "ticket_not_rejected"
    converted.refresh_from_db()
    assert converted.status == "converted"


def test_the_schema_documents_the_ticket_endpoints(api_client_for, admin_a):
    schema = api_client_for(admin_a).get("/api/schema/?format=json").json()
    delivery = schema["paths"]["/api/v1/gateways/{gateway_id}/tickets/"]["post"]
    assert delivery["security"] == [{"gatewaySecret": []}]
    assert set(delivery["responses"]) >= {"202", "400", "401", "404"}
    assert "/api/v1/tickets/{id}/retry/" in schema["paths"]
    assert "/api/v1/schedules/" in schema["paths"]
