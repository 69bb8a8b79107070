"""Webhook delivery against a real receiver on 127.0.0.1 and a real worker (SPEC §7.3)."""

import itertools
import json
from datetime import timedelta

import pytest
import time_machine
from django.core import mail
from django.utils import timezone

from tests.factories import UserFactory
from tests.usage.notifications.conftest import FAST_RETRIES, cross
from usage.notifications import delivery as delivery_module
from usage.notifications.channels import endpoint_create
from usage.notifications.models import Alert, Attempt, Delivery, Endpoint

pytestmark = [pytest.mark.django_db(transaction=True)]


def _webhook(tenant, receiver) -> tuple[Endpoint, str]:
    created = endpoint_create(tenant=tenant, url=receiver.url)
    receiver.secret = created.secret
    return created.endpoint, created.secret


def _webhook_delivery() -> Delivery:
    return Delivery.objects.get(channel=Delivery.Channel.WEBHOOK)


def test_a_receiver_down_then_up_gets_the_event_once_after_retries(
    tenant_a, fast_retries, receiver, worker
):
    hook = receiver(fail_first=3)
    _webhook(tenant_a, hook)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10, jti="lic-1")

    worker(lambda: _webhook_delivery().status != Delivery.Status.PENDING)

    delivery = _webhook_delivery()
    assert delivery.status == Delivery.Status.DELIVERED
    alert = Alert.objects.get()
    assert hook.accepted_ids() == [alert.event_id]
    assert [r.webhook_id for r in hook.requests] == [alert.event_id] * 4  # same id each time
    assert all(r.verified for r in hook.requests)
    assert json.loads(hook.accepted()[0].body) == alert.payload
    attempts = list(delivery.attempts.all())
    assert [a.outcome for a in attempts] == ["retrying"] * 3 + ["succeeded"]
    assert [a.status_code for a in attempts] == [503, 503, 503, 200]
    assert all(a.latency_ms is not None and a.finished_at for a in attempts)
    assert '"ok": false' in attempts[0].response_excerpt
    gaps = [(b.started_at - a.started_at).total_seconds() for a, b in itertools.pairwise(attempts)]
    assert all(gap >= FAST_RETRIES[0] for gap in gaps)  # the schedule's waits, plus jitter


def test_the_payload_is_the_documented_shape(tenant_a, fast_retries, receiver, worker):
    hook = receiver()
    _webhook(tenant_a, hook)
    cross(tenant_a, dimension="tasks", before=399, after=401, cap=500, jti="lic-7")
    worker(lambda: len(hook.accepted()) == 1)
    body = json.loads(hook.accepted()[0].body)
    assert body["id"].startswith("evt_")
    assert body["type"] == "quota.threshold_crossed"
    assert body["data"] == {
        "tenant": {"id": tenant_a.pk, "slug": "tenant-a", "name": "Tenant A"},
        "quota": "tasks",
        "threshold": 80,
        "current": 401,
        "cap": 500,
        "percent": 80.2,
        "license_id": "lic-7",
        "license_ends_at": None,
        "cycle_ends_at": None,
    }
    headers = hook.accepted()[0].headers
    assert headers["webhook-signature"].startswith("v1,")
    assert abs(int(headers["webhook-timestamp"]) - timezone.now().timestamp()) < 60


def test_a_4xx_answer_fails_at_once(tenant_a, fast_retries, receiver, worker):
    hook = receiver(fail_first=5, fail_status=410)
    _webhook(tenant_a, hook)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    worker(lambda: _webhook_delivery().status != Delivery.Status.PENDING)
    delivery = _webhook_delivery()
    assert delivery.status == Delivery.Status.FAILED
    assert [a.status_code for a in delivery.attempts.all()] == [410]
    assert delivery.last_error == "HTTP 410"
    assert Endpoint.objects.get().status == "failing"


def test_a_redirect_is_not_followed(tenant_a, fast_retries, receiver, worker):
    hook = receiver(fail_first=1, fail_status=302, fail_headers={"location": "http://10.0.0.1/"})
    _webhook(tenant_a, hook)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    worker(lambda: _webhook_delivery().status != Delivery.Status.PENDING)
    assert _webhook_delivery().status == Delivery.Status.FAILED
    assert len(hook.requests) == 1
    assert "redirects are not followed" in _webhook_delivery().last_error


def test_429_waits_as_long_as_retry_after_says(tenant_a, fast_retries, receiver, worker):
    hook = receiver(fail_first=1, fail_status=429, fail_headers={"retry-after": "2"})
    _webhook(tenant_a, hook)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    worker(lambda: len(hook.accepted()) == 1)
    first, second = _webhook_delivery().attempts.all()
    assert first.status_code == 429 and first.outcome == "retrying"
    assert (second.started_at - first.started_at).total_seconds() >= 2.0


def test_a_timeout_is_retried(tenant_a, fast_retries, receiver, worker, monkeypatch):
    monkeypatch.setattr(delivery_module, "TIMEOUT_SECONDS", 0.5)  # 10 s in production
    hook = receiver(delay_seconds=1.0)
    _webhook(tenant_a, hook)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    worker(lambda: Attempt.objects.count() >= 2)
    first = _webhook_delivery().attempts.first()
    assert first.outcome == "retrying"
    assert first.status_code is None and "Timed out" in first.error


def test_after_the_whole_schedule_the_delivery_fails(tenant_a, fast_retries, receiver, worker):
    hook = receiver(fail_first=100, fail_status=500)
    _webhook(tenant_a, hook)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    worker(lambda: _webhook_delivery().status != Delivery.Status.PENDING)
    attempts = list(_webhook_delivery().attempts.all())
    assert len(attempts) == len(FAST_RETRIES) + 1
    assert attempts[-1].outcome == "failed"
    assert _webhook_delivery().status == Delivery.Status.FAILED


def test_an_endpoint_failing_for_three_days_is_disabled_with_an_email(
    tenant_a, fast_retries, receiver, worker
):
    UserFactory(username="ada", email="ada@example.com", is_staff=True, tenant=tenant_a)
    hook = receiver(fail_first=100, fail_status=500)
    endpoint, _ = _webhook(tenant_a, hook)
    Endpoint.objects.filter(pk=endpoint.pk).update(
        failing_since=timezone.now() - timedelta(days=3, minutes=1)
    )
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    worker(lambda: _webhook_delivery().status != Delivery.Status.PENDING)
    endpoint.refresh_from_db()
    assert endpoint.status == "disabled"
    assert [a.outcome for a in _webhook_delivery().attempts.all()] == ["failed"]
    disabled_mail = [m for m in mail.outbox if "endpoint disabled" in m.subject]
    assert [m.to for m in disabled_mail] == [["ada@example.com"]]
    assert hook.url in disabled_mail[0].body


def test_a_success_clears_failing(tenant_a, fast_retries, receiver, worker):
    hook = receiver(fail_first=1)
    endpoint, _ = _webhook(tenant_a, hook)
    with time_machine.travel(timezone.now(), tick=True):
        cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
        worker(lambda: _webhook_delivery().status == Delivery.Status.DELIVERED)
    endpoint.refresh_from_db()
    assert endpoint.status == "healthy"
