"""What the schema fuzzer found, kept: the API refuses what its schema says it refuses."""

import pytest

from tasks.models import Ticket
from tests.tasks.test_tickets_delivery import TICKET, deliver
from tests.tasks.ticket_helpers import gateway_for
from usage.budgets.models import Budget


@pytest.fixture
def admin(api_client_for, admin_a):
    return api_client_for(admin_a)


@pytest.mark.parametrize("path", ["/api/v1/usage/export.csv", "/api/v1/usage/activity/"])
def test_an_empty_range_time_is_refused_not_read_as_the_default(admin, path):
    response = admin.get(path, {"start": ""})
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_range"


def test_an_empty_page_is_404_not_page_one(admin):
    response = admin.get("/api/v1/tasks/", {"page": ""})
    assert response.status_code == 404
    assert admin.get("/api/v1/tasks/", {"page": "1"}).status_code == 200


@pytest.mark.parametrize("limit", [5, "", " 5", 5.5])
def test_money_is_a_decimal_string(admin, tenant_a, limit):
    response = admin.put("/api/v1/usage/budget/", {"limit_usd": limit}, format="json")
    assert response.status_code == 400
    assert "limit_usd" in response.json()["errors"]
    assert not Budget.objects.filter(tenant=tenant_a).exists()


def test_a_null_event_record_is_a_field_error_not_a_500(admin):
    response = admin.post("/api/v1/usage/events/", {"events": [None]}, format="json")
    assert response.status_code == 400
    assert response.json()["errors"] == {
        "events": {"0": {"non_field_errors": ["This field may not be null."]}}
    }


@pytest.mark.parametrize(
    "extra",
    [{"priority": "high"}, {"recurrence": {"every_minutes": 10, "cron": "* * * * *"}}],
)
def test_a_delivery_with_an_unknown_field_is_refused(tenant_a, extra):
    gateway, secret = gateway_for(tenant_a)
    response = deliver(gateway.pk, secret, {**TICKET, **extra})
    assert response.status_code == 400
    assert not Ticket.objects.exists()


def test_the_schema_declares_refused_unknown_fields_and_decimal_patterns(admin):
    components = admin.get("/api/schema/?format=json").json()["components"]["schemas"]
    assert components["TicketDeliveryRequest"]["additionalProperties"] is False
    assert components["RecurrenceRequest"]["additionalProperties"] is False
    pattern = components["PricingPlanInputRequest"]["properties"]["input_per_million"]["pattern"]
    assert pattern == r"^-?(?:\d{1,8}(?:\.\d{0,6})?|\.\d{1,6})$"
