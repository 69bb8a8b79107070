"""The §6.1 notifications endpoints: administrators only, tenant-isolated, the error format."""

import pytest
from django.db import connection

from tests.usage.notifications.conftest import cross
from usage.notifications.channels import endpoint_create
from usage.notifications.models import Delivery, Endpoint

pytestmark = [pytest.mark.django_db]

BASE = "/api/v1/notifications"
PUBLIC_URL = "https://93.184.215.14/hook"  # a public address: no DNS needed


@pytest.fixture
def endpoint_b(tenant_b):
    return endpoint_create(tenant=tenant_b, url=PUBLIC_URL).endpoint


@pytest.mark.parametrize(
    ("who", "status"), [("anonymous", 401), ("member_a", 403), ("operator", 403), ("admin_a", 200)]
)
@pytest.mark.parametrize("path", ["/endpoints/", "/alerts/", "/deliveries/", "/mutes/"])
def test_only_administrators_of_a_tenant_read_notifications(
    cast, api_client_for, who, status, path
):
    response = api_client_for(cast[who]).get(BASE + path)
    assert response.status_code == status
    if status != 200:
        assert set(response.json()) >= {"code", "detail"}


def test_adding_a_webhook_shows_its_secret_once(admin_a, api_client_for):
    client = api_client_for(admin_a)
    response = client.post(f"{BASE}/endpoints/", {"url": PUBLIC_URL}, format="json")
    assert response.status_code == 201
    assert response["Cache-Control"] == "no-store"
    body = response.json()
    assert body["secret"].startswith("whsec_")
    assert body["kind"] == "webhook" and body["status"] == "healthy"
    listed = client.get(f"{BASE}/endpoints/").json()
    assert [e["id"] for e in listed] == [body["id"]]
    assert "secret" not in listed[0]
    rotated = client.post(f"{BASE}/endpoints/{body['id']}/rotate-secret/").json()
    assert rotated["secret"].startswith("whsec_") and rotated["secret"] != body["secret"]


@pytest.mark.parametrize(
    ("url", "why"),
    [
        ("http://93.184.215.14/hook", "https"),
        ("https://127.0.0.1/hook", "loopback"),
        ("https://10.1.2.3/hook", "private"),
        ("https://169.254.169.254/latest", "link-local"),
        ("https://[::1]/hook", "loopback"),
        ("https://localhost/hook", "a name that resolves to loopback"),
        ("https://user:pw@93.184.215.14/hook", "password"),
    ],
)
def test_webhook_urls_must_be_public_https(admin_a, api_client_for, url, why):
    response = api_client_for(admin_a).post(f"{BASE}/endpoints/", {"url": url}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "destination_refused"
    assert not Endpoint.objects.exists()


def test_private_addresses_are_allowed_when_configured(admin_a, api_client_for, settings):
    settings.WEBHOOK_ALLOW_PRIVATE = True
    response = api_client_for(admin_a).post(
        f"{BASE}/endpoints/", {"url": "http://127.0.0.1:9/hook"}, format="json"
    )
    assert response.status_code == 201


def test_another_tenants_endpoint_is_a_404(admin_a, api_client_for, endpoint_b):
    client = api_client_for(admin_a)
    assert client.delete(f"{BASE}/endpoints/{endpoint_b.pk}/").status_code == 404
    assert client.post(f"{BASE}/endpoints/{endpoint_b.pk}/test/").status_code == 404
    endpoint_b.refresh_from_db()
    assert endpoint_b.removed_at is None


def test_removing_an_endpoint_keeps_its_deliveries(admin_a, api_client_for, tenant_a):
    endpoint = endpoint_create(tenant=tenant_a, url=PUBLIC_URL).endpoint
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    client = api_client_for(admin_a)
    assert client.delete(f"{BASE}/endpoints/{endpoint.pk}/").status_code == 204
    assert client.get(f"{BASE}/endpoints/").json() == []
    assert Delivery.objects.filter(endpoint=endpoint).count() == 1


def test_a_test_event_is_logged_and_enqueued(admin_a, api_client_for, tenant_a):
    endpoint = endpoint_create(tenant=tenant_a, url=PUBLIC_URL).endpoint
    client = api_client_for(admin_a)
    response = client.post(f"{BASE}/endpoints/{endpoint.pk}/test/")
    assert response.status_code == 202
    assert response.json()["type"] == "test"
    deliveries = client.get(f"{BASE}/deliveries/").json()["results"]
    assert [(d["channel"], d["status"], d["event_id"]) for d in deliveries] == [
        ("webhook", "pending", response.json()["event_id"])
    ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM procrastinate_jobs WHERE status = 'todo'")
        assert cursor.fetchone() == (1,)


def test_alerts_and_deliveries_are_the_tenants_own(admin_a, admin_b, api_client_for, tenant_a):
    endpoint_create(tenant=tenant_a, url=PUBLIC_URL)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    alerts = api_client_for(admin_a).get(f"{BASE}/alerts/").json()["results"]
    assert [(a["type"], a["threshold"]) for a in alerts] == [("quota.threshold_crossed", 80)]
    assert api_client_for(admin_b).get(f"{BASE}/alerts/").json()["results"] == []
    delivery = Delivery.objects.get()
    redeliver = f"{BASE}/deliveries/{delivery.pk}/redeliver/"
    assert api_client_for(admin_b).post(redeliver).status_code == 404


def test_redeliver_waits_for_a_pending_delivery_then_sends_again(admin_a, api_client_for, tenant_a):
    endpoint_create(tenant=tenant_a, url=PUBLIC_URL)
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    delivery = Delivery.objects.get()
    client = api_client_for(admin_a)
    pending = client.post(f"{BASE}/deliveries/{delivery.pk}/redeliver/")
    assert pending.status_code == 409 and pending.json()["code"] == "delivery_pending"
    Delivery.objects.filter(pk=delivery.pk).update(status=Delivery.Status.FAILED)
    again = client.post(f"{BASE}/deliveries/{delivery.pk}/redeliver/")
    assert again.status_code == 202 and again.json()["status"] == "pending"


def test_mutes_are_replaced_as_a_whole(admin_a, api_client_for):
    client = api_client_for(admin_a)
    assert client.get(f"{BASE}/mutes/").json() == {"mutes": [], "email_enabled": True}
    mutes = [
        {"type": "quota.threshold_crossed", "dimension": "tasks", "threshold": 80},
        {"type": "license.expiring", "threshold": 30},
    ]
    response = client.put(f"{BASE}/mutes/", {"mutes": mutes, "email_enabled": False}, format="json")
    assert response.status_code == 200
    assert response.json()["email_enabled"] is False
    assert sorted(m["type"] for m in response.json()["mutes"]) == [
        "license.expiring", "quota.threshold_crossed",
    ]  # fmt: skip
    bad = client.put(f"{BASE}/mutes/", {"mutes": [{"type": "nope"}]}, format="json")
    assert bad.status_code == 400 and bad.json()["code"] == "invalid"
    assert len(client.get(f"{BASE}/mutes/").json()["mutes"]) == 2
