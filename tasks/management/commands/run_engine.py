import logging
import signal
import threading

from django.core.management.base import BaseCommand, CommandError
from django.db import DatabaseError, connection

from tasks.engine import run_pass
from tasks.services import tickets_retry_rejected

logger = logging.getLogger("tasks.engine")


class Command(BaseCommand):
    help = (
        "Run the engine: convert pending tickets into tasks and fire due schedule ticks. "
        "Loops until SIGTERM or SIGINT; several engines may run side by side."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once",
            action="store_true",
            help="Process what is due now, then exit: status 1 if any ticket or schedule failed.",
        )
        parser.add_argument(
            "--retry-rejected",
            action="store_true",
            help="First put every rejected ticket back to pending (after a new license).",
        )
        parser.add_argument(
            "--sleep",
            type=float,
            default=2.0,
            help="Seconds to wait between passes that found nothing to do (default 2).",
        )

    def handle(self, *args, once: bool, retry_rejected: bool, sleep: float, **options):
        # The log lines are the engine's output: show them at INFO whatever the root level.
        logger.setLevel(logging.INFO)
        if not logger.handlers and not logging.getLogger().handlers:
            logger.addHandler(logging.StreamHandler())
        if retry_rejected:
            logger.info("%s rejected tickets put back to pending", tickets_retry_rejected())
        if once:
            failed = run_pass().failed  # each failure is logged with its traceback
            if failed:
                # A cron job or CI step must see that work was left undone: exit status 1.
                raise CommandError(
                    f"{len(failed)} units failed and were left for the next pass: "
                    f"{', '.join(failed)}."
                )
            return

        stop = threading.Event()

        def request_stop(signum, frame):
            logger.info(
                "%s received: stopping after the current ticket", signal.Signals(signum).name
            )
            stop.set()

        signal.signal(signal.SIGTERM, request_stop)
        signal.signal(signal.SIGINT, request_stop)
        logger.info("engine started; polling every %ss", sleep)
        while not stop.is_set():
            try:
                busy = run_pass(stopping=stop.is_set).did_anything
            except DatabaseError:
                logger.exception("pass failed: database unavailable; trying again in %ss", sleep)
                connection.close()  # reconnect on the next pass
                busy = False
            if not busy:
                stop.wait(sleep)
        logger.info("engine stopped")
