"""pricing_plan_create: exact Decimal prices from a quarter hour on; refusals name the field."""

import csv
import io
import threading
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection, transaction
from django.utils import timezone

from tasks.models import Ticket
from tests.usage.usage_helpers import (
    event,
    model_with_plan,
    plan,
    post_plan,
    record,
    scheduled_plan,
    ticket_for,
)
from usage.models import LlmModel
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
    tokens = {"input_tokens": 10**6, "output_tokens": 0, "cached_tokens": 0}
    window = {"tenant": tenant_a, "start": T0, "end": T0 + timedelta(hours=1), "mode": "cost"}
    record(
        tenant_a, [event(T0 + timedelta(minutes=14, seconds=59), "gpt", ticket=ticket.id, **tokens)]
    )
    assert activity(**window).cost.total == Decimal("1")

    scheduled_plan(model, ("3", "0", "0"), T0 + timedelta(minutes=15))
    record(tenant_a, [event(T0 + timedelta(minutes=15), "gpt", ticket=ticket.id, **tokens)])

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


# A plan may not take effect before now: usage already recorded keeps its price (SPEC §5.3).
NOW = datetime(2026, 12, 1, 10, 7, tzinfo=UTC)
CURRENT_QUARTER = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)
NEXT_QUARTER = datetime(2026, 12, 1, 10, 15, tzinfo=UTC)


@pytest.fixture
def frozen_now():
    with time_machine.travel(NOW, tick=False):
        yield NOW


@pytest.mark.parametrize(
    "effective_at", [CURRENT_QUARTER, NOW - timedelta(days=3, minutes=7), T0 + timedelta(hours=1)]
)
def test_a_plan_taking_effect_before_now_is_refused_once_the_model_has_a_plan(
    tenant_a, frozen_now, effective_at
):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    with pytest.raises(UsageRefused) as refused:
        plan(model, ("50", "50", "50"), effective_at)
    assert refused.value.code == "pricing_plan_in_the_past"
    message = refused.value.errors["effective_at"][0]
    assert message.startswith("A pricing plan cannot take effect in the past")
    assert "2026-12-01 10:15" in message  # the earliest allowed: the next quarter hour
    assert refused.value.detail == message
    assert model.pricing_plans.count() == 1


def test_a_plan_from_the_next_quarter_hour_on_is_accepted(tenant_a, frozen_now):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    assert plan(model, ("2", "2", "2"), NEXT_QUARTER).effective_at == NEXT_QUARTER
    assert plan(model, ("3", "3", "3"), NEXT_QUARTER + timedelta(days=30)).input_per_million == 3


def test_a_plan_on_the_quarter_hour_that_is_now_exactly_is_accepted(tenant_a):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    with time_machine.travel(CURRENT_QUARTER, tick=False):
        assert plan(model, ("2", "2", "2"), CURRENT_QUARTER).effective_at == CURRENT_QUARTER


def test_a_models_first_plan_may_start_in_the_past_it_prices_only_unpriced_usage(
    tenant_a, frozen_now
):
    model = model_with_plan(tenant_a, "gpt", prices=None)
    assert plan(model, ("1", "1", "1"), T0).effective_at == T0


def test_a_past_plan_before_the_models_first_plan_is_accepted(tenant_a, frozen_now):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    earlier = plan(model, ("2", "2", "2"), T0 - timedelta(days=1))
    assert earlier.effective_at == T0 - timedelta(days=1)
    # The earlier plan is now the first: a plan between the two would reprice its usage.
    with pytest.raises(UsageRefused) as refused:
        plan(model, ("3", "3", "3"), T0 - timedelta(hours=1))
    assert refused.value.code == "pricing_plan_in_the_past"


def test_a_refused_back_dated_plan_changes_neither_activity_nor_the_export(
    admin_a, tenant_a, api_client_for, frozen_now
):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"))
    ticket = ticket_for(tenant_a)
    at = NOW - timedelta(days=2)
    tokens = {"input_tokens": 10**6, "output_tokens": 0, "cached_tokens": 0}
    record(tenant_a, [event(at, "gpt", request_id="r-1", ticket=ticket.id, **tokens)])
    client = api_client_for(admin_a)
    window = {"start": (NOW - timedelta(days=5)).isoformat(), "end": NOW.isoformat()}

    def costs():
        shown = client.get("/api/v1/usage/activity/", {**window, "mode": "cost"}).json()
        export = client.get("/api/v1/usage/export.csv", window)
        rows = list(csv.DictReader(io.StringIO(b"".join(export.streaming_content).decode())))
        return shown["totals"]["cost"]["total"], [row["cost_usd"] for row in rows]

    assert costs() == ("1", ["1"])
    response = post_plan(client, model, "2026-11-28T10:00:00+00:00", price="50")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "pricing_plan_in_the_past"
    assert body["errors"]["effective_at"][0].startswith("A pricing plan cannot take effect")
    assert costs() == ("1", ["1"])
    assert model.pricing_plans.count() == 1


# Usage may be dated up to a day ahead (clock skew), so "not before now" is not enough:
# a plan must also start after the model's latest recorded usage (review 2, finding 1).
MILLION_INPUT = {"input_tokens": 10**6, "output_tokens": 0, "cached_tokens": 0}
AHEAD = NOW + timedelta(hours=12)  # 2026-12-01 22:07 UTC, recorded at 10:07


