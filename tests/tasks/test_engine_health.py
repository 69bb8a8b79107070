"""Engine health on the tickets page: the last engine pass (a heartbeat row each full pass
writes) and the tenant's oldest pending ticket; a silent engine is said to be stopped."""

from datetime import timedelta

from tasks.engine import run_pass
from tasks.models import EngineHeartbeat
from tasks.selectors import ENGINE_SILENT_AFTER, engine_health
from tests.tasks.ticket_helpers import REGISTERED as NINE
from tests.tasks.ticket_helpers import gateway_for, license_with, receive


def test_a_full_engine_pass_records_its_time_on_the_one_heartbeat_row(clock, tenant_a):
    run_pass()
    clock.move_to(NINE + timedelta(seconds=30))
    run_pass()
    assert list(EngineHeartbeat.objects.values_list("pk", "last_pass_at")) == [
        (1, NINE + timedelta(seconds=30))
    ]


def test_an_engine_finishing_late_does_not_move_the_heartbeat_back(clock, tenant_a):
    run_pass()
    clock.move_to(NINE - timedelta(seconds=5))  # a pass that started earlier ends now
    run_pass()
    assert EngineHeartbeat.objects.get().last_pass_at == NINE


def test_a_pass_for_one_tenant_is_not_a_heartbeat(clock, tenant_a):
    run_pass(tenant=tenant_a)  # the demo's seeding: says nothing about the other tenants
    assert not EngineHeartbeat.objects.exists()


def test_engine_health_counts_the_tenants_pending_and_rejected_and_ages_the_oldest(
    clock, tenant_a, tenant_b
):
    license_with(tenant_a, tasks_cap=0)
    gateway = gateway_for(tenant_a)[0]
    receive(gateway, "INC-1")
    run_pass()  # INC-1 rejected at 09:00
    clock.move_to(NINE + timedelta(minutes=1))
    receive(gateway, "INC-2")
    clock.move_to(NINE + timedelta(minutes=4))
    receive(gateway, "INC-3")
    receive(gateway_for(tenant_b)[0], "THEIRS-1")  # another tenant's: not counted
    clock.move_to(NINE + timedelta(minutes=10))

    health = engine_health(tenant=tenant_a)

    assert (health.pending, health.rejected) == (2, 1)
    assert health.oldest_pending_at == NINE + timedelta(minutes=1)
    assert health.oldest_pending_age == timedelta(minutes=9)
    assert health.last_pass_at == NINE and health.last_pass_age == timedelta(minutes=10)
    assert not health.running  # silent for 10 minutes


def test_the_engine_is_running_while_its_last_pass_is_recent(clock, tenant_a):
    run_pass()
    clock.move_to(NINE + ENGINE_SILENT_AFTER)
    assert engine_health(tenant=tenant_a).running
    clock.move_to(NINE + ENGINE_SILENT_AFTER + timedelta(seconds=1))
    assert not engine_health(tenant=tenant_a).running


def test_engine_health_reads_two_rows_whatever_the_number_of_tickets(
    clock, tenant_a, django_assert_num_queries
):
    gateway = gateway_for(tenant_a)[0]
    for number in range(30):
        receive(gateway, f"INC-{number}")
    with django_assert_num_queries(2):  # the heartbeat by primary key; one aggregate
        engine_health(tenant=tenant_a)


def _health_section(page) -> str:
    text = page.content.decode().replace("\xa0", " ")  # timesince keeps "7 minutes" together
    return text.split('id="engine-health"')[1].split("</section>")[0]


def test_the_tickets_page_says_no_engine_has_run_and_how_to_start_one(
    clock, tenant_a, page_client_for, member_a
):
    receive(gateway_for(tenant_a)[0], "INC-1")
    clock.move_to(NINE + timedelta(minutes=7))
    section = _health_section(page_client_for(member_a).get("/tickets/"))
    assert 'data-engine-running="false"' in section
    assert "The engine is not running" in section
    assert "no engine has finished a pass yet" in section
    assert "bin/engine" in section and "python manage.py run_engine" in section
    assert 'data-pending="1"' in section
    assert "the oldest has waited <span data-oldest-pending>7 minutes</span>" in section


def test_the_tickets_page_says_when_the_engine_last_passed(
    clock, tenant_a, page_client_for, member_a
):
    run_pass()
    clock.move_to(NINE + timedelta(hours=2, minutes=3))
    section = _health_section(page_client_for(member_a).get("/tickets/"))
    assert "The engine is not running" in section
    assert "its last pass finished 2 hours, 3 minutes ago (2026-03-02 09:00, UTC)" in section

    run_pass()
    clock.move_to(NINE + timedelta(hours=2, minutes=3, seconds=20))
    section = _health_section(page_client_for(member_a).get("/tickets/"))
    assert 'data-engine-running="true"' in section
    assert "The last pass finished under a minute ago" in section
    assert "not running" not in section
    assert "No ticket is waiting for the engine." in section


def test_the_engine_time_is_shown_in_the_tenants_zone(clock, tenant_a, page_client_for, member_a):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    run_pass()
    section = _health_section(page_client_for(member_a).get("/tickets/"))
    assert "2026-03-02 10:00:00, Europe/Paris" in section


def test_operators_read_the_last_engine_pass_in_the_admin(clock, page_client_for, operator):
    run_pass()
    client = page_client_for(operator)
    assert client.get("/admin/tasks/engineheartbeat/").status_code == 200
    assert client.get("/admin/tasks/engineheartbeat/add/").status_code == 403
    assert client.post("/admin/tasks/engineheartbeat/1/delete/", {"post": "yes"}).status_code == 403
    assert EngineHeartbeat.objects.get().last_pass_at == NINE
