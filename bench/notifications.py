"""Benchmark: webhook delivery by one worker process to a local receiver.

    .venv/bin/python bench/notifications.py [--events 2000] [--latency-events 200]
        [--concurrency 4] [--database-url URL]

Runs against PostgreSQL in its own database (default `tally_bench_notifications`, created
and migrated if missing). A receiver on 127.0.0.1 verifies every Standard Webhooks
signature and answers 200. One `manage.py run_worker` process does the deliveries.

- throughput: `--events` alerts are raised first (each with its delivery job), then the
  worker starts; events/s from the first delivery received to the last;
- latency: with the worker running and idle, alerts are raised one at a time (one
  transaction each, a few ms apart); the time from each commit to the receiver seeing the
  first attempt, as median and p99.

Not run by the test suite; always exits 0.
"""

import argparse
import os
import statistics
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tally_bench_notifications"


def ensure_database(url: str) -> None:
    import psycopg

    parts = urlsplit(url)
    name = parts.path.lstrip("/")
    server = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(server, autocommit=True) as connection:
        if not connection.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", [name]
        ).fetchone():
            connection.execute(f'CREATE DATABASE "{name}"')


class Receiver:
    def __init__(self) -> None:
        self.secret: str | None = None
        self.first_seen: dict[str, float] = {}
        self.bad_signatures = 0
        self.lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                from standardwebhooks.webhooks import Webhook, WebhookVerificationError

                now = time.time()
                body = self.rfile.read(int(self.headers.get("content-length") or 0))
                headers = {k.lower(): v for k, v in self.headers.items()}
                try:
                    Webhook(receiver.secret).verify(body, headers)
                except WebhookVerificationError:
                    receiver.bad_signatures += 1
                with receiver.lock:
                    receiver.first_seen.setdefault(headers["webhook-id"], now)
                self.send_response(200)
                self.send_header("content-length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"


def wait_for(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            return False
        time.sleep(0.01)
    return True


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--latency-events", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    options = parser.parse_args()

    ensure_database(options.database_url)
    os.environ["DATABASE_URL"] = options.database_url
    os.environ["WEBHOOK_ALLOW_PRIVATE"] = "true"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.test")
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection, transaction

    call_command("migrate", verbosity=0)
    from licensing.models import Tenant
    from usage.notifications.alerts import alert_raise
    from usage.notifications.channels import email_set, endpoint_create

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE procrastinate_jobs, procrastinate_events CASCADE")
    tenant = Tenant.objects.create(name="Bench", slug=f"bench-{int(time.time() * 1000)}")
    email_set(tenant=tenant, enabled=False)
    receiver = Receiver()
    receiver.secret = endpoint_create(tenant=tenant, url=receiver.url).secret

    def raise_alert(scope: str) -> str:
        with transaction.atomic():
            alert = alert_raise(
                tenant=tenant, type="quota.threshold_crossed", dimension="tasks",
                threshold=80, scope=scope, quota="tasks", current=80, cap=100,
            )  # fmt: skip
        assert alert is not None
        return alert.event_id

    for number in range(options.events):
        raise_alert(f"throughput-{number}")
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    worker = subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--concurrency", str(options.concurrency)],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        done = wait_for(lambda: len(receiver.first_seen) >= options.events, timeout=600)
        seen = sorted(receiver.first_seen.values())
        span = seen[-1] - seen[0] if len(seen) > 1 else float("nan")
        print(
            f"Notifications benchmark: one worker process (concurrency {options.concurrency}), "
            f"receiver on 127.0.0.1, PostgreSQL {connection.pg_version}"
        )
        print(
            f"  throughput   {len(seen) / span if span else 0:.1f} events/s "
            f"({len(seen)} events in {span:.2f} s{'' if done else ', TIMED OUT'})"
        )
        latencies = []
        for number in range(options.latency_events):
            started = time.time()
            event_id = raise_alert(f"latency-{number}")
            committed = time.time()
            if wait_for(lambda event_id=event_id: event_id in receiver.first_seen, timeout=30):
                latencies.append((receiver.first_seen[event_id] - committed) * 1000)
            time.sleep(max(0.0, 0.02 - (time.time() - started)))
        latencies.sort()
        p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
        print(
            f"  crossing -> first attempt   median {statistics.median(latencies):.1f} ms, "
            f"p99 {p99:.1f} ms ({len(latencies)} events)"
        )
        print(f"  bad signatures: {receiver.bad_signatures}")
    finally:
        worker.terminate()
        worker.wait(30)


if __name__ == "__main__":
    main()
