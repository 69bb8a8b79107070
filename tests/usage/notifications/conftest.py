"""A real webhook receiver on 127.0.0.1 and a real procrastinate worker against PostgreSQL."""

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.db import transaction
from procrastinate.contrib.django import app
from standardwebhooks.webhooks import Webhook, WebhookVerificationError

from tasks.signals import usage_changed
from tests.browser.conftest import browser, screenshot  # noqa: F401 (shared with the page test)
from usage.notifications.jobs import QUEUE

FAST_RETRIES = [0.3, 0.3, 0.3, 0.3]


@dataclass
class Request:
    webhook_id: str | None
    headers: dict[str, str]
    body: bytes
    verified: bool
    answered: int | None = None  # the status sent back; None: the connection was cut


@dataclass
class Receiver:
    """Fails the first `fail_first` requests with `fail_status`, then answers 200.

    `hold_first`: the first request is kept unanswered until `release` is set (a worker can be
    killed while it waits). Signatures are checked with the standardwebhooks library.
    """

    secret: str | None = None
    fail_first: int = 0
    fail_status: int = 503
    fail_headers: dict[str, str] = field(default_factory=dict)
    hold_first: bool = False
    delay_seconds: float = 0.0
    requests: list[Request] = field(default_factory=list)
    got_first: threading.Event = field(default_factory=threading.Event)
    release: threading.Event = field(default_factory=threading.Event)
    lock: threading.Lock = field(default_factory=threading.Lock)
    server: ThreadingHTTPServer | None = None

    @property
    def url(self) -> str:
        assert self.server is not None
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def accepted(self) -> list[Request]:
        return [r for r in self.requests if r.answered == 200]

    def accepted_ids(self) -> list[str | None]:
        return [r.webhook_id for r in self.accepted()]

    def handle(self, handler: BaseHTTPRequestHandler) -> None:
        body = handler.rfile.read(int(handler.headers.get("content-length") or 0))
        headers = {k.lower(): v for k, v in handler.headers.items()}
        verified = False
        if self.secret is not None:
            try:
                Webhook(self.secret).verify(body, headers)
                verified = True
            except WebhookVerificationError:
                verified = False
        request = Request(headers.get("webhook-id"), headers, body, verified)
        with self.lock:
            self.requests.append(request)
            number = len(self.requests)
        if number == 1 and self.hold_first:
            self.got_first.set()
            self.release.wait(30)
            return  # never answered: the caller was killed meanwhile
        if self.delay_seconds:
            time.sleep(self.delay_seconds)
        status = self.fail_status if number <= self.fail_first else 200
        if self.secret is not None and not verified:
            status = 400
        handler.send_response(status)
        headers_out = self.fail_headers if status == self.fail_status else {}
        for name, value in headers_out.items():
            handler.send_header(name, value)
        answer = json.dumps({"ok": status == 200, "n": number}).encode()
        handler.send_header("content-length", str(len(answer)))
        handler.end_headers()
        handler.wfile.write(answer)
        request.answered = status


@pytest.fixture
def receiver():
    """`receiver(**options)` starts one; all are stopped after the test."""
    started: list[Receiver] = []

    def start(**options) -> Receiver:
        state = Receiver(**options)

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 (http.server's name)
                state.handle(self)

            def log_message(self, *args):
                pass

        state.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        state.server.daemon_threads = True
        threading.Thread(target=state.server.serve_forever, daemon=True).start()
        started.append(state)
        return state

    yield start
    for state in started:
        state.release.set()
        assert state.server is not None
        state.server.shutdown()
        state.server.server_close()


@pytest.fixture
def fast_retries(settings):
    """Local receivers over http, and retry waits of a fraction of a second."""
    settings.WEBHOOK_ALLOW_PRIVATE = True
    settings.WEBHOOK_RETRY_SCHEDULE = FAST_RETRIES
    return settings


def run_worker_until(condition, *, timeout: float = 30.0) -> None:
    """Run the real procrastinate worker (its own connection pool, as `run_worker` does)
    until `condition()` holds: each run does the jobs due now, then exits."""
    deadline = time.monotonic() + timeout
    with app.replace_connector(app.connector.get_worker_connector()):
        while True:
            _in_a_thread(
                lambda: app.run_worker(
                    queues=[QUEUE], wait=False, concurrency=2, install_signal_handlers=False
                )
            )
            if condition():
                return
            if time.monotonic() > deadline:
                raise AssertionError("the worker did not get there in time")
            time.sleep(0.1)


def _in_a_thread(run) -> None:
    """The worker's own event loop, away from any loop of the test's thread (Playwright's)."""
    failures = []

    def target():
        try:
            run()
        except BaseException as error:  # re-raised in the test's thread
            failures.append(error)

    thread = threading.Thread(target=target)
    thread.start()
    thread.join()
    if failures:
        raise failures[0]


@pytest.fixture
def worker():
    return run_worker_until


def cross(tenant, *, dimension: str, before: int, after: int, cap: int | None, jti=None):
    """What the guard does: announce the change inside the transaction that made it."""
    with transaction.atomic():
        usage_changed.send(
            sender=None,
            tenant_id=tenant.pk,
            dimension=dimension,
            used_before=before,
            used_after=after,
            cap=cap,
            license_jti=jti,
        )


@pytest.fixture(autouse=True)
def empty_queue(request):
    """Transactional tests commit their jobs; procrastinate's tables are not Django's to flush."""
    yield
    marker = request.node.get_closest_marker("django_db")
    if marker is not None and marker.kwargs.get("transaction"):
        from django.db import connection

        with connection.cursor() as cursor:
            cursor.execute(
                "TRUNCATE procrastinate_jobs, procrastinate_events, procrastinate_periodic_defers"
            )
