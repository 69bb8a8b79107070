"""The worker's jobs (procrastinate, backed by PostgreSQL; `manage.py run_worker` runs them).

- `deliver`: one delivery, retried per WEBHOOK_RETRY_SCHEDULE with jitter (or Retry-After).
  Deferred through Django's connection, so inside the transaction that raised the alert.
  One lock per delivery: a redelivery never runs beside a pending retry.
- `sweep`: every ALERT_SWEEP_SECONDS, license ends and the tasks projection, and the
  recovery of jobs left `doing` by a dead worker (its heartbeat stopped).
"""

import functools
import logging

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import connections
from procrastinate import JobContext, RetryDecision
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector
from procrastinate.jobs import Job
from procrastinate.manager import JobManager
from procrastinate.retry import BaseRetryStrategy
from procrastinate.tasks import configure_task

from usage.notifications.delivery import RetryLater, attempt_delivery, with_jitter

logger = logging.getLogger(__name__)

QUEUE = "notifications"
STALLED_AFTER_SECONDS = 30.0  # no heartbeat for this long (10 s interval): the worker is dead


class DeliveryRetryStrategy(BaseRetryStrategy):
    """The waits of WEBHOOK_RETRY_SCHEDULE: the one the delivery chose (RetryLater, which
    honours Retry-After), or the schedule itself for an unexpected error (database down)."""

    def get_retry_decision(self, *, exception: BaseException, job: Job) -> RetryDecision | None:
        if isinstance(exception, RetryLater):
            # timedelta takes float seconds; the stubs' TimeDeltaParams says int.
            return RetryDecision(retry_in={"seconds": exception.seconds})  # type: ignore[call-overload]
        schedule = settings.WEBHOOK_RETRY_SCHEDULE
        if job.attempts >= len(schedule):
            return None
        seconds = with_jitter(schedule[job.attempts])
        return RetryDecision(retry_in={"seconds": seconds})  # type: ignore[call-overload]


def sweep_cron(seconds: int) -> str:
    """ALERT_SWEEP_SECONDS as procrastinate's cron (a sixth field is seconds)."""
    if 0 < seconds < 60 and 60 % seconds == 0:
        return f"* * * * * */{seconds}"
    if seconds % 60 == 0 and 3600 % seconds == 0:
        return f"*/{seconds // 60} * * * *"
    raise ImproperlyConfigured(
        f"ALERT_SWEEP_SECONDS={seconds} must divide a minute (1-30) or an hour (60-3600, "
        "whole minutes)."
    )


@app.task(
    name="notifications.deliver",
    queue=QUEUE,
    pass_context=True,
    retry=DeliveryRetryStrategy(),
)
def deliver(context: JobContext, *, delivery_id: int) -> None:
    drop_broken_connections()
    attempt_delivery(delivery_id, retries_done=context.job.attempts)


def drop_broken_connections() -> None:
    """Keep each worker thread's connection across jobs (a new one per job costs more than
    the delivery), but never reuse one that broke (the server restarted, a network cut)."""
    for connection in connections.all(initialized_only=True):
        if connection.connection is not None and not connection.is_usable():
            connection.close()


@functools.cache
def _transactional_job_manager() -> JobManager:
    """Defers through Django's connection, so a job is enqueued in the caller's transaction.

    Not the app's own manager: inside `run_worker` the app's connector is the worker's pool
    (a connection of its own), and a job deferred there would be committed before the alert
    row, and could run before that row exists.
    """
    return JobManager(DjangoConnector(alias="default"))


def defer_delivery(delivery_id: int) -> None:
    """Enqueue a delivery in the current transaction. One lock per delivery: a redelivery
    never runs beside a pending retry of the same delivery."""
    configure_task(
        name=deliver.name,
        job_manager=_transactional_job_manager(),
        queue=QUEUE,
        lock=f"delivery-{delivery_id}",
    ).defer(delivery_id=delivery_id)


@app.periodic(cron=sweep_cron(settings.ALERT_SWEEP_SECONDS), periodic_id="alerts")
@app.task(name="notifications.sweep", queue=QUEUE, queueing_lock="notifications.sweep")
def sweep(timestamp: int) -> None:
    from usage.notifications.sweep import sweep_alerts

    drop_broken_connections()
    sweep_alerts()


@app.periodic(cron=sweep_cron(settings.ALERT_SWEEP_SECONDS), periodic_id="stalled")
@app.task(name="notifications.retry_stalled_jobs", queue=QUEUE, queueing_lock="stalled")
async def retry_stalled_jobs(timestamp: int) -> None:
    await recover_stalled_jobs()


async def recover_stalled_jobs(*, seconds_since_heartbeat: float = STALLED_AFTER_SECONDS) -> int:
    """Put back in the queue the jobs of workers that stopped beating (killed, crashed);
    a recovered delivery is sent again with the same webhook-id."""
    stalled = list(
        await app.job_manager.get_stalled_jobs(seconds_since_heartbeat=seconds_since_heartbeat)
    )
    for job in stalled:
        logger.warning("Retrying job %s (%s) left by a dead worker", job.id, job.task_name)
        await app.job_manager.retry_job(job)
    return len(stalled)
