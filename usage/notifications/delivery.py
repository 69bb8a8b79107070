"""One attempt of one delivery (SPEC §7.3): send it, log it, say whether to retry.

The attempt row is committed as `in_progress` before the call, so a worker killed during the
call leaves it in the log; the job is then recovered by the queue and tried again with the
same `webhook-id` (receivers dedupe by it: the Standard Webhooks contract).
"""

import email.utils
import json
import logging
import random
import threading
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
from django.conf import settings
from django.core.mail import EmailMessage, get_connection
from django.db import transaction
from django.utils import timezone

from licensing.errors import DomainError
from usage.notifications import rules
from usage.notifications.alerts import administrators_with_email
from usage.notifications.destinations import DestinationRefused, check_destination
from usage.notifications.models import Attempt, Delivery, Endpoint
from usage.notifications.signing import signed_headers

logger = logging.getLogger(__name__)

TIMEOUT_SECONDS = 10.0
EXCERPT_BYTES = 2048
DISABLE_AFTER = timedelta(days=3)
MAX_RETRY_AFTER_SECONDS = 86400
JITTER = 0.1  # up to +10 % on every wait, so retries of one outage do not arrive together


@dataclass(frozen=True)
class Result:
    succeeded: bool
    retryable: bool
    status_code: int | None = None
    excerpt: str = ""
    error: str = ""
    retry_after: float | None = None


class RetryLater(Exception):
    """The attempt failed in a way worth retrying; the queue retries after `seconds`."""

    def __init__(self, seconds: float) -> None:
        super().__init__(f"retry in {seconds:.1f} s")
        self.seconds = seconds


def with_jitter(seconds: float) -> float:
    return seconds * (1 + random.uniform(0, JITTER))


