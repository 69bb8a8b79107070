import logging
import signal
import threading

from django.core.management.base import BaseCommand

from tasks.engine import run_pass
from tasks.tickets import tickets_retry_rejected

logger = logging.getLogger("tasks.engine")


class Command(BaseCommand):
    help = (
        "Run the engine: convert pending tickets into tasks and fire due schedule ticks. "
        "Loops until SIGTERM or SIGINT; several engines may run side by side."
    )

    def add_arguments(self, parser):
        parser.add_argument(
            "--once", action="store_true", help="Process what is due now, then exit."
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
            self._log_pass(run_pass())
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
            summary = run_pass(stopping=stop.is_set)
            self._log_pass(summary)
            if not summary.did_anything:
                stop.wait(sleep)
        logger.info("engine stopped")

    def _log_pass(self, summary) -> None:
        if summary.did_anything:
            logger.info(
                "pass: %s converted, %s rejected, %s schedules registered, "
                "%s ticks created, %s ticks blocked, %s failed",
                summary.converted,
                summary.rejected,
                summary.schedules_registered,
                summary.ticks_created,
                summary.ticks_blocked,
                len(summary.failed),
            )