def _on_a_ticket(tenant, at, model="gpt"):
    """An event of a million input tokens on a ticket (usage off tickets has no cost)."""
    ticket = Ticket.objects.filter(tenant=tenant).first() or ticket_for(tenant)
    return event(at, model, ticket=ticket.id, **MILLION_INPUT)


def _cost_today(tenant):
    window = {"start": CURRENT_QUARTER, "end": CURRENT_QUARTER + timedelta(days=2)}
    return activity(tenant=tenant, mode="cost", **window).cost.total


def test_a_plan_is_refused_before_usage_already_recorded_with_a_later_time(tenant_a, frozen_now):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    record(tenant_a, [_on_a_ticket(tenant_a, AHEAD)])
    assert _cost_today(tenant_a) == Decimal("1")

    with pytest.raises(UsageRefused) as refused:
        plan(model, ("50", "50", "50"), NEXT_QUARTER)

    assert refused.value.code == "pricing_plan_in_the_past"
    message = refused.value.errors["effective_at"][0]
    assert refused.value.detail == message
    assert message == (
        "A pricing plan cannot take effect before usage already recorded: gpt has usage "
        "recorded up to 2026-12-01 22:07 (UTC), and it keeps the price it had. Choose "
        "2026-12-01 22:15 (UTC) or later, or a time before the first plan of gpt "
        "(2026-11-01 09:00 (UTC)), which only prices usage that had no price."
    )
    assert _cost_today(tenant_a) == Decimal("1")
    assert model.pricing_plans.count() == 1


@pytest.mark.parametrize(
    ("latest", "refused_at", "accepted_at"),
    [
        (
            AHEAD,
            datetime(2026, 12, 1, 22, 0, tzinfo=UTC),
            datetime(2026, 12, 1, 22, 15, tzinfo=UTC),
        ),
        # On the quarter hour exactly: a plan from that instant would price the event.
        (
            datetime(2026, 12, 1, 22, 15, tzinfo=UTC),
            datetime(2026, 12, 1, 22, 15, tzinfo=UTC),
            datetime(2026, 12, 1, 22, 30, tzinfo=UTC),
        ),
    ],
)
def test_a_plan_from_the_quarter_hour_after_the_latest_recorded_usage_is_accepted(
    tenant_a, frozen_now, latest, refused_at, accepted_at
):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    record(
        tenant_a,
        [_on_a_ticket(tenant_a, NOW), _on_a_ticket(tenant_a, latest)],
    )
    with pytest.raises(UsageRefused) as refused:
        plan(model, ("50", "50", "50"), refused_at)
    assert f"{accepted_at:%Y-%m-%d %H:%M} (UTC) or later" in refused.value.detail

    assert plan(model, ("50", "50", "50"), accepted_at).effective_at == accepted_at
    assert _cost_today(tenant_a) == Decimal("2")  # both events keep the price they had


def test_usage_of_another_model_does_not_hold_back_a_plan(tenant_a, frozen_now):
    gpt = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    model_with_plan(tenant_a, "claude", prices=("1", "1", "1"), effective_at=T0)
    record(tenant_a, [_on_a_ticket(tenant_a, AHEAD, "claude")])

    assert plan(gpt, ("2", "2", "2"), NEXT_QUARTER).effective_at == NEXT_QUARTER


def test_a_plan_before_the_models_first_plan_is_accepted_despite_later_usage(tenant_a, frozen_now):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    record(tenant_a, [_on_a_ticket(tenant_a, AHEAD)])

    earlier = plan(model, ("2", "2", "2"), T0 - timedelta(days=1))

    assert earlier.effective_at == T0 - timedelta(days=1)
    assert _cost_today(tenant_a) == Decimal("1")


def test_usage_recorded_after_a_plan_is_created_is_priced_by_it(tenant_a, frozen_now):
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"), effective_at=T0)
    plan(model, ("50", "50", "50"), NEXT_QUARTER)

    record(tenant_a, [_on_a_ticket(tenant_a, AHEAD)])

    assert _cost_today(tenant_a) == Decimal("50")


@pytest.mark.django_db(transaction=True)
def test_a_batch_of_usage_cannot_commit_while_a_plan_holds_the_model(tenant_a):
    # pricing_plan_create reads the latest usage under this lock: a batch committing in
    # between would be priced by a plan that did not see it.
    model = model_with_plan(tenant_a, "gpt", prices=("1", "1", "1"))
    locked, release, committed = threading.Event(), threading.Event(), threading.Event()

    def hold_the_model_as_a_plan_does():
        try:
            with transaction.atomic():
                LlmModel.objects.select_for_update().get(pk=model.pk)
                locked.set()
                release.wait(10)
        finally:
            connection.close()

    def record_a_batch():
        try:
            record(tenant_a, [_on_a_ticket(tenant_a, timezone.now() + timedelta(hours=12))])
            committed.set()
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_model_as_a_plan_does)
    holder.start()
    assert locked.wait(10)
    recorder = threading.Thread(target=record_a_batch)
    recorder.start()
    assert not committed.wait(0.5)  # the batch waits for the plan
    release.set()
    holder.join()
    recorder.join()
    assert committed.is_set()
