"""The tickets part of seed_demo leaves something to see on every tickets and schedules screen."""

from rest_framework.test import APIClient

from tasks.models import Schedule, Ticket
from usage.demo import seed_tickets


def test_the_demo_has_tickets_in_each_status_and_a_ticking_schedule(tenant_a):
    gateway, secret = seed_tickets(tenant_a)
    statuses = set(Ticket.objects.filter(tenant=tenant_a).values_list("status", flat=True))
    assert statuses == {"pending", "converted", "rejected"}
    schedule = Schedule.objects.get(tenant=tenant_a)
    assert schedule.every_minutes == 15
    assert schedule.ticks.get().status == "created"
    delivery = APIClient().post(
        f"/api/v1/gateways/{gateway.pk}/tickets/",
        {"external_id": "OPS-200", "subject": "A ticket from curl"},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert delivery.status_code == 202
