"""Schedules: ticks fire as recurring tasks on time, catch up once, and record blocks."""

import pytest

from tasks.engine import run_pass
from tasks.models import Schedule, ScheduleTick, Task
from tests.factories import TenantFactory
from tests.tasks.test_engine import Crash, crash_after
from tests.tasks.ticket_helpers import (
    at,
    gateway_for,
    license_with,
    receive,
    task_rows,
    tasks_used,
)


@pytest.fixture
def schedule(clock, tenant_a):
    """Every 10 minutes, registered at 09:00 (its ticket's own task is the first run)."""
    gateway = gateway_for(tenant_a)[0]
    receive(gateway, "CHG-1", subject="Rotate logs", recurrence={"every_minutes": 10})
    run_pass()
    return Schedule.objects.get()


def tick_pass(clock, minutes: float):
    clock.move_to(at(minutes))
    return run_pass()


def test_a_tick_is_not_fired_before_it_is_due(clock, schedule):
    assert not tick_pass(clock, 9.99).did_anything
    assert not ScheduleTick.objects.exists()


def test_a_due_tick_creates_a_recurring_task_from_the_schedule(clock, schedule, tenant_a):
    summary = tick_pass(clock, 10)
    tick = schedule.ticks.get()
    assert summary.ticks_created == 1
    assert (tick.status, tick.due_at, tick.fired_at, tick.slots_skipped) == (
        "created",
        at(10),
        at(10),
        0,
    )
    task = tick.task
    assert (task.title, task.kind, task.source, task.ticket) == (
        "Rotate logs",
        "recurring",
        "schedule",
        schedule.ticket,
    )
    schedule.refresh_from_db()
    assert (schedule.next_run_at, schedule.last_tick_at) == (at(20), at(10))
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 2


def test_each_interval_fires_one_tick(clock, schedule, tenant_a):
    for minutes in (10, 13, 20, 29, 30):
        tick_pass(clock, minutes)
    assert list(schedule.ticks.order_by("due_at").values_list("due_at", flat=True)) == [
        at(10),
        at(20),
        at(30),
    ]
    assert Task.objects.filter(kind="recurring").count() == 3


def test_after_downtime_one_catch_up_tick_fires_and_the_missed_slots_are_skipped(
    clock, schedule, tenant_a
):
    summary = tick_pass(clock, 65)
    tick = schedule.ticks.get()
    assert summary.ticks_created == 1
    assert (tick.due_at, tick.slots_skipped) == (at(10), 5)
    schedule.refresh_from_db()
    assert schedule.next_run_at == at(70)  # back on the schedule's own grid
    assert not run_pass().did_anything  # a second pass at 10:05 has nothing due
    assert tick_pass(clock, 70).ticks_created == 1
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 3


def test_a_tick_at_the_cap_is_recorded_blocked_with_the_code(clock, tenant_a):
    license_with(tenant_a, tasks_cap=1)
    receive(gateway_for(tenant_a)[0], "CHG-1", recurrence={"every_minutes": 5})
    run_pass()  # the ticket's own task takes the only slot
    schedule = Schedule.objects.get()
    summary = tick_pass(clock, 5)
    tick = schedule.ticks.get()
    assert summary.ticks_blocked == 1
    assert (tick.status, tick.refusal_code, tick.task) == ("blocked", "task_cap_reached", None)
    assert "1 of 1 tasks used" in tick.refusal_detail
    schedule.refresh_from_db()
    assert (schedule.status, schedule.next_run_at) == ("blocked", at(10))
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 1


def test_a_blocked_schedule_ticks_again_once_a_license_allows_it(clock, tenant_a):
    license_with(tenant_a, tasks_cap=1)
    ticket = receive(gateway_for(tenant_a)[0], "CHG-1", recurrence={"every_minutes": 5})
    run_pass()
    schedule = Schedule.objects.get(ticket=ticket)
    license_with(tenant_a, expired=True)
    tick_pass(clock, 5)
    assert schedule.ticks.get().refusal_code == "license_expired"
    license_with(tenant_a, tasks_cap=10)
    assert tick_pass(clock, 10).ticks_created == 1
    schedule.refresh_from_db()
    assert schedule.status == Schedule.Status.ACTIVE
    assert list(schedule.ticks.values_list("status", flat=True)) == ["created", "blocked"]
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 2


