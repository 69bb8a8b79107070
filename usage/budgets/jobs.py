"""The budgets' job for the worker (procrastinate; `manage.py run_worker` runs it)."""

import logging

from procrastinate.contrib.django import app

from usage.budgets.services import reservations_expire
from usage.notifications.jobs import QUEUE, drop_broken_connections

logger = logging.getLogger(__name__)


@app.periodic(cron="* * * * *", periodic_id="reservations")  # every minute: 15 min lifetime
@app.task(name="budgets.expire_reservations", queue=QUEUE, queueing_lock="reservations")
def expire_reservations(timestamp: int) -> None:
    """Unsettled authorize reservations give their estimate back after 15 minutes (§8.2)."""
    drop_broken_connections()
    expired = reservations_expire()
    if expired:
        logger.info("%d unsettled reservation(s) expired", expired)
