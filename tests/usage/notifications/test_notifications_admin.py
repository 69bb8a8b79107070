"""Operators see alerts, deliveries and attempts in the Django admin; never a secret."""

import pytest

from tests.usage.notifications.conftest import cross
from usage.notifications.channels import endpoint_create
from usage.notifications.jobs import sweep_cron
from usage.notifications.models import Alert, Delivery, Endpoint

pytestmark = [pytest.mark.django_db]


def test_operators_read_alerts_and_deliveries(page_client_for, operator, tenant_a):
    endpoint_create(tenant=tenant_a, url="https://93.184.215.14/hook")
    cross(tenant_a, dimension="hosts", before=7, after=8, cap=10)
    client = page_client_for(operator)
    alert = Alert.objects.get()
    listing = client.get("/admin/usage/alert/").content.decode()
    assert "Quota threshold crossed" in listing and "Tenant A" in listing
    detail = client.get(f"/admin/usage/alert/{alert.pk}/change/").content.decode()
    assert "https://93.184.215.14/hook" in detail
    delivery = Delivery.objects.get()
    assert client.get(f"/admin/usage/delivery/{delivery.pk}/change/").status_code == 200
    assert client.get("/admin/usage/attempt/").status_code == 200


def test_the_admin_never_shows_an_endpoints_secret(page_client_for, operator, tenant_a):
    endpoint = endpoint_create(tenant=tenant_a, url="https://93.184.215.14/hook").endpoint
    page = page_client_for(operator).get(f"/admin/usage/endpoint/{endpoint.pk}/change/")
    assert page.status_code == 200
    assert Endpoint.objects.get().secret not in page.content.decode()


def test_tenant_administrators_do_not_get_the_admin(page_client_for, admin_a):
    assert page_client_for(admin_a).get("/admin/usage/alert/").status_code == 302


@pytest.mark.parametrize(
    ("seconds", "cron"), [(60, "*/1 * * * *"), (15, "* * * * * */15"), (300, "*/5 * * * *")]
)
def test_the_sweep_period_becomes_a_cron(seconds, cron):
    assert sweep_cron(seconds) == cron
