"""The Django admin for tickets and schedules: operators only; retry, pause and resume."""

import pytest

from tasks.engine import run_pass
from tasks.models import Schedule, Ticket
from tests.tasks.ticket_helpers import gateway_for, license_with, receive


@pytest.fixture
def rejected_and_converted(tenant_a):
    gateway = gateway_for(tenant_a)[0]
    converted = receive(gateway, "INC-1", subject="Restart the agent")
    run_pass()
    license_with(tenant_a, tasks_cap=1)
    rejected = receive(gateway, "INC-2", subject="Rotate the keys")
    run_pass()
    return rejected, converted


@pytest.mark.parametrize(
    "path", ["/admin/tasks/ticket/", "/admin/tasks/schedule/"], ids=["tickets", "schedules"]
)
def test_only_operators_open_the_admin_lists(page_client_for, cast, path):
    assert page_client_for(cast["operator"]).get(path).status_code == 200
    assert page_client_for(cast["admin_a"]).get(path).status_code == 302


def test_the_ticket_list_shows_the_refusal_code(rejected_and_converted, page_client_for, operator):
    text = page_client_for(operator).get("/admin/tasks/ticket/").content.decode()
    assert "Rotate the keys" in text and "task_cap_reached" in text


def test_the_retry_action_puts_only_rejected_tickets_back_to_pending(
    rejected_and_converted, page_client_for, operator
):
    rejected, converted = rejected_and_converted
    response = page_client_for(operator).post(
        "/admin/tasks/ticket/",
        {"action": "retry_rejected", "_selected_action": [rejected.pk, converted.pk]},
        follow=True,
    )
    text = response.content.decode()
    assert "1 rejected tickets are pending again" in text
    assert "1 selected tickets were not rejected" in text
    rejected.refresh_from_db()
    converted.refresh_from_db()
    assert (rejected.status, converted.status) == ("pending", "converted")


def test_operators_cannot_add_tickets_by_hand(page_client_for, operator):
    assert page_client_for(operator).get("/admin/tasks/ticket/add/").status_code == 403


def test_pause_and_resume_actions(tenant_a, page_client_for, operator):
    receive(gateway_for(tenant_a)[0], "CHG-1", recurrence={"every_minutes": 5})
    run_pass()
    schedule = Schedule.objects.get()
    client = page_client_for(operator)
    client.post("/admin/tasks/schedule/", {"action": "pause", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert schedule.status == Schedule.Status.PAUSED
    client.post("/admin/tasks/schedule/", {"action": "resume", "_selected_action": [schedule.pk]})
    schedule.refresh_from_db()
    assert schedule.status == Schedule.Status.ACTIVE
    page = client.get(f"/admin/tasks/schedule/{schedule.pk}/change/")
    assert page.status_code == 200
    assert Ticket.objects.get().external_id in page.content.decode()
