"""Settings > Notifications: staff only; a secret shown once; confirmation before removal."""

import pytest

from tests.usage.notifications.conftest import cross
from usage.notifications.channels import endpoint_create
from usage.notifications.models import Delivery, Endpoint, Mute

pytestmark = [pytest.mark.django_db]

PAGE = "/settings/notifications/"
PUBLIC_URL = "https://93.184.215.14/hook"


def test_anonymous_visitors_log_in_and_members_are_refused(client, member_a):
    assert client.get(PAGE).status_code == 302
    client.force_login(member_a)
    assert client.get(PAGE).status_code == 403


def test_an_administrator_adds_a_webhook_and_sees_the_secret_once(client, admin_a):
    client.force_login(admin_a)
    response = client.post(PAGE, {"url": PUBLIC_URL, "kind": "webhook"})
    assert response.status_code == 303
    page = client.get(PAGE)
    secret = Endpoint.objects.get().secret
    assert secret in page.content.decode()
    assert page["Cache-Control"].startswith("max-age=0")
    assert secret not in client.get(PAGE).content.decode()  # once


def test_a_refused_url_is_a_form_error(client, admin_a):
    client.force_login(admin_a)
    response = client.post(PAGE, {"url": "https://10.0.0.1/hook", "kind": "webhook"})
    assert response.status_code == 400
    assert "private, loopback or link-local" in response.content.decode()
    assert not Endpoint.objects.exists()


def test_removal_asks_for_confirmation_and_only_in_the_own_tenant(client, admin_a, tenant_b):
    client.force_login(admin_a)
    own = endpoint_create(tenant=admin_a.membership.tenant, url=PUBLIC_URL).endpoint
    other = endpoint_create(tenant=tenant_b, url=PUBLIC_URL).endpoint
    page = client.get(PAGE).content.decode()
    assert f"Remove {PUBLIC_URL}?" in page and "Yes, remove" in page
    assert client.post(f"{PAGE}endpoints/{other.pk}/remove/").status_code == 404
    assert client.post(f"{PAGE}endpoints/{own.pk}/remove/").status_code == 302
    own.refresh_from_db()
    other.refresh_from_db()
    assert own.removed_at is not None and other.removed_at is None


def test_the_log_shows_alerts_deliveries_and_mutes(client, admin_a, tenant_a):
    client.force_login(admin_a)
    endpoint_create(tenant=tenant_a, url=PUBLIC_URL)
    client.post(f"{PAGE}mutes/", {"type": "quota.threshold_crossed", "dimension": "tasks"})
    assert Mute.objects.get().threshold is None
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    cross(tenant_a, dimension="tasks", before=7, after=8, cap=10)
    page = client.get(PAGE).content.decode()
    assert page.count("quota.threshold_crossed</strong>") == 2
    assert "Muted: sent nowhere." in page
    assert "No attempt yet" in page
    assert Delivery.objects.count() == 1


def test_email_can_be_turned_off_and_on(client, admin_a):
    client.force_login(admin_a)
    client.post(f"{PAGE}email/", {})
    assert 'id="email-state">off' in client.get(PAGE).content.decode()
    client.post(f"{PAGE}email/", {"enabled": "on"})
    assert 'id="email-state">on' in client.get(PAGE).content.decode()


def test_redeliver_from_the_log(client, admin_a, tenant_a):
    client.force_login(admin_a)
    endpoint_create(tenant=tenant_a, url=PUBLIC_URL)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    delivery = Delivery.objects.get()
    pending = client.post(f"{PAGE}deliveries/{delivery.pk}/redeliver/", follow=True)
    assert "still being attempted" in pending.content.decode()
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.FAILED)
    again = client.post(f"{PAGE}deliveries/{delivery.pk}/redeliver/", follow=True)
    assert "Redelivery queued." in again.content.decode()
    assert Delivery.objects.get().status == Delivery.Status.PENDING
