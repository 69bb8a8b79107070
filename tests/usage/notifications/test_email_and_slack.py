"""Email to the tenant's administrators (locmem backend) and Slack's message shape."""

import json

import pytest
from django.core import mail

from tests.factories import UserFactory
from tests.usage.notifications.conftest import cross
from usage.notifications.channels import email_set, endpoint_create
from usage.notifications.models import Delivery

pytestmark = [pytest.mark.django_db(transaction=True)]


def test_every_administrator_with_an_address_gets_the_alert_by_email(
    tenant_a, tenant_b, fast_retries, worker
):
    UserFactory(username="ada", email="ada@example.com", is_staff=True, tenant=tenant_a)
    UserFactory(username="eve", email="eve@example.com", is_staff=True, tenant=tenant_a)
    UserFactory(username="noaddress", email="", is_staff=True, tenant=tenant_a)
    UserFactory(username="bob", email="bob@example.com", tenant=tenant_a)  # member
    UserFactory(username="carol", email="carol@example.com", is_staff=True, tenant=tenant_b)
    cross(tenant_a, dimension="tasks", before=399, after=401, cap=500, jti="lic-9")
    worker(lambda: Delivery.objects.get().status == Delivery.Status.DELIVERED)
    assert sorted(m.to[0] for m in mail.outbox) == ["ada@example.com", "eve@example.com"]
    message = mail.outbox[0]
    assert message.subject == (
        "[Tally] Tenant A: tasks usage reached 80 % of its cap (401 of 500, 80.2 %)."
    )
    assert "quota.threshold_crossed" in message.body
    assert '"license_id": "lic-9"' in message.body
    assert message.from_email == fast_retries.DEFAULT_FROM_EMAIL
    attempt = Delivery.objects.get().attempts.get()
    assert attempt.outcome == "succeeded"
    assert attempt.response_excerpt == "Sent to 2 administrator(s)."


def test_email_turned_off_sends_none(tenant_a, fast_retries):
    UserFactory(username="ada", email="ada@example.com", is_staff=True, tenant=tenant_a)
    email_set(tenant=tenant_a, enabled=False)
    cross(tenant_a, dimension="tasks", before=399, after=401, cap=500)
    assert not Delivery.objects.exists()


def test_slack_gets_a_text_message(tenant_a, fast_retries, receiver, worker):
    hook = receiver()
    endpoint_create(tenant=tenant_a, url=hook.url, kind="slack")
    cross(tenant_a, dimension="hosts", before=9, after=10, cap=10, jti="lic-1")
    worker(lambda: len(hook.accepted()) == 2)
    bodies = sorted((json.loads(r.body) for r in hook.accepted()), key=str)
    assert bodies == [
        {"text": "Tenant A: hosts usage reached 100 % of its cap (10 of 10, 100.0 %)."},
        {"text": "Tenant A: hosts usage reached 95 % of its cap (10 of 10, 100.0 %)."},
    ]
    assert "webhook-signature" not in hook.accepted()[0].headers