def test_a_crash_after_the_ticks_task_is_created_leaves_the_schedule_due(
    clock, schedule, tenant_a, monkeypatch
):
    crash_after(monkeypatch, "task_create_in_transaction")
    clock.move_to(at(10))
    with pytest.raises(Crash):
        run_pass()
    schedule.refresh_from_db()
    assert (schedule.next_run_at, schedule.last_tick_at) == (at(10), None)
    assert not ScheduleTick.objects.exists()
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 1  # the ticket's own task only
    monkeypatch.undo()
    assert run_pass().ticks_created == 1
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 2


def test_a_paused_schedule_does_not_tick(clock, schedule):
    Schedule.objects.filter(pk=schedule.pk).update(status=Schedule.Status.PAUSED)
    assert not tick_pass(clock, 30).did_anything


def test_the_schedules_api_lists_the_tenants_schedules_with_their_ticks(
    clock, schedule, api_client_for, member_a, admin_b, tenant_a
):
    tick_pass(clock, 10)
    license_with(tenant_a, tasks_cap=2)
    tick_pass(clock, 20)
    response = api_client_for(member_a).get("/api/v1/schedules/")
    assert response.status_code == 200
    [listed] = response.json()["results"]
    assert (listed["id"], listed["every_minutes"], listed["status"]) == (schedule.pk, 10, "blocked")
    assert listed["next_run_at"] == "2026-03-02T09:30:00Z"
    assert [(t["status"], t["refusal_code"]) for t in listed["ticks"]] == [
        ("blocked", "task_cap_reached"),
        ("created", ""),
    ]
    assert listed["ticks"][1]["task"] is not None
    assert api_client_for(admin_b).get("/api/v1/schedules/").json()["results"] == []
    assert api_client_for(None).get("/api/v1/schedules/").status_code == 401


def test_the_schedules_page_shows_status_interval_and_the_refusal(
    clock, schedule, page_client_for, member_a, tenant_a
):
    license_with(tenant_a, tasks_cap=1)
    tick_pass(clock, 10)
    page = page_client_for(member_a).get("/schedules/")
    assert page.status_code == 200
    text = page.content.decode()
    assert "Rotate logs" in text
    assert "every 10 minutes" in text
    assert "Blocked" in text and "task_cap_reached" in text


def test_the_schedules_page_shows_no_other_tenants_schedule(
    clock, schedule, page_client_for, admin_b
):
    page = page_client_for(admin_b).get("/schedules/")
    assert page.status_code == 200
    assert "Rotate logs" not in page.content.decode()


def test_a_schedule_of_another_tenant_fires_in_the_same_pass(clock, schedule):
    other = TenantFactory()
    receive(gateway_for(other)[0], "CHG-9", recurrence={"every_minutes": 10})
    run_pass()
    assert tick_pass(clock, 10).ticks_created == 2


def test_a_schedule_from_before_the_description_limit_still_ticks(clock, schedule, tenant_a):
    """Schedules registered before the limit hold the ticket's whole body: each tick's task
    gets its start, as a ticket's does, and the schedule keeps the whole text."""
    long_body = "x" * (Task._meta.get_field("description").max_length + 500)
    Schedule.objects.filter(pk=schedule.pk).update(description=long_body)

    summary = tick_pass(clock, 10)

    tick = schedule.ticks.get()
    assert summary.ticks_created == 1 and tick.status == "created"
    assert tick.task.description == long_body[: len(tick.task.description)]
    assert len(tick.task.description) == Task._meta.get_field("description").max_length
    schedule.refresh_from_db()
    assert schedule.description == long_body
