"""`priced_reads`: the models and plans a process remembers, checked in every read's round
trip, and read anew when they changed."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.usage.usage_helpers import (
    EPOCH,
    event,
    model_with_plan,
    plan,
    price_of,
    record,
    ticket_for,
)
from usage.selectors import activity
from usage.selectors.history import usage_history
from usage.selectors.periods import priced_reads
from usage.services import llm_model_create

START = datetime(2026, 5, 1, 10, 7, tzinfo=UTC)
END = START + timedelta(hours=24)


def _usage(tenant, model: str, count: int = 6) -> list[dict]:
    ticket = ticket_for(tenant, external_id=f"INC-{model}")
    events = [
        event(START + timedelta(minutes=37 * i), model, input_tokens=100 + i, ticket=ticket.id)
        for i in range(count)
    ]
    record(tenant, events)
    return events


def _day(tenant):
    return activity(tenant=tenant, start=START, end=END, mode="cost", bucket="5m")


def _reads(captured) -> list[str]:
    """The queries of an activity but the test's own savepoints around it."""
    return [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]


def test_the_models_and_plans_are_read_once_then_checked_in_the_same_round_trip(tenant_a):
    model_with_plan(tenant_a, "gpt-4o")
    _usage(tenant_a, "gpt-4o")
    with CaptureQueriesContext(connection) as first:
        one = _day(tenant_a)
    with CaptureQueriesContext(connection) as second:
        again = _day(tenant_a)
    assert len(_reads(first)) == 2  # the models and plans, then the statements
    assert len(_reads(second)) == 1  # the statements, the models' and plans' check with them
    assert again == one and one.cost.total > 0


def test_a_plan_added_since_prices_the_next_activity(tenant_a):
    model = llm_model_create(tenant=tenant_a, name="gpt-4o", provider="OpenAI")
    events = _usage(tenant_a, "gpt-4o")
    before = _day(tenant_a)
    assert before.cost.total == 0 and before.unpriced[0].tokens.total > 0

    plan(model, ("2.5", "10", "1.25"), EPOCH)  # a first plan: it prices the usage before it

    after = _day(tenant_a)
    by_hand = sum(price_of(e, [(EPOCH, ("2.5", "10", "1.25"))]) for e in events)
    assert after.cost.total == by_hand and after.unpriced == ()
    assert sum(p.cost.total for p in after.series) == by_hand


def test_a_model_added_since_is_in_the_next_activity_and_history(tenant_a):
    model_with_plan(tenant_a, "gpt-4o")
    _usage(tenant_a, "gpt-4o")
    assert [m.name for m in _day(tenant_a).by_model] == ["gpt-4o"]
    now = END + timedelta(days=40)
    history = usage_history(tenant=tenant_a, now=now)

    model_with_plan(tenant_a, "claude", prices=("3", "15", "0.3"))
    _usage(tenant_a, "claude", count=3)

    assert {m.name for m in _day(tenant_a).by_model} == {"gpt-4o", "claude"}

    def may(history):
        return next(row.cycle for row in history.rows if row.cycle.month == "2026-05")

    assert may(usage_history(tenant=tenant_a, now=now)).cost.total > may(history).cost.total


def test_another_tenants_plans_are_not_this_ones(tenant_a, tenant_b):
    model_with_plan(tenant_a, "gpt-4o", prices=("1", "1", "1"))
    model_with_plan(tenant_b, "gpt-4o", prices=("2", "2", "2"))
    a_events, b_events = _usage(tenant_a, "gpt-4o"), _usage(tenant_b, "gpt-4o")
    for _ in range(2):  # read, then remembered
        assert _day(tenant_a).cost.total == sum(
            price_of(e, [(EPOCH, ("1", "1", "1"))]) for e in a_events
        )
        assert _day(tenant_b).cost.total == sum(
            price_of(e, [(EPOCH, ("2", "2", "2"))]) for e in b_events
        )


def test_a_priced_read_that_does_not_check_its_plans_is_refused(tenant_a):
    model_with_plan(tenant_a, "gpt-4o")
    with pytest.raises(RuntimeError, match=r"periods\.check\(\)"):
        priced_reads(tenant_a, START, END, lambda periods: Decimal(0))
