"""Several `run_engine --once` processes on the same pending tickets (PostgreSQL).

Also, with real commits: a unit that dies half-way leaves nothing behind.
"""

import os
import signal
import subprocess
import sys
from collections import Counter
from datetime import timedelta
from pathlib import Path

import pytest
from django.utils import timezone

from tasks.engine import run_pass
from tasks.models import Schedule, ScheduleTick, Task, Ticket
from tests.database import database_url
from tests.factories import TenantFactory
from tests.tasks.test_engine import Crash, crash_after
from tests.tasks.ticket_helpers import gateway_for, license_with, receive, task_rows, tasks_used

pytestmark = [pytest.mark.django_db(transaction=True)]

MANAGE = Path(__file__).resolve().parents[2] / "manage.py"


def engine_environment() -> dict[str, str]:
    """The environment of an engine process that uses this test's database."""
    return {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": database_url(),
    }


def run_engines(count: int) -> list[subprocess.CompletedProcess]:
    """Start `count` engines at once against the test database and wait for them all."""
    env = engine_environment()
    engines = [
        subprocess.Popen(
            [sys.executable, str(MANAGE), "run_engine", "--once"],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(count)
    ]
    results = []
    for process in engines:
        stdout, stderr = process.communicate(timeout=120)
        results.append(
            subprocess.CompletedProcess(process.args, process.returncode, stdout, stderr)
        )
    return results


def converted_lines(results) -> list[str]:
    return [
        line for r in results for line in r.stderr.splitlines() if " converted to task " in line
    ]


def test_three_engines_convert_every_ticket_exactly_once():
    tenants = [TenantFactory(), TenantFactory()]
    tickets = []
    for tenant in tenants:
        license_with(tenant, tasks_cap=None)
        gateway = gateway_for(tenant)[0]
        tickets += [receive(gateway, f"INC-{n}") for n in range(60)]

    results = run_engines(3)

    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-2000:] for r in results]
    assert set(Ticket.objects.values_list("status", flat=True)) == {"converted"}
    per_ticket = Counter(Task.objects.values_list("ticket_id", flat=True))
    assert per_ticket == Counter({ticket.pk: 1 for ticket in tickets})
    assert len(converted_lines(results)) == len(tickets)  # one log line per ticket, all engines
    for tenant in tenants:
        assert tasks_used(tenant) == task_rows(tenant) == 60


def test_three_engines_at_the_cap_convert_up_to_it_and_reject_the_rest():
    tenant = TenantFactory()
    license_with(tenant, tasks_cap=25)
    gateway = gateway_for(tenant)[0]
    for n in range(60):
        receive(gateway, f"INC-{n}")

    results = run_engines(3)

    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-2000:] for r in results]
    statuses = Counter(Ticket.objects.values_list("status", flat=True))
    assert statuses == Counter({"converted": 25, "rejected": 35})
    assert set(Ticket.objects.filter(status="rejected").values_list("refusal_code", flat=True)) == {
        "task_cap_reached"
    }
    assert tasks_used(tenant) == task_rows(tenant) == 25
    assert Task.objects.filter(ticket__status="converted").count() == 25


def test_a_crash_after_the_task_insert_commits_nothing_and_the_next_pass_converts(monkeypatch):
    tenant = TenantFactory()
    ticket = receive(gateway_for(tenant)[0], "INC-1")
    crash_after(monkeypatch, "task_create_in_transaction")
    with pytest.raises(Crash):
        run_pass()
    ticket.refresh_from_db()
    assert ticket.status == "pending"
    assert tasks_used(tenant) == task_rows(tenant) == 0
    monkeypatch.undo()
    assert run_pass().converted == 1
    ticket.refresh_from_db()
    assert ticket.status == "converted"
    assert tasks_used(tenant) == task_rows(tenant) == 1


def test_run_engine_stops_gracefully_on_sigterm_after_converting_what_was_pending():
    tenant = TenantFactory()
    gateway = gateway_for(tenant)[0]
    ticket = receive(gateway, "INC-1")
    engine = subprocess.Popen(
        [sys.executable, str(MANAGE), "run_engine", "--sleep", "0.2"],
        env=engine_environment(),
        stderr=subprocess.PIPE,
        text=True,
    )
    lines = []
    for line in engine.stderr:  # the first pass logs the conversion; then it idles
        lines.append(line)
        if " converted to task " in line:
            break
    engine.send_signal(signal.SIGTERM)
    _, rest = engine.communicate(timeout=60)
    output = "".join(lines) + rest
    assert engine.returncode == 0, output
    assert "engine started" in output
    assert "SIGTERM received: stopping after the current ticket" in output
    assert output.rstrip().endswith("engine stopped")
    ticket.refresh_from_db()
    assert ticket.status == "converted"


SCHEDULES = 150


def test_three_engines_fire_each_due_schedule_once():
    tenant = TenantFactory()
    license_with(tenant, tasks_cap=None)
    gateway = gateway_for(tenant)[0]
    for n in range(SCHEDULES):
        receive(gateway, f"CHG-{n}", recurrence={"every_minutes": 5})
    run_pass()  # registers the schedules; none is due yet
    Schedule.objects.update(next_run_at=timezone.now() - timedelta(minutes=1))

    results = run_engines(3)

    assert [r.returncode for r in results] == [0, 0, 0], [r.stderr[-2000:] for r in results]
    assert Counter(ScheduleTick.objects.values_list("schedule_id", flat=True)) == Counter(
        {pk: 1 for pk in Schedule.objects.values_list("pk", flat=True)}
    )
    assert Task.objects.filter(kind="recurring").count() == SCHEDULES
    assert tasks_used(tenant) == task_rows(tenant) == 2 * SCHEDULES
