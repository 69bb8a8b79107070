"""The engine converts pending tickets through task_create, and records refusals on them."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.db import IntegrityError, transaction

from tasks import engine
from tasks.engine import run_pass
from tasks.guards import CapCheckBusy
from tasks.models import Schedule, Task, Ticket
from tasks.services import effective_every_minutes, ticket_retry
from tests.tasks.ticket_helpers import gateway_for, license_with, receive, task_rows, tasks_used


class Crash(BaseException):
    """The engine process dying mid-unit: nothing in the engine catches it."""


@pytest.fixture
def gateway(tenant_a):
    return gateway_for(tenant_a)[0]


def test_a_pending_ticket_becomes_a_gateway_task(gateway, tenant_a):
    ticket = receive(gateway, "INC-1", subject="Disk almost full", body="on web-3")
    summary = run_pass()
    ticket.refresh_from_db()
    assert summary.converted == 1
    assert ticket.status == Ticket.Status.CONVERTED
    assert ticket.converted_at is not None
    task = ticket.task
    assert (task.tenant, task.title, task.description) == (tenant_a, "Disk almost full", "on web-3")
    assert (task.source, task.kind, task.ticket) == ("gateway", "ad_hoc", ticket)
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 1


def test_a_second_pass_converts_nothing_again(gateway, tenant_a):
    receive(gateway, "INC-1")
    receive(gateway, "INC-2")
    assert run_pass().converted == 2
    assert not run_pass().did_anything
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 2


def test_tickets_are_converted_oldest_first(gateway):
    first, second = receive(gateway, "INC-1"), receive(gateway, "INC-2")
    run_pass()
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.task_id < second.task_id


def test_a_long_subject_is_cut_to_the_task_title_length(gateway):
    ticket = receive(gateway, "INC-1", subject="x" * 500)
    run_pass()
    ticket.refresh_from_db()
    assert ticket.task.title == "x" * 300


def test_at_the_tasks_cap_the_ticket_is_rejected_with_the_code_and_kept(gateway, tenant_a):
    license_with(tenant_a, tasks_cap=1)
    converted, refused = receive(gateway, "INC-1"), receive(gateway, "INC-2")
    summary = run_pass()
    converted.refresh_from_db()
    refused.refresh_from_db()
    assert (summary.converted, summary.rejected) == (1, 1)
    assert converted.status == Ticket.Status.CONVERTED
    assert refused.status == Ticket.Status.REJECTED
    assert refused.refusal_code == "task_cap_reached"
    assert "1 of 1 tasks used" in refused.refusal_detail
    assert refused.refused_at is not None and refused.task is None
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 1


def test_with_an_expired_license_the_ticket_is_rejected_license_expired(gateway, tenant_a):
    license_with(tenant_a, expired=True)
    ticket = receive(gateway, "INC-1")
    run_pass()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.refusal_code) == ("rejected", "license_expired")
    assert task_rows(tenant_a) == 0


def test_a_rejected_ticket_stays_rejected_until_it_is_retried(gateway, tenant_a):
    license_with(tenant_a, tasks_cap=0)
    ticket = receive(gateway, "INC-1")
    run_pass()
    license_with(tenant_a, tasks_cap=10)
    assert not run_pass().did_anything
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.REJECTED


@pytest.mark.parametrize("refusing_license", [{"tasks_cap": 0}, {"expired": True}])
def test_a_rejected_ticket_is_converted_after_a_new_license_allows_it(
    gateway, tenant_a, refusing_license
):
    license_with(tenant_a, **refusing_license)
    ticket = receive(gateway, "INC-1")
    run_pass()
    license_with(tenant_a, tasks_cap=10)
    ticket_retry(ticket=ticket)
    assert run_pass().converted == 1
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CONVERTED
    assert (ticket.refusal_code, ticket.refusal_detail, ticket.refused_at) == ("", "", None)
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 1


def test_run_engine_retry_rejected_converts_every_rejected_ticket(gateway, tenant_a):
    license_with(tenant_a, tasks_cap=0)
    tickets = [receive(gateway, f"INC-{n}") for n in range(3)]
    call_command("run_engine", "--once")
    assert Ticket.objects.filter(status="rejected").count() == 3
    license_with(tenant_a, tasks_cap=2)
    call_command("run_engine", "--once", "--retry-rejected")
    statuses = sorted(Ticket.objects.get(pk=t.pk).status for t in tickets)
    assert statuses == ["converted", "converted", "rejected"]
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 2


def crash_after(monkeypatch, name: str) -> None:
    """Make `engine.<name>` do its work, then die as the engine process would."""
    real = getattr(engine, name)

    def do_then_crash(*args, **kwargs):
        real(*args, **kwargs)
        raise Crash

    monkeypatch.setattr(engine, name, do_then_crash)


@pytest.mark.parametrize(
    "crash_point",
    [
        "task_create_in_transaction",  # after the task's insert and count, before the ticket
        "_register_schedule",  # after the ticket is marked converted, before the commit
    ],
)
def test_a_crash_mid_unit_leaves_the_ticket_pending_with_no_task_and_no_count(
    gateway, tenant_a, monkeypatch, crash_point
):
    ticket = receive(gateway, "INC-1", recurrence={"every_minutes": 10})
    crash_after(monkeypatch, crash_point)
    with pytest.raises(Crash):
        run_pass()
    ticket.refresh_from_db()
    assert (ticket.status, ticket.task, ticket.converted_at) == ("pending", None, None)
    assert not Task.objects.exists()
    assert not Schedule.objects.exists()
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 0
    monkeypatch.undo()
    assert run_pass().converted == 1
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CONVERTED
    assert Schedule.objects.get().ticket == ticket
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 1


def fail_for(monkeypatch, failing: set[int]) -> None:
    """Make task creation raise a plain error (not a refusal) for the tickets in `failing`."""
    real = engine.task_create_in_transaction

    def create_or_fail(**fields):
        task = real(**fields)  # inserted and counted: the failure must take both back
        if fields["ticket"].pk in failing:
            raise RuntimeError("the agent registry is unreachable")
        return task

    monkeypatch.setattr(engine, "task_create_in_transaction", create_or_fail)


def test_a_ticket_that_fails_is_left_pending_and_the_others_are_converted(
    gateway, tenant_a, monkeypatch
):
    poison, healthy = receive(gateway, "INC-1"), receive(gateway, "INC-2")
    fail_for(monkeypatch, {poison.pk})
    summary = run_pass()
    assert (summary.converted, summary.failed) == (1, [f"ticket {poison.pk}"])
    poison.refresh_from_db()
    healthy.refresh_from_db()
    assert (poison.status, healthy.status) == ("pending", "converted")
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 1


def test_a_failing_ticket_is_tried_once_per_pass_and_converted_once_it_works(
    gateway, tenant_a, monkeypatch
):
    tickets = [receive(gateway, f"INC-{n}") for n in range(6)]
    failing = {tickets[0].pk, tickets[4].pk}
    fail_for(monkeypatch, failing)
    summary = run_pass()
    assert (summary.converted, sorted(summary.failed)) == (
        4,
        sorted(f"ticket {pk}" for pk in failing),
    )
    assert set(Ticket.objects.filter(status="pending").values_list("pk", flat=True)) == failing
    monkeypatch.undo()
    assert run_pass().converted == 2
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 6


def test_run_engine_once_fails_with_the_units_left_undone_after_doing_the_rest(
    gateway, tenant_a, monkeypatch, caplog
):
    poison, healthy = receive(gateway, "INC-1"), receive(gateway, "INC-2")
    fail_for(monkeypatch, {poison.pk})

    with caplog.at_level("INFO", logger="tasks.engine"), pytest.raises(CommandError) as failed:
        call_command("run_engine", "--once")

    assert failed.value.returncode == 1
    assert f"ticket {poison.pk}" in str(failed.value)
    assert f"ticket {poison.pk} failed; left for the next pass" in caplog.text
    healthy.refresh_from_db()
    assert healthy.status == Ticket.Status.CONVERTED
    monkeypatch.undo()
    call_command("run_engine", "--once")  # nothing fails: exits 0
    poison.refresh_from_db()
    assert poison.status == Ticket.Status.CONVERTED


def test_a_busy_cap_check_leaves_the_ticket_pending_instead_of_rejecting_it(
    gateway, tenant_a, monkeypatch, caplog
):
    ticket = receive(gateway, "INC-1")

    def busy(**fields):
        raise CapCheckBusy("tasks")

    monkeypatch.setattr(engine, "task_create_in_transaction", busy)
    with caplog.at_level("INFO", logger="tasks.engine"):
        summary = run_pass()
    assert (summary.rejected, summary.failed) == (0, [f"ticket {ticket.pk}"])
    assert f"ticket {ticket.pk}: The tasks cap could not be checked in time" in caplog.text
    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.PENDING
    monkeypatch.undo()
    assert run_pass().converted == 1


def test_a_pass_for_one_tenant_leaves_other_tenants_tickets_pending(gateway, tenant_b):
    mine = receive(gateway, "INC-1")
    theirs = receive(gateway_for(tenant_b)[0], "INC-1")
    run_pass(tenant=mine.tenant)
    mine.refresh_from_db()
    theirs.refresh_from_db()
    assert (mine.status, theirs.status) == ("converted", "pending")


@pytest.mark.parametrize(
    ("asked", "every"), [(1, 5), (4, 5), (5, 5), (7, 7), (9, 9), (12, 12), (59, 59), (60, 60)]
)
def test_recurrence_is_honoured_with_a_minimum_of_5_minutes(asked, every):
    assert effective_every_minutes(asked) == every


def test_a_recurring_ticket_registers_a_schedule_at_the_interval_it_asked_for(gateway, tenant_a):
    ticket = receive(gateway, "INC-1", subject="Rotate logs", recurrence={"every_minutes": 12})
    summary = run_pass()
    ticket.refresh_from_db()
    schedule = ticket.schedule
    assert summary.schedules_registered == 1
    assert (schedule.tenant, schedule.title, schedule.every_minutes) == (
        tenant_a,
        "Rotate logs",
        12,
    )
    assert schedule.next_run_at == ticket.converted_at + timedelta(minutes=12)
    assert schedule.status == Schedule.Status.ACTIVE
    assert ticket.task.kind == "ad_hoc"  # the ticket's own task is the first run


def test_a_recurrence_under_5_minutes_runs_every_5(gateway):
    ticket = receive(gateway, "INC-1", recurrence={"every_minutes": 3})
    run_pass()
    ticket.refresh_from_db()
    assert ticket.schedule.every_minutes == 5


def test_the_database_refuses_a_schedule_under_5_minutes_but_not_off_a_5_minute_grid(gateway):
    receive(gateway, "INC-1", recurrence={"every_minutes": 7})
    run_pass()
    schedule = Schedule.objects.get()
    assert schedule.every_minutes == 7
    with pytest.raises(IntegrityError), transaction.atomic():
        Schedule.objects.filter(pk=schedule.pk).update(every_minutes=4)


def test_a_ticket_body_longer_than_a_task_description_is_cut_never_rejected(gateway):
    body = "log line\n" * 2_000  # 18,000 characters
    ticket = receive(gateway, "INC-1", body=body, recurrence={"every_minutes": 10})

    run_pass()

    ticket.refresh_from_db()
    assert ticket.status == Ticket.Status.CONVERTED
    assert ticket.body == body  # the ticket keeps all of it
    assert ticket.task.description == body[:10_000]
    assert ticket.schedule.description == body[:10_000]


def test_a_rejected_recurring_ticket_registers_no_schedule(gateway, tenant_a):
    license_with(tenant_a, tasks_cap=0)
    receive(gateway, "INC-1", recurrence={"every_minutes": 5})
    run_pass()
    assert not Schedule.objects.exists()


def test_run_engine_once_logs_one_line_per_thing_it_did(gateway, tenant_a, caplog):
    license_with(tenant_a, tasks_cap=1)
    converted = receive(gateway, "INC-1", recurrence={"every_minutes": 30})
    rejected = receive(gateway, "INC-2")
    with caplog.at_level("INFO", logger="tasks.engine"):
        call_command("run_engine", "--once")
    lines = [record.getMessage() for record in caplog.records if record.name == "tasks.engine"]
    converted.refresh_from_db()
    assert lines == [
        f"ticket {converted.pk} ('INC-1' from gateway {gateway.pk}) converted to task "
        f"{converted.task_id}",
        f"schedule {converted.schedule.pk} registered for ticket {converted.pk}: every 30 "
        f"minutes, next run {converted.schedule.next_run_at.isoformat()}",
        f"ticket {rejected.pk} ('INC-2' from gateway {gateway.pk}) rejected: task_cap_reached: "
        "The task cap is reached: 1 of 1 tasks used. "
        "Apply a license with a higher cap to add more.",
    ]
