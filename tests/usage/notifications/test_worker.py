"""`manage.py run_worker` as a real process: SIGTERM stops it cleanly after the job in hand;
SIGKILL mid-delivery leaves the job to be recovered and the event delivered once."""

import asyncio
import os
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from django.db import connection
from procrastinate.contrib.django import app

from tests.usage.notifications.conftest import FAST_RETRIES, cross
from usage.notifications.channels import endpoint_create
from usage.notifications.jobs import recover_stalled_jobs
from usage.notifications.models import Alert, Attempt, Delivery

pytestmark = [pytest.mark.django_db(transaction=True)]

ROOT = Path(__file__).resolve().parents[3]


def _start_worker() -> subprocess.Popen:
    database = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgres://{database['USER']}@{database['HOST']}:{database['PORT']}/"
        f"{database['NAME']}",
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "WEBHOOK_ALLOW_PRIVATE": "true",
        "WEBHOOK_RETRY_SCHEDULE": ",".join(map(str, FAST_RETRIES)),
    }
    return subprocess.Popen(
        [sys.executable, "manage.py", "run_worker", "--concurrency", "1"], cwd=ROOT, env=env
    )


def _job_statuses() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT status FROM procrastinate_jobs WHERE task_name = 'notifications.deliver'"
        )
        return [status for (status,) in cursor.fetchall()]


def _recover(seconds_since_heartbeat: float) -> int:
    """What the periodic job does, with a short heartbeat limit (the dead worker is known)."""
    result = []

    def run():
        async def go():
            async with app.open_async():
                result.append(
                    await recover_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
                )

        with app.replace_connector(app.connector.get_worker_connector()):
            asyncio.run(go())

    thread = threading.Thread(target=run)
    thread.start()
    thread.join()
    return result[0]


def test_sigterm_stops_the_worker_after_the_delivery_in_hand(tenant_a, receiver, fast_retries):
    hook = receiver(delay_seconds=1.5)
    created = endpoint_create(tenant=tenant_a, url=hook.url)
    hook.secret = created.secret
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    worker = _start_worker()
    try:
        deadline = time.monotonic() + 30
        while not hook.requests and time.monotonic() < deadline:
            time.sleep(0.05)
        assert hook.requests, "the worker never called the receiver"
        worker.send_signal(signal.SIGTERM)
        assert worker.wait(20) == 0
    finally:
        worker.kill()
    assert Delivery.objects.get().status == Delivery.Status.DELIVERED
    assert hook.accepted_ids() == [Alert.objects.get().event_id]


def test_a_worker_killed_mid_delivery_leaves_the_job_retried_and_delivered_once(
    tenant_a, receiver, fast_retries, worker
):
    hook = receiver(hold_first=True)
    created = endpoint_create(tenant=tenant_a, url=hook.url)
    hook.secret = created.secret
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    process = _start_worker()
    try:
        assert hook.got_first.wait(30), "the worker never called the receiver"
        process.send_signal(signal.SIGKILL)
        assert process.wait(10) == -signal.SIGKILL
    finally:
        process.kill()
    hook.release.set()  # the held request is dropped: never answered
    assert _job_statuses() == ["doing"]  # left behind by the dead worker
    assert list(Attempt.objects.values_list("outcome", flat=True)) == ["in_progress"]

    time.sleep(1.5)
    assert _recover(seconds_since_heartbeat=1) == 1
    worker(lambda: Delivery.objects.get().status == Delivery.Status.DELIVERED)

    event_id = Alert.objects.get().event_id
    assert [r.webhook_id for r in hook.requests] == [event_id, event_id]
    assert hook.accepted_ids() == [event_id]  # accepted once; a receiver dedupes by id
    assert list(Attempt.objects.order_by("id").values_list("outcome", flat=True)) == [
        "in_progress",  # the interrupted one stays in the log
        "succeeded",
    ]
