"""`manage.py run_worker`: the background worker of SPEC §7 (deliveries, the periodic sweep).

Wraps procrastinate's worker: long-running, several may run at once (jobs are taken with
row locks), stopped cleanly by SIGTERM or SIGINT (the job in hand finishes first).
"""

import logging
from typing import cast

from django.core.management.base import BaseCommand
from procrastinate.contrib.django import app
from procrastinate.contrib.django.django_connector import DjangoConnector

from usage.notifications.jobs import QUEUE


class Command(BaseCommand):
    help = "Run the background worker: alert deliveries and the periodic alert sweep."

    def add_arguments(self, parser) -> None:
        parser.add_argument(
            "--concurrency", type=int, default=4, help="Jobs run at once (default 4)."
        )
        parser.add_argument(
            "--once", action="store_true", help="Do the jobs that are due, then exit."
        )
        parser.add_argument("--name", default=None, help="Worker name, in logs.")

    def handle(self, *args, concurrency: int, once: bool, name: str | None, **options) -> None:
        logging.getLogger("procrastinate").setLevel(logging.INFO)
        # The worker needs its own pool (LISTEN/NOTIFY, async); jobs deferred by the jobs
        # themselves still go through Django's connection (jobs.defer_delivery).
        connector = cast(DjangoConnector, app.connector)  # the Django app's connector
        with app.replace_connector(connector.get_worker_connector()):
            app.run_worker(
                queues=[QUEUE],
                concurrency=concurrency,
                wait=not once,
                name=name,
                install_signal_handlers=True,
                delete_jobs="successful",  # the attempt log is ours; done jobs need no row
            )
