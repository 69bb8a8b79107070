"""budget.threshold_crossed (SPEC §7.1, §8.2): once per threshold and month, highest first."""

from datetime import UTC, datetime

import pytest
import time_machine

from tests.usage.budgets.budget_helpers import hard_budget, priced_model
from usage.budgets.services import authorize
from usage.notifications.models import Alert, AlertType

pytestmark = pytest.mark.django_db
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _authorize(tenant, request_id: str, *, input_tokens: int):
    # $1 per million input tokens (budget_helpers.PRICES), no output.
    return authorize(
        tenant=tenant,
        request_id=request_id,
        model="gpt-4o",
        input_tokens=input_tokens,
        max_output_tokens=0,
    )


def _budget_alerts(tenant):
    return list(Alert.objects.filter(tenant=tenant, type=AlertType.BUDGET_THRESHOLD).order_by("id"))


@time_machine.travel(NOW, tick=False)
def test_one_call_crossing_80_and_95_raises_both_highest_first_and_never_again(tenant_a):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")

    _authorize(tenant_a, "r-1", input_tokens=7_000_000)  # $7: 70 %, nothing
    assert _budget_alerts(tenant_a) == []
    _authorize(tenant_a, "r-2", input_tokens=2_600_000)  # $9.60: past 80 and 95
    _authorize(tenant_a, "r-3", input_tokens=100_000)  # $9.70: nothing new

    alerts = _budget_alerts(tenant_a)
    assert [(a.dimension, a.threshold, a.scope) for a in alerts] == [
        ("usd", 95, "2026-11-01"),
        ("usd", 80, "2026-11-01"),
    ]
    data = alerts[0].payload["data"]
    assert data["quota"] == "budget_usd"
    assert (data["current"], data["cap"], data["percent"]) == ("9.6", "10", 96.0)
    assert data["cycle_ends_at"] == "2026-12-01T00:00:00+00:00"


def test_a_new_month_is_a_new_budget_period_that_alerts_again(tenant_a):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")
    with time_machine.travel(NOW, tick=False):
        _authorize(tenant_a, "november", input_tokens=8_500_000)
    with time_machine.travel(datetime(2026, 12, 3, tzinfo=UTC), tick=False):
        _authorize(tenant_a, "december", input_tokens=8_500_000)

    assert [(a.threshold, a.scope) for a in _budget_alerts(tenant_a)] == [
        (80, "2026-11-01"),
        (80, "2026-12-01"),
    ]
