"""Benchmark: the guarded task path against unguarded ORM inserts and the raw hot-row protocol.

    .venv/bin/python bench/task_cap.py [--workers 8] [--seconds 3] [--rounds 3] [--database-url URL]

Runs against PostgreSQL in its own database (default `tally_bench_caps`, created and
migrated if missing), with worker PROCESSES (one process is bound by the GIL), every worker
creating tasks for the same tenant, so all of them contend on the one counter row:

- guarded: `tasks.services.task_create` as shipped, with a cap that is never reached: the
  message commits without waiting for the WAL flush, then the create waits for the flush
  outside the counter's lock (an acknowledged task is on disk);
- guarded no-wait: the same with TASK_CAP_ASYNC_COMMIT=true (no wait for the flush);
- unguarded: plain ORM inserts of `Task` with the cap guard disconnected (the ceiling;
  each autocommit INSERT waits for its flush);
- raw: the guard's hot-row protocol in raw SQL through psycopg (the license read once;
  then per task one message: the license still the same, the insert, the counter upsert
  refused by `used <= admitted_cap`; then the flush wait): the floor any ORM path pays
  for the protocol; "raw no-wait" without the flush wait;
- raw fsync-in-lock: the message committing synchronously, so every commit's fsync is
  inside the counter's lock (the design the flush wait replaces);
- crossing: `task_create` against a cap the run crosses; prints the overshoot (must be 0).

The runs are interleaved for `--rounds` rounds and the median of each is printed, so a
neighbour's load on the machine hits every variant alike. Not run by the test suite.
Aim: guarded at 80 % or more of unguarded ORM inserts with the same workers.
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

RAW_LICENSE_SQL = (
    "SELECT id, tasks_cap, expires_at FROM licensing_license "
    "WHERE tenant_id = %s AND status = 'active'"
)
# One message, one implicit transaction: settings; the license still the one read; the
# task's insert; the counter upsert (refused by used <= admitted_cap).
RAW_MESSAGE_SQL = (
    "SELECT set_config('lock_timeout', '2s', true){asynchronous}; "
    "SELECT 1 / count(*) FROM licensing_license WHERE id = %s AND tenant_id = %s "
    "AND status = 'active' AND tasks_cap IS NOT DISTINCT FROM %s "
    "AND expires_at IS NOT DISTINCT FROM %s; "
    "INSERT INTO tasks_task (tenant_id, title, description, kind, source, created_at) "
    "VALUES (%s, 'bench task', '', 'ad_hoc', 'api', now()) RETURNING id; "
    "INSERT INTO tasks_taskcounter (tenant_id, used, admitted_cap) VALUES (%s, 1, %s) "
    "ON CONFLICT (tenant_id) DO UPDATE SET used = tasks_taskcounter.used + 1, "
    "admitted_cap = excluded.admitted_cap"
)
RAW_ASYNC_SQL = ", set_config('synchronous_commit', 'off', true)"
RAW_FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'tally.task_created', '')"


def raw_message(phase: str) -> str:
    """The guard's message in raw SQL, as `tasks.guards` sends it: BEGIN, the statements,
    COMMIT without waiting for the flush, then the wait; or a variant."""
    if phase == "raw fsync-in-lock":  # one implicit transaction, its commit waits for fsync
        return RAW_MESSAGE_SQL.format(asynchronous="")
    message = f"BEGIN; {RAW_MESSAGE_SQL.format(asynchronous=RAW_ASYNC_SQL)}; COMMIT"
    return message if phase == "raw no-wait" else f"{message}; {RAW_FLUSH_SQL}"


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

    now = timezone.now()
    tenant = Tenant.objects.create(name=f"Bench {label}", slug=f"bench-{label}-{time.time_ns()}")
    License.objects.create(
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
    return tenant.pk


def worker(phase: str, url: str, tenant_id: int, start_at: float, seconds: float, results):
    """One process: warm up, wait for the common start, then create tasks until the deadline."""
    from django.conf import settings
    from django.db import connection, models
    from django.db.models.signals import post_save

    from licensing.errors import CapReached
    from licensing.models import Tenant
    from tasks.guards import CapCheckBusy
    from tasks.models import Task
    from tasks.services import task_create

    tenant = Tenant.objects.get(pk=tenant_id)
    if phase == "unguarded":
        post_save.disconnect(dispatch_uid="tasks.guards.count_new_task")

        def create_one() -> None:
            # Model.save, not Task.save: a plain autocommit INSERT with no guard at all.
            models.Model.save(Task(tenant=tenant, title="bench task", source=Task.Source.API))

    elif phase.startswith("raw"):
        import psycopg

        # Client-side binding and autocommit, like Django's: several statements in one
        # message, run by the server as one implicit transaction.
        raw = psycopg.connect(url, autocommit=True, cursor_factory=psycopg.ClientCursor)
        cursor = raw.cursor()
        message = raw_message(phase)
        license_id, cap, expires_at = cursor.execute(RAW_LICENSE_SQL, [tenant_id]).fetchone()
        params = [license_id, tenant_id, cap, expires_at, tenant_id, tenant_id, cap]

        def create_one() -> None:
            try:
                cursor.execute(message, params)
            except psycopg.errors.CheckViolation:
                cursor.execute("ROLLBACK")
                raise CapReached("tasks", used=cap, cap=cap) from None

    else:
        settings.TASK_CAP_ASYNC_COMMIT = phase == "guarded no-wait"

        def create_one() -> None:
            task_create(tenant=tenant, title="bench task", source=Task.Source.API)

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


PHASES = ("guarded", "guarded no-wait", "unguarded", "raw", "raw no-wait", "raw fsync-in-lock")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    options = parser.parse_args()
    url = options.database_url
    ensure_database(url)
    setup_django(url)
    from django.db import connection

    workers, seconds = options.workers, options.seconds
    connection.ensure_connection()
    version = connection.cursor().connection.info.parameter_status("server_version")
    print(
        f"Task cap benchmark: {workers} worker processes, one tenant, {options.rounds} "
        f"interleaved rounds of {seconds:g} s per variant (median), PostgreSQL {version}, "
        f"database {connection.settings_dict['NAME']}"
    )

    rates: dict[str, list[float]] = {phase: [] for phase in PHASES}
    consistent = True
    for _round in range(options.rounds):
        for phase in PHASES:
            tenant_id = make_tenant(phase.replace(" ", "-"), UNLIMITED_ENOUGH)
            rates[phase].append(run(phase, url, tenant_id, workers, seconds)["rate"])
            if phase != "unguarded":
                rows, used = counted(tenant_id)
                consistent = consistent and rows == used
    median = {phase: statistics.median(values) for phase, values in rates.items()}
    for phase in PHASES:
        runs = ", ".join(f"{rate:.0f}" for rate in rates[phase])
        print(f"  {phase:<18} {median[phase]:8.1f} creates/s   (runs: {runs})")
    print(f"  counter = rows after every guarded and raw run: {consistent}")

    def ratio(a: str, b: str, note: str = "") -> None:
        print(f"  {a + ' / ' + b:<34} {median[a] / median[b]:7.1%}{note}")

    ratio("guarded", "unguarded", "   (aim: 80 % or more)")
    ratio("guarded", "raw")
    ratio("raw", "unguarded")
    ratio("guarded no-wait", "unguarded")
    ratio("raw no-wait", "unguarded")
    ratio("raw fsync-in-lock", "unguarded")

    # A cap the run crosses about halfway through.
    cap = max(int(median["guarded"] * seconds / 2), 100)
    tenant_id = make_tenant("crossing", cap)
    crossing = run("crossing", url, tenant_id, workers, seconds)
    rows, used = counted(tenant_id)
    print(
        f"  crossing: cap {cap}, created {crossing['created']}, refused {crossing['refused']}, "
        f"lock timeouts {crossing['busy']}, rows {rows}, counter {used}, "
        f"overshoot {max(rows - cap, 0)}"
    )
    if rows > cap or used != rows or not consistent:
        sys.exit("FAIL: the cap was overshot or the counter differs from the rows")


if __name__ == "__main__":
    main()
