"""pricing_plan_create: exact Decimal prices from a quarter hour on; refusals name the field."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest

from tests.usage.usage_helpers import event, model_with_plan, plan, record, ticket_for
from usage.selectors import activity
from usage.services import UsageRefused, pricing_plan_create

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize("minute", [0, 15, 30, 45])
def test_a_plan_takes_effect_on_any_quarter_hour(tenant_a, minute):
    model = model_with_plan(tenant_a, "gpt", prices=None)
    created = plan(model, ("1", "2", "0.5"), T0.replace(minute=minute))
    assert created.input_per_million == Decimal("1")


@pytest.mark.parametrize(
    ("field", "value", "fragment"),
    [
        ("effective_at", T0.replace(minute=10), "quarter hour"),
        ("effective_at", T0.replace(second=1), "quarter hour"),
        ("effective_at", datetime(2026, 11, 1, 9, 0), "offset"),
        ("input_per_million", Decimal("-1"), "non-negative"),
        ("output_per_million", Decimal("0.0000001"), "6 decimal places"),
        ("cached_per_million", "abc", "decimal number"),
    ],
)
def test_a_bad_plan_is_refused_naming_the_field(tenant_a, field, value, fragment):
    model = model_with_plan(tenant_a, "gpt", prices=None)
    fields = {
        "input_per_million": Decimal("1"),
        "output_per_million": Decimal("1"),
        "cached_per_million": Decimal("1"),
        "effective_at": T0,
        field: value,
    }
    with pytest.raises(UsageRefused) as refused:
        pricing_plan_create(model=model, **fields)
    assert fragment in refused.value.errors[field][0]
    assert model.pricing_plans.count() == 0


def test_two_plans_at_the_same_time_are_refused(tenant_a):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    with pytest.raises(UsageRefused) as refused:
        plan(model, ("2", "2", "2"), T0)
    assert refused.value.code == "pricing_plan_exists"


def test_a_later_plan_prices_usage_from_its_time_on_and_never_rewrites_earlier_cost(tenant_a):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "0", "0"), effective_at=T0)
    ticket = ticket_for(tenant_a)
    record(
        tenant_a,
        [
            event(
                T0 + timedelta(minutes=14, seconds=59),
                "gpt",
                input_tokens=10**6,
                output_tokens=0,
                cached_tokens=0,
                ticket=ticket.id,
            ),
            event(
                T0 + timedelta(minutes=15),
                "gpt",
                input_tokens=10**6,
                output_tokens=0,
                cached_tokens=0,
                ticket=ticket.id,
            ),
        ],
    )
    window = {"tenant": tenant_a, "start": T0, "end": T0 + timedelta(hours=1), "mode": "cost"}
    assert activity(**window).cost.total == Decimal("2")
    plan(model, ("3", "0", "0"), T0 + timedelta(minutes=15))
    assert activity(**window).cost.total == Decimal("4")
    before = activity(**{**window, "end": T0 + timedelta(minutes=15)})
    assert before.cost.total == Decimal("1")


def test_usage_before_the_first_plan_is_unpriced_and_says_so(tenant_a):
    model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0 + timedelta(hours=1))
    ticket = ticket_for(tenant_a)
    record(tenant_a, [event(T0, "gpt", ticket=ticket.id)])
    result = activity(tenant=tenant_a, start=T0, end=T0 + timedelta(hours=2), mode="cost")
    assert result.cost.total == 0
    assert result.unpriced[0].message == (
        "Model gpt has no pricing plan before 2026-11-01 10:00 UTC: define one that starts earlier."
    )
