"""Benchmark: the one cap guard on every entry point against unguarded inserts of tasks.

    .venv/bin/python bench/task_cap.py [--workers 8] [--seconds 3] [--rounds 3] [--database-url URL]

Runs against PostgreSQL in its own database (default `tally_bench_caps`, created and
migrated if missing), with worker PROCESSES (one process is bound by the GIL), every worker
creating tasks for the same tenant, so all of them contend on the one counter row:

- service: `tasks.services.task_create`, the path of the pages, the API and the admin;
- engine: `task_create_in_transaction` in a savepoint of the caller's durable transaction,
  as the engine converts a ticket (the unit's own ticket update left out);
- orm save: `Task.objects.create`, any ORM insert (counted by the same post_save guard);
- unguarded: plain ORM inserts of `Task` with the guard disconnected (the ceiling; each
  autocommit INSERT waits for its own flush);
- two floors, to show where the time goes: "txn only" is the unguarded insert in a
  transaction of its own (BEGIN, INSERT, COMMIT: what any guard needs at least), and
  "no lock" is the service path with the counter's UPDATE taken out (every statement the
  guard sends except the locked one), so "no lock" vs "service" is what the lock costs;
  "sync commit" is the service path committed with plain `synchronous_commit = on` (the
  commit waits for its flush inside the counter's lock, and no flush wait follows): it is
  what the asynchronous commit plus the flush wait after it earns, or costs;
- crossing: `task_create` against a cap the run crosses; the overshoot must be 0.

Every guarded create waits for the WAL flush before it returns (an acknowledged task is on
disk), as the unguarded autocommit INSERT does. The runs are interleaved for `--rounds`
rounds and the median of each is printed, so a neighbour's load on the machine hits every
variant alike. Not run by the test suite. Ends with its aim lines; always exits 0.
"""

import argparse
import multiprocessing
import os
import statistics
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tally_bench_caps"
UNLIMITED_ENOUGH = 2_000_000_000


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        exists = connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone()
        if not exists:
            connection.execute(f'CREATE DATABASE "{name}"')


def start_benchmark(title: str, options) -> None:
    """Make the database, set Django up on it, and print the run's heading (every bench)."""
    ensure_database(options.database_url)
    setup_django(options.database_url)
    from django.db import connection

    connection.ensure_connection()
    version = connection.cursor().connection.info.parameter_status("server_version")
    print(
        f"{title} benchmark: {options.workers} worker processes, one tenant, {options.rounds} "
        f"interleaved rounds of {options.seconds:g} s per variant (median), PostgreSQL "
        f"{version}, database {connection.settings_dict['NAME']}"
    )


