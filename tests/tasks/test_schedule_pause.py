"""Administrators pause and resume schedules (page and API, SPEC §6.1): a paused schedule
makes no tick, a resume makes up no missed run, and revoking a gateway pauses the schedules
its tickets registered."""

import pytest

from tasks.engine import run_pass
from tasks.models import Schedule, ScheduleTick
from tasks.services import gateway_revoke, next_slot_after, schedules_resume
from tests.tasks.ticket_helpers import at, gateway_for, receive


@pytest.fixture
def gateway(tenant_a):
    return gateway_for(tenant_a)[0]


@pytest.fixture
def schedule(clock, gateway):
    """Every 10 minutes from 09:00: next run 09:10."""
    receive(gateway, "CHG-1", subject="Rotate logs", recurrence={"every_minutes": 10})
    run_pass()
    return Schedule.objects.get()


@pytest.fixture
def theirs(clock, tenant_b):
    receive(gateway_for(tenant_b)[0], "THEIRS-1", recurrence={"every_minutes": 10})
    run_pass()
    return Schedule.objects.get(tenant=tenant_b)


def _status(schedule) -> str:
    schedule.refresh_from_db()
    return schedule.status


def test_the_next_slot_keeps_the_cadence_and_is_after_now():
    due = at(10)
    assert next_slot_after(due_at=due, every_minutes=10, now=at(5)) == at(10)
    assert next_slot_after(due_at=due, every_minutes=10, now=at(10)) == at(20)
    assert next_slot_after(due_at=due, every_minutes=10, now=at(47)) == at(50)


def test_a_paused_schedule_makes_no_tick(clock, schedule, api_client_for, admin_a):
    api_client_for(admin_a).post(f"/api/v1/schedules/{schedule.pk}/pause/")
    clock.move_to(at(45))
    assert not run_pass().did_anything
    assert not ScheduleTick.objects.exists()


def test_resuming_makes_up_no_missed_run(clock, schedule, api_client_for, admin_a):
    client = api_client_for(admin_a)
    client.post(f"/api/v1/schedules/{schedule.pk}/pause/")
    clock.move_to(at(47))  # 09:10 ... 09:40 were missed while paused

    response = client.post(f"/api/v1/schedules/{schedule.pk}/resume/")

    assert response.json()["status"] == "active"
    assert response.json()["next_run_at"] == "2026-03-02T09:50:00Z"  # the next slot, not 09:10
    assert not run_pass().did_anything  # nothing is fired to catch up
    clock.move_to(at(50))
    assert run_pass().ticks_created == 1
    tick = ScheduleTick.objects.get()
    assert (tick.due_at, tick.slots_skipped) == (at(50), 0)


def test_resuming_before_the_next_run_keeps_it(clock, schedule):
    Schedule.objects.filter(pk=schedule.pk).update(status=Schedule.Status.PAUSED)
    clock.move_to(at(3))
    assert schedules_resume(schedules=Schedule.objects.all()) == 1
    schedule.refresh_from_db()
    assert (schedule.status, schedule.next_run_at) == ("active", at(10))


def test_the_api_pause_and_resume_answer_the_schedule_and_are_idempotent(
    clock, schedule, api_client_for, admin_a
):
    client = api_client_for(admin_a)
    for _twice in range(2):
        response = client.post(f"/api/v1/schedules/{schedule.pk}/pause/")
        assert (response.status_code, response.json()["id"], response.json()["status"]) == (
            200,
            schedule.pk,
            "paused",
        )
    for _twice in range(2):
        response = client.post(f"/api/v1/schedules/{schedule.pk}/resume/")
        assert (response.status_code, response.json()["status"]) == (200, "active")