def _retry_after(value: str | None) -> float | None:
    """Retry-After as seconds or an HTTP date (RFC 9110), capped at a day."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        seconds = float(value)
    else:
        try:
            when = email.utils.parsedate_to_datetime(value)
        except (TypeError, ValueError):
            return None
        seconds = (when - timezone.now()).total_seconds()
    return min(max(seconds, 0.0), MAX_RETRY_AFTER_SECONDS)


_per_thread = threading.local()


def _client() -> httpx.Client:
    """One HTTP client per worker thread: its TLS context and connections are reused."""
    client = getattr(_per_thread, "client", None)
    if client is None or client.timeout.read != TIMEOUT_SECONDS:
        client = httpx.Client(timeout=TIMEOUT_SECONDS, follow_redirects=False)
        _per_thread.client = client
    return client


def _post(url: str, *, body: str, headers: dict[str, str]) -> Result:
    try:
        check_destination(url)
    except DestinationRefused as refusal:
        return Result(False, False, error=refusal.detail)
    try:
        with _client().stream("POST", url, content=body.encode(), headers=headers) as response:
            excerpt = b""
            for chunk in response.iter_bytes():
                excerpt += chunk
                if len(excerpt) >= EXCERPT_BYTES:
                    break
    except httpx.TimeoutException as error:
        return Result(False, True, error=f"Timed out after {TIMEOUT_SECONDS:.0f} s: {error!r}")
    except httpx.HTTPError as error:
        return Result(False, True, error=f"Connection error: {error!r}")
    status = response.status_code
    text = excerpt[:EXCERPT_BYTES].decode("utf-8", errors="replace")
    if 200 <= status < 300:
        return Result(True, False, status, text)
    retryable = status in (408, 429) or status >= 500
    return Result(
        False,
        retryable,
        status,
        text,
        error=f"HTTP {status}" + (" (redirects are not followed)" if 300 <= status < 400 else ""),
        retry_after=_retry_after(response.headers.get("retry-after")) if retryable else None,
    )


def _send_email(delivery: Delivery) -> Result:
    recipients = administrators_with_email(delivery.alert.tenant_id)
    if not recipients:
        return Result(False, False, error="No administrator of the tenant has an email address.")
    body = delivery.alert.payload
    sentence = rules.summary(body)
    text = (
        f"{sentence}\n\n"
        f"Alert: {body['type']}\nEvent: {body['id']}\nRaised at: {body['timestamp']}\n\n"
        "Details:\n" + json.dumps(body["data"], indent=2) + "\n\n"
        "Settings > Notifications lists every alert and lets you mute this kind.\n"
    )
    messages = [
        EmailMessage(
            subject=f"[Tally] {sentence}"[:200],
            body=text,
            from_email=settings.DEFAULT_FROM_EMAIL,
            to=[address],
            headers={"X-Tally-Event-Id": body["id"]},
        )
        for address in recipients
    ]
    try:
        get_connection().send_messages(messages)
    except OSError as error:  # smtplib errors are OSErrors
        return Result(False, True, error=f"Email not sent: {error!r}")
    return Result(True, False, excerpt=f"Sent to {len(recipients)} administrator(s).")


def _send(delivery: Delivery) -> Result:
    if delivery.channel == Delivery.Channel.EMAIL:
        return _send_email(delivery)
    endpoint = delivery.endpoint
    assert endpoint is not None
    alert = delivery.alert
    if delivery.channel == Delivery.Channel.SLACK:
        body = json.dumps({"text": rules.summary(alert.payload)})
        return _post(endpoint.url, body=body, headers={"content-type": "application/json"})
    body = json.dumps(alert.payload, separators=(",", ":"))
    headers = signed_headers(
        secret=endpoint.secret, message_id=alert.event_id, body=body, at=timezone.now()
    )
    return _post(endpoint.url, body=body, headers=headers)


def _endpoint_health(endpoint: Endpoint, result: Result, now: datetime) -> bool:
    """Failing since the first failure of a run; disabled after 3 days of it, with an email.
    True when this failure disabled it."""
    if result.succeeded:
        if endpoint.failing_since is not None:
            Endpoint.objects.filter(pk=endpoint.pk).update(failing_since=None)
        return False
    if endpoint.failing_since is None:
        Endpoint.objects.filter(pk=endpoint.pk, failing_since__isnull=True).update(
            failing_since=now
        )
        return False
    if endpoint.disabled_at is None and now - endpoint.failing_since >= DISABLE_AFTER:
        disabled = Endpoint.objects.filter(pk=endpoint.pk, disabled_at__isnull=True).update(
            disabled_at=now
        )
        if disabled:
            transaction.on_commit(lambda: _email_disabled(endpoint))
            return True
    return False


def _email_disabled(endpoint: Endpoint) -> None:
    recipients = administrators_with_email(endpoint.tenant_id)
    if not recipients:
        return
    EmailMessage(
        subject=f"[Tally] Alert endpoint disabled: {endpoint.url}"[:200],
        body=(
            f"Every delivery to {endpoint.url} has failed since "
            f"{endpoint.failing_since:%Y-%m-%d %H:%M} UTC, so Tally stopped sending to it.\n"
            "Fix the receiver, then add it again on Settings > Notifications (the alert log "
            "shows each attempt and lets you redeliver).\n"
        ),
        from_email=settings.DEFAULT_FROM_EMAIL,
        to=recipients,
    ).send()


class DeliveryPending(DomainError):
    code = "delivery_pending"
    http_status = 409


def attempt_delivery(delivery_id: int, *, retries_done: int) -> None:
    """Try delivery `delivery_id` once; raise `RetryLater` when it should be tried again.

    `retries_done` is how many times the queue already retried this job: past the length of
    WEBHOOK_RETRY_SCHEDULE the delivery fails for good.
    """
    delivery = Delivery.objects.select_related("alert", "endpoint").filter(pk=delivery_id).first()
    if delivery is None or delivery.status != Delivery.Status.PENDING:
        return  # delivered, failed, or gone: nothing to do (a recovered duplicate job)
    endpoint = delivery.endpoint
    if delivery.channel != Delivery.Channel.EMAIL and (
        endpoint is None or endpoint.removed_at or endpoint.disabled_at
    ):
        _finish(delivery, Delivery.Status.FAILED, error="The endpoint was removed or disabled.")
        return
    started = timezone.now()
    attempt = Attempt.objects.create(delivery=delivery, started_at=started)  # committed first
    clock = time.monotonic()
    result = _send(delivery)
    latency_ms = round((time.monotonic() - clock) * 1000)
    now = timezone.now()
    schedule = settings.WEBHOOK_RETRY_SCHEDULE
    with transaction.atomic():
        disabled = endpoint is not None and _endpoint_health(endpoint, result, now)
        will_retry = result.retryable and not disabled and retries_done < len(schedule)
        if result.succeeded:
            outcome = Attempt.Outcome.SUCCEEDED
        else:
            outcome = Attempt.Outcome.RETRYING if will_retry else Attempt.Outcome.FAILED
        wait = None
        if will_retry:
            wait = result.retry_after
            if wait is None:
                wait = with_jitter(schedule[retries_done])
        Attempt.objects.filter(pk=attempt.pk).update(
            finished_at=now,
            outcome=outcome,
            status_code=result.status_code,
            latency_ms=latency_ms,
            response_excerpt=result.excerpt[:EXCERPT_BYTES],
            error=result.error[:EXCERPT_BYTES],
        )
        if result.succeeded:
            _finish(delivery, Delivery.Status.DELIVERED)
        elif will_retry:
            assert wait is not None
            Delivery.objects.filter(pk=delivery.pk).update(
                next_attempt_at=now + timedelta(seconds=wait), last_error=result.error
            )
        else:
            error = result.error + (" The endpoint is now disabled." if disabled else "")
            _finish(delivery, Delivery.Status.FAILED, error=error)
    if will_retry:
        assert wait is not None
        raise RetryLater(wait)


def _finish(delivery: Delivery, status: str, *, error: str = "") -> None:
    Delivery.objects.filter(pk=delivery.pk).update(
        status=status,
        delivered_at=timezone.now() if status == Delivery.Status.DELIVERED else None,
        next_attempt_at=None,
        last_error=error,
    )
