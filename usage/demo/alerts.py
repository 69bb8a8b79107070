"""The demo's alert channels, and its deliveries made as the worker makes them.

The demo has no internet, so its endpoints are on this machine (WEBHOOK_ALLOW_PRIVATE must
be on: `bin/demo` turns it on). While the seed runs, a small receiver answers on a free
local port (`LocalReceiver`): the deliveries to it really happen, through the delivery
code the worker runs (`attempt_delivery`), and are logged as that code logs them. A second
endpoint points at a port where nothing listens, so its attempts really fail. Each attempt
is then moved to its moment in the story (`history.attempt_at`).

The queue still holds a job per delivery (enqueued with its alert); when the worker runs
it, a delivered or failed delivery is left alone (`attempt_delivery` does nothing unless
pending). The failing endpoint's delivery is still pending: the worker retries it on
WEBHOOK_RETRY_SCHEDULE, a few times over about two days, then it fails for good, as any.
"""

import json
import logging
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from django.conf import settings
from django.utils import timezone

from licensing.models import Tenant
from usage.demo import history
from usage.demo.history import Story
from usage.notifications.channels import endpoint_create
from usage.notifications.delivery import RetryLater, attempt_delivery
from usage.notifications.models import Delivery, Endpoint

logger = logging.getLogger(__name__)

# A port where nothing listens (the "discard" service, never run on a demo machine).
DEAD_PORT = 9
RECEIVER_PATH = "/tally/alerts"


class _Receiver(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 (http.server's name)
        length = int(self.headers.get("content-length") or 0)
        self.rfile.read(length)
        answer = json.dumps({"received": self.headers.get("webhook-id")}).encode()
        self.send_response(200)
        self.send_header("content-type", "application/json")
        self.send_header("content-length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer)

    def log_message(self, format, *args) -> None:
        return  # quiet: the attempt log is Tally's


class LocalReceiver:
    """A webhook receiver on 127.0.0.1 for the time of the seed (`with LocalReceiver() as url`)."""

    def __enter__(self) -> str:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _Receiver)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return f"http://127.0.0.1:{self.server.server_address[1]}{RECEIVER_PATH}"

    def __exit__(self, *exc) -> None:
        self.server.shutdown()
        self.server.server_close()


def local_endpoints_allowed() -> bool:
    if not settings.WEBHOOK_ALLOW_PRIVATE:
        logger.warning(
            "No demo webhook endpoints: they are on 127.0.0.1, which needs "
            "WEBHOOK_ALLOW_PRIVATE=true (bin/demo sets it)."
        )
    return bool(settings.WEBHOOK_ALLOW_PRIVATE)


def receiver_endpoint_create(tenant: Tenant, url: str, *, at: datetime) -> Endpoint:
    endpoint = endpoint_create(
        tenant=tenant,
        url=url,
        description="Ops alert receiver (on the seed's machine, while it ran)",
    ).endpoint
    history.endpoint_at(endpoint, at)
    return endpoint


def dead_endpoint_create(tenant: Tenant, *, at: datetime) -> Endpoint:
    """An endpoint added with a wrong port: every attempt is refused by the machine."""
    endpoint = endpoint_create(
        tenant=tenant,
        url=f"http://127.0.0.1:{DEAD_PORT}/pagerduty/bridge",
        description="PagerDuty bridge (added with the wrong port)",
    ).endpoint
    history.endpoint_at(endpoint, at)
    return endpoint


def deliver_new_alerts(story: Story, *, at: datetime) -> None:
    """The alerts raised since the last call, raised at `at`, then delivered as the worker
    would: each attempt a few seconds after the previous wait, retried on the code's own
    schedule while those times are still in the past; a delivery whose next try would be
    in the future stays pending with that time."""
    for delivery_id in history.new_alerts_at(story, at):
        _deliver(delivery_id, at=at + timedelta(seconds=2))


def _deliver(delivery_id: int, *, at: datetime) -> None:
    retries = 0
    while True:
        try:
            attempt_delivery(delivery_id, retries_done=retries)
        except RetryLater as retry:
            history.attempt_at(delivery_id, at)
            at += timedelta(seconds=retry.seconds)
            retries += 1
            if at < timezone.now() - timedelta(minutes=1):
                continue
            return  # pending, its next attempt in the future
        if Delivery.objects.filter(pk=delivery_id, attempts__isnull=False).exists():
            history.attempt_at(delivery_id, at)
        return