@pytest.mark.parametrize("action", ["pause", "resume"])
@pytest.mark.parametrize(
    ("path", "who", "status"),
    [
        ("/api/v1/schedules", "member_a", 403),
        ("/api/v1/schedules", "admin_b", 404),
        ("/api/v1/schedules", "operator", 403),
        ("/api/v1/schedules", "anonymous", 401),
        ("/schedules", "member_a", 403),
        ("/schedules", "admin_b", 404),
        ("/schedules", "anonymous", 302),
    ],
)
def test_who_cannot_pause_or_resume(
    clock, schedule, cast, api_client_for, page_client_for, action, path, who, status
):
    start = Schedule.Status.PAUSED if action == "resume" else Schedule.Status.ACTIVE
    Schedule.objects.filter(pk=schedule.pk).update(status=start)
    client = (api_client_for if path.startswith("/api/") else page_client_for)(cast[who])
    assert client.post(f"{path}/{schedule.pk}/{action}/").status_code == status
    assert _status(schedule) == start


def test_the_schedules_page_has_pause_and_resume_buttons_for_administrators(
    clock, schedule, page_client_for, admin_a
):
    client = page_client_for(admin_a)
    page = client.get("/schedules/").content.decode()
    assert f'action="/schedules/{schedule.pk}/pause/"' in page
    assert "resuming it does not make up the runs missed while it was paused" in page

    response = client.post(f"/schedules/{schedule.pk}/pause/", follow=True)

    text = response.content.decode()
    assert "Schedule “Rotate logs” paused: it makes no tick." in text
    assert f'action="/schedules/{schedule.pk}/resume/"' in text
    assert _status(schedule) == "paused"

    clock.move_to(at(47))
    text = client.post(f"/schedules/{schedule.pk}/resume/", follow=True).content.decode()
    assert "resumed: next run 2026-03-02 09:50 (UTC)" in text
    assert "Runs missed while it was paused are not made up." in text
    assert _status(schedule) == "active"


def test_members_see_no_pause_button(clock, schedule, page_client_for, member_a):
    page = page_client_for(member_a).get("/schedules/").content.decode()
    assert "/pause/" not in page and "Rotate logs" in page


def test_revoking_a_gateway_pauses_the_schedules_its_tickets_registered(
    clock, schedule, theirs, gateway, tenant_a
):
    other_gateway = gateway_for(tenant_a, name="Webhook", kind="webhook")[0]
    receive(other_gateway, "CHG-2", recurrence={"every_minutes": 10})
    run_pass()
    kept = Schedule.objects.get(ticket__external_id="CHG-2")

    assert gateway_revoke(gateway=gateway) == 1

    assert (_status(schedule), _status(kept), _status(theirs)) == ("paused", "active", "active")
    clock.move_to(at(10))
    assert run_pass().ticks_created == 2  # the other gateway's and the other tenant's


def test_revoking_again_does_not_pause_a_schedule_resumed_since(clock, schedule, gateway):
    gateway_revoke(gateway=gateway)
    schedules_resume(schedules=Schedule.objects.filter(pk=schedule.pk))
    assert gateway_revoke(gateway=gateway) == 0
    assert _status(schedule) == "active"


@pytest.mark.parametrize("entry", ["api", "page", "admin"])
def test_every_way_of_removing_a_gateway_pauses_its_schedules(
    clock, schedule, gateway, entry, api_client_for, page_client_for, admin_a, operator
):
    if entry == "api":
        assert api_client_for(admin_a).delete(f"/api/v1/gateways/{gateway.pk}/").status_code == 204
    elif entry == "page":
        response = page_client_for(admin_a).post(f"/gateways/{gateway.pk}/remove/", follow=True)
        assert "Its tickets are kept; schedules paused: 1." in response.content.decode()
    else:
        page_client_for(operator).post(
            "/admin/tasks/gateway/",
            {"action": "revoke_gateways", "_selected_action": [gateway.pk]},
        )
    gateway.refresh_from_db()
    assert gateway.revoked_at is not None
    assert _status(schedule) == "paused"


def test_the_schema_documents_pause_resume_and_retry_all(api_client_for, admin_a):
    paths = api_client_for(admin_a).get("/api/schema/?format=json").json()["paths"]
    for path in (
        "/api/v1/schedules/{id}/pause/",
        "/api/v1/schedules/{id}/resume/",
        "/api/v1/tickets/retry-rejected/",
    ):
        assert "200" in paths[path]["post"]["responses"], path