def setup_django(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def make_tenant(label: str, tasks_cap: int) -> int:
    from django.utils import timezone

    from licensing.models import License, Tenant
    from licensing.signals import license_applied

    now = timezone.now()
    tenant = Tenant.objects.create(name=f"Bench {label}", slug=f"bench-{label}-{time.time_ns()}")
    license = License.objects.create(
        tenant=tenant,
        jti=f"bench-{tenant.pk}",
        kind=License.Kind.CONTRACT,
        hosts_cap=None,
        gateways_cap=None,
        tasks_cap=tasks_cap,
        issued_at=now,
        starts_at=now,
        token="bench",
        claims={},
        applied_at=now,
    )
    # As license_apply does (no signing key here): the counter row mirrors the license.
    license_applied.send(sender=License, tenant=tenant, license=license, previous=None)
    return tenant.pk


def worker(phase: str, url: str, tenant_id: int, start_at: float, seconds: float, results):
    """One process: warm up, wait for the common start, then create tasks until the deadline."""
    from django.db import connection, models, transaction
    from django.db.models.signals import post_save

    from licensing.errors import CapReached
    from licensing.models import Tenant
    from tasks.guards import CapCheckBusy
    from tasks.models import Task
    from tasks.services import task_create, task_create_in_transaction

    tenant = Tenant.objects.get(pk=tenant_id)
    fields = {"tenant": tenant, "title": "bench task", "source": Task.Source.API}
    if phase == "unguarded":
        post_save.disconnect(dispatch_uid="tasks.guards.count_new_task")

        def create_one() -> None:
            # Model.save, not Task.save: a plain autocommit INSERT with no guard at all.
            models.Model.save(Task(**fields))

    elif phase == "txn only":
        post_save.disconnect(dispatch_uid="tasks.guards.count_new_task")

        def create_one() -> None:
            with transaction.atomic(durable=True):
                models.Model.save(Task(**fields))

    elif phase == "engine":

        def create_one() -> None:
            with transaction.atomic(durable=True), transaction.atomic():
                task_create_in_transaction(**fields)

    elif phase == "orm save":

        def create_one() -> None:
            Task.objects.create(**fields)

    elif phase == "no lock":
        from tasks import guards

        guards._count_one = lambda task, using: (1, None, "")  # the guard without its UPDATE

        def create_one() -> None:
            task_create(**fields)

    elif phase == "sync commit":
        from django.conf import settings

        from tasks import guards

        asynchronous = "  AND set_config('synchronous_commit', 'off', true) IS NOT NULL\n"
        assert asynchronous in guards.COUNT_ONE_SQL
        guards.COUNT_ONE_SQL = guards.COUNT_ONE_SQL.replace(asynchronous, "")
        # The commit itself waits for the flush (inside the lock), so no wait after it.
        settings.TASK_CAP_ASYNC_COMMIT = True

        def create_one() -> None:
            task_create(**fields)

    else:  # service, crossing

        def create_one() -> None:
            task_create(**fields)

    connection.ensure_connection()
    created = refused = busy = 0
    while time.time() < start_at:
        time.sleep(0.001)
    deadline = start_at + seconds
    while time.time() < deadline:
        try:
            create_one()
            created += 1
        except CapReached:
            refused += 1
            if phase == "crossing":
                break
        except CapCheckBusy:
            busy += 1
    results.put((created, refused, busy))


def run(phase: str, url: str, tenant_id: int, workers: int, seconds: float) -> dict:
    from django.db import connections

    connections.close_all()  # never share the parent's connection with forked workers
    context = multiprocessing.get_context("fork")
    results = context.Queue()
    start_at = time.time() + 1.5
    processes = [
        context.Process(target=worker, args=(phase, url, tenant_id, start_at, seconds, results))
        for _ in range(workers)
    ]
    for process in processes:
        process.start()
    totals = [0, 0, 0]
    for _ in processes:
        for index, value in enumerate(results.get(timeout=seconds + 120)):
            totals[index] += value
    for process in processes:
        process.join()
    created, refused, busy = totals
    return {"created": created, "refused": refused, "busy": busy, "rate": created / seconds}


def counted(tenant_id: int) -> tuple[int, int]:
    from tasks.models import Task, TaskCounter

    rows = Task.objects.filter(tenant_id=tenant_id).count()
    used = TaskCounter.objects.get(tenant_id=tenant_id).used
    return rows, used


PHASES = ("service", "engine", "orm save", "unguarded", "txn only", "no lock", "sync commit")
GUARDED = ("service", "engine", "orm save")


def verdict(passed: bool) -> str:
    return "ok" if passed else "short"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    options = parser.parse_args()
    url = options.database_url
    start_benchmark("Task cap", options)
    workers, seconds = options.workers, options.seconds

    rates: dict[str, list[float]] = {phase: [] for phase in PHASES}
    consistent = True
    for _round in range(options.rounds):
        for phase in PHASES:
            tenant_id = make_tenant(phase.replace(" ", "-"), UNLIMITED_ENOUGH)
            rates[phase].append(run(phase, url, tenant_id, workers, seconds)["rate"])
            if phase in GUARDED:
                rows, used = counted(tenant_id)
                consistent = consistent and rows == used
    median = {phase: statistics.median(values) for phase, values in rates.items()}
    for phase in PHASES:
        runs = ", ".join(f"{rate:.0f}" for rate in rates[phase])
        print(f"  {phase:<15} {median[phase]:8.1f} creates/s   (runs: {runs})")
    print(f"  counter = rows after every guarded run: {consistent}")
    ratios = {phase: median[phase] / median["unguarded"] for phase in GUARDED}
    for phase in PHASES:
        if phase != "unguarded":
            ratio = median[phase] / median["unguarded"]
            floor = "   (a floor, not an entry point)" if phase not in GUARDED else ""
            print(f"  {phase + ' / unguarded':<27} {ratio:7.1%}{floor}")

    # A cap the run crosses about halfway through.
    cap = max(int(median["service"] * seconds / 2), 100)
    tenant_id = make_tenant("crossing", cap)
    crossing = run("crossing", url, tenant_id, workers, seconds)
    rows, used = counted(tenant_id)
    overshoot = max(rows - cap, 0) + abs(used - rows)
    print(
        f"  crossing: cap {cap}, created {crossing['created']}, refused {crossing['refused']}, "
        f"lock timeouts {crossing['busy']}, rows {rows}, counter {used}, "
        f"overshoot {max(rows - cap, 0)}"
    )
    if not consistent:
        overshoot += 1  # a counter that differs from its rows is a miss too
    one_path = min(ratios.values())
    print(f"aim: one_path_over_unguarded {one_path:.2f} >= 0.50 {verdict(one_path >= 0.50)}")
    print(f"aim: overshoot {overshoot} == 0 {verdict(overshoot == 0)}")


if __name__ == "__main__":
    main()
