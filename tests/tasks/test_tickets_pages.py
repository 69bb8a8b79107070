"""The /tickets/ page: the tenant's tickets with status, refusal and task link."""

import pytest

from tasks.engine import run_pass
from tests.tasks.ticket_helpers import gateway_for, license_with, receive


@pytest.fixture
def tickets(tenant_a):
    license_with(tenant_a, tasks_cap=1)
    gateway = gateway_for(tenant_a, name="Jira prod")[0]
    converted = receive(gateway, "INC-1", subject="Restart the agent")
    rejected = receive(gateway, "INC-2", subject="Rotate the keys")
    run_pass()
    pending = receive(gateway, "INC-3", subject="Patch the kernel")
    converted.refresh_from_db()
    return converted, rejected, pending


def test_a_member_sees_each_ticket_with_its_status_refusal_and_task(
    tickets, page_client_for, member_a
):
    converted, _rejected, _pending = tickets
    page = page_client_for(member_a).get("/tickets/")
    assert page.status_code == 200
    text = page.content.decode()
    for shown in ("Restart the agent", "Rotate the keys", "Patch the kernel", "Jira prod"):
        assert shown in text
    assert "Converted" in text and "Rejected" in text and "Pending" in text
    assert "task_cap_reached" in text
    assert f'href="/tasks/#task-{converted.task_id}"' in text


def test_the_status_filter_keeps_one_status(tickets, page_client_for, member_a):
    text = page_client_for(member_a).get("/tickets/?status=rejected").content.decode()
    assert "Rotate the keys" in text
    assert "Restart the agent" not in text


def test_another_tenant_sees_none_of_these_tickets(tickets, page_client_for, admin_b):
    text = page_client_for(admin_b).get("/tickets/").content.decode()
    assert "Rotate the keys" not in text
    assert "No tickets yet." in text


@pytest.mark.parametrize("path", ["/tickets/", "/schedules/"])
def test_anonymous_visitors_are_sent_to_the_login_page(client, path):
    response = client.get(path)
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize("path", ["/tickets/", "/schedules/"])
def test_operators_who_belong_to_no_tenant_get_403(page_client_for, operator, path):
    assert page_client_for(operator).get(path).status_code == 403
