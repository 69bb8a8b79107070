"""Races on PostgreSQL: many threads and processes against one cap never overshoot it.

Each test starts from 0 with a cap of 40 tasks (or a few hosts/gateways) and makes more
attempts than the cap allows, all released at once; exactly the cap is created, and the
lifetime counter equals the rows.
"""

import multiprocessing
import threading
from collections.abc import Callable

import pytest
from django.db import close_old_connections, connection, connections

from licensing.errors import CapReached
from licensing.models import Tenant
from tasks import guards
from tasks.models import Gateway, Host, Task, TaskCounter
from tasks.services import gateway_create, gateway_revoke, host_register, task_create
from tests.factories import active_license
from tests.tasks.caps_helpers import held_by_another_transaction, task_rows, tasks_used

pytestmark = [pytest.mark.django_db(transaction=True)]

THREADS = 16
PROCESSES = 4
TASKS_CAP = 40


def _attempt(create: Callable[[], object], attempts: int) -> tuple[int, int]:
    """Run `create` `attempts` times; (created, refused). Other errors propagate."""
    created = refused = 0
    for _ in range(attempts):
        try:
            create()
            created += 1
        except CapReached:
            refused += 1
    return created, refused


def _in_threads(create: Callable[[int], object], *, attempts_each: int) -> tuple[int, int]:
    barrier = threading.Barrier(THREADS)
    results: list[tuple[int, int]] = []
    errors: list[BaseException] = []

    def run(number: int) -> None:
        try:
            barrier.wait()
            results.append(_attempt(lambda: create(number), attempts_each))
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=run, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors
    return sum(r[0] for r in results), sum(r[1] for r in results)


def _process_worker(kind: str, tenant_id: int, attempts: int, barrier, results) -> None:
    close_old_connections()
    tenant = Tenant.objects.get(pk=tenant_id)
    creates = {
        "tasks": lambda: task_create(tenant=tenant, title="Race", source=Task.Source.API),
        "hosts": lambda: host_register(tenant=tenant, name="race"),
    }
    barrier.wait()
    try:
        results.put(_attempt(creates[kind], attempts))
    finally:
        connections.close_all()


def _in_processes(kind: str, tenant: Tenant, *, attempts_each: int) -> tuple[int, int]:
    connections.close_all()  # forked children must not share the parent's connection
    context = multiprocessing.get_context("fork")
    barrier, results = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(
            target=_process_worker, args=(kind, tenant.pk, attempts_each, barrier, results)
        )
        for _ in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [results.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0
    return sum(o[0] for o in outcomes), sum(o[1] for o in outcomes)


def test_sixteen_threads_create_exactly_the_tasks_cap(tenant_a):
    active_license(tenant_a, tasks=TASKS_CAP)

    created, refused = _in_threads(
        lambda number: task_create(tenant=tenant_a, title=f"T{number}", source="api"),
        attempts_each=5,
    )

    assert (created, refused) == (TASKS_CAP, 16 * 5 - TASKS_CAP)
    assert task_rows(tenant_a) == tasks_used(tenant_a) == TASKS_CAP


def test_threads_mixing_the_service_and_plain_orm_creates_never_overshoot(tenant_a):
    active_license(tenant_a, tasks=TASKS_CAP)

    def create(number: int) -> None:
        if number % 2:
            task_create(tenant=tenant_a, title="Service", source=Task.Source.API)
        else:
            Task.objects.create(tenant=tenant_a, title="ORM", source=Task.Source.ADMIN)

    created, _refused = _in_threads(create, attempts_each=5)

    assert created == TASKS_CAP
    assert task_rows(tenant_a) == tasks_used(tenant_a) == TASKS_CAP


def test_several_processes_create_exactly_the_tasks_cap(tenant_a):
    active_license(tenant_a, tasks=TASKS_CAP)

    created, refused = _in_processes("tasks", tenant_a, attempts_each=20)

    assert (created, refused) == (TASKS_CAP, PROCESSES * 20 - TASKS_CAP)
    assert task_rows(tenant_a) == tasks_used(tenant_a) == TASKS_CAP


def test_sixteen_threads_register_exactly_the_hosts_cap(tenant_a):
    active_license(tenant_a, hosts=5)

    created, refused = _in_threads(
        lambda number: host_register(tenant=tenant_a, name=f"host-{number}"), attempts_each=2
    )

    assert (created, refused) == (5, 16 * 2 - 5)
    assert Host.objects.filter(tenant=tenant_a).count() == 5


def test_several_processes_register_exactly_the_hosts_cap(tenant_a):
    active_license(tenant_a, hosts=7)

    created, _refused = _in_processes("hosts", tenant_a, attempts_each=4)

    assert created == 7
    assert Host.objects.filter(tenant=tenant_a).count() == 7


def test_sixteen_threads_create_exactly_the_gateways_cap(tenant_a):
    active_license(tenant_a, gateways=3)

    created, _refused = _in_threads(
        lambda number: gateway_create(tenant=tenant_a, name=f"gw-{number}", kind="webhook"),
        attempts_each=1,
    )

    assert created == 3
    assert Gateway.objects.filter(tenant=tenant_a).count() == 3


def test_revokes_and_creates_racing_never_overshoot_the_gateways_cap(tenant_a):
    active_license(tenant_a, gateways=3)
    old = [gateway_create(tenant=tenant_a, name=f"old-{n}", kind="jira")[0] for n in range(3)]

    def revoke_or_create(number: int) -> None:
        if number < len(old):
            gateway_revoke(gateway=old[number])
        else:
            gateway_create(tenant=tenant_a, name=f"gw-{number}", kind="webhook")

    _in_threads(revoke_or_create, attempts_each=1)

    registered = Gateway.objects.registered().filter(tenant=tenant_a)
    assert registered.count() <= 3
    assert not registered.filter(name__startswith="old-").exists()


def test_a_revoke_takes_the_tenant_lock_a_create_takes(tenant_a, monkeypatch):
    monkeypatch.setattr(guards, "LOCK_TIMEOUT", "200ms")
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")

    tenant_row = Tenant.objects.select_for_update(no_key=True).filter(pk=tenant_a.pk)
    with held_by_another_transaction(tenant_row.get), pytest.raises(guards.CapCheckBusy):
        gateway_revoke(gateway=gateway)

    gateway.refresh_from_db()
    assert gateway.revoked_at is None


def test_a_stuck_lock_holder_gives_a_clean_refusal_not_a_pile_up(tenant_a, monkeypatch):
    monkeypatch.setattr(guards, "LOCK_TIMEOUT", "200ms")
    active_license(tenant_a, tasks=TASKS_CAP)
    task_create(tenant=tenant_a, title="Creates the counter row", source=Task.Source.API)

    counter_row = TaskCounter.objects.select_for_update().filter(tenant=tenant_a)
    with (
        held_by_another_transaction(counter_row.get),
        pytest.raises(guards.CapCheckBusy) as refused,
    ):
        task_create(tenant=tenant_a, title="Waits on the stuck holder", source="api")

    assert refused.value.as_dict()["code"] == "cap_check_busy"
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1
