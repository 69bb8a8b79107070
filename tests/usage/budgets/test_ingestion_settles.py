"""Usage events settle their reservations and count against the month (SPEC §8.2)."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from tests.usage.budgets.budget_helpers import hard_budget, period_of, priced_model
from usage.budgets.services import authorize

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _event(request_id: str, *, input_tokens: int, output_tokens: int) -> dict:
    return {
        "request_id": request_id,
        "occurred_at": NOW.isoformat(),
        "model": "gpt-4o",
        "input_tokens": input_tokens,
        "output_tokens": output_tokens,
        "cached_tokens": 0,
    }


@time_machine.travel(NOW, tick=False)
def test_an_event_through_the_api_replaces_its_reservation_with_its_actual_cost(
    tenant_a, admin_a, api_client_for
):
    priced_model(tenant_a)  # $1/M input, $2/M output
    hard_budget(tenant_a, "10")
    authorize(
        tenant=tenant_a,
        request_id="r-1",
        model="gpt-4o",
        input_tokens=300_000,
        max_output_tokens=100_000,
    )
    assert period_of(tenant_a).reserved_usd == Decimal("0.5")

    events = [
        _event("r-1", input_tokens=300_000, output_tokens=10_000),  # $0.30 + $0.02
        _event("r-2", input_tokens=1_000_000, output_tokens=0),  # never authorized: $1
    ]
    response = api_client_for(admin_a).post(
        "/api/v1/usage/events/", {"events": events}, format="json"
    )

    assert response.status_code in (200, 201, 202), response.json()
    period = period_of(tenant_a)
    assert period.reserved_usd == 0
    assert period.spent_usd == Decimal("1.32")
    assert period.spent_tokens == 1_310_000


@time_machine.travel(NOW, tick=False)
def test_a_redelivered_batch_counts_nothing_twice(tenant_a, admin_a, api_client_for):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")
    events = [_event("r-1", input_tokens=1_000_000, output_tokens=0)]
    client = api_client_for(admin_a)

    client.post("/api/v1/usage/events/", {"events": events}, format="json")
    client.post("/api/v1/usage/events/", {"events": events}, format="json")

    assert period_of(tenant_a).spent_usd == Decimal("1")
