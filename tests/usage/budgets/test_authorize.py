"""authorize, settle and expire (SPEC §8.2): exact Decimal, hard and soft, idempotent."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tests.usage.budgets.budget_helpers import call, hard_budget, period_of, priced_model
from tests.usage.usage_helpers import model_with_plan, plan
from usage.budgets.models import BudgetPeriod, Reservation
from usage.budgets.services import (
    BudgetExhausted,
    BudgetRefused,
    Settled,
    authorize,
    budget_set,
    call_estimate,
    reservations_expire,
    reservations_settle,
)
from usage.budgets.signals import budget_usage_changed

pytestmark = [pytest.mark.django_db]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False) as traveller:
        yield traveller


@pytest.fixture
def model(tenant_a):
    return priced_model(tenant_a)


def test_a_call_reserves_its_estimate_under_the_plan_in_force(tenant_a, model):
    hard_budget(tenant_a, "10")

    # 300,000 input at $1/M + 100,000 output at $2/M = $0.30 + $0.20.
    result = authorize(
        tenant=tenant_a,
        request_id="r-1",
        model="gpt-4o",
        input_tokens=300_000,
        max_output_tokens=100_000,
    )

    assert result.allowed and result.priced
    assert result.reserved_usd == Decimal("0.5")
    assert result.remaining_usd == Decimal("9.5")
    assert result.period_ends_at == datetime(2026, 12, 1, tzinfo=UTC)
    period = period_of(tenant_a)
    assert (period.reserved_usd, period.reserved_tokens, period.spent_usd) == (
        Decimal("0.5"),
        400_000,
        0,
    )
    reservation = Reservation.objects.get(pk=result.reservation_id)
    assert (reservation.request_id, reservation.status) == ("r-1", "reserved")


def test_an_unpriced_model_reserves_nothing_and_says_so(tenant_a):
    model_with_plan(tenant_a, "local-llama", prices=None)
    hard_budget(tenant_a, "10")

    result = authorize(
        tenant=tenant_a, request_id="r", model="local-llama", input_tokens=10, max_output_tokens=5
    )

    assert (result.allowed, result.priced, result.reserved_usd) == (True, False, Decimal(0))
    assert period_of(tenant_a).reserved_tokens == 15


def test_a_hard_budget_refuses_the_call_that_would_pass_it_and_reserves_nothing(tenant_a, model):
    hard_budget(tenant_a, "10")
    call(tenant_a, "a", "6")
    call(tenant_a, "b", "4")  # exactly the limit: allowed

    with pytest.raises(BudgetExhausted) as refused:
        call(tenant_a, "c", "0.04")

    error = refused.value.as_dict()
    assert error["code"] == "budget_exhausted"
    assert (error["spent_usd"], error["reserved_usd"], error["budget"]["limit_usd"]) == (
        "0",
        "10",
        "10",
    )
    assert "November 2026" in error["detail"]
    assert period_of(tenant_a).reserved_usd == Decimal(10)
    assert not Reservation.objects.filter(request_id="c").exists()


def test_a_soft_budget_allows_past_the_limit(tenant_a, model):
    hard_budget(tenant_a, "1", kind="soft")

    result = call(tenant_a, "a", "5")

    assert result.allowed and result.remaining_usd == 0
    assert period_of(tenant_a).reserved_usd == Decimal(5)


def test_no_budget_allows_and_still_counts_what_is_in_flight(tenant_a, model):
    result = call(tenant_a, "a", "2")

    assert result.allowed and result.remaining_usd is None
    assert period_of(tenant_a).reserved_usd == Decimal(2)


def test_a_token_budget_refuses_on_tokens(tenant_a, model):
    hard_budget(tenant_a, None, tokens=1_000_000)
    call(tenant_a, "a", "1")  # 750,000 tokens

    with pytest.raises(BudgetExhausted) as refused:
        call(tenant_a, "b", "1")

    assert refused.value.as_dict()["reserved_tokens"] == 750_000
    assert "tokens" in refused.value.detail


def test_asking_again_for_a_request_id_reserves_nothing_more(tenant_a, model):
    hard_budget(tenant_a, "10")
    first = call(tenant_a, "same", "3")

    again = call(tenant_a, "same", "3")

    assert again.reservation_id == first.reservation_id
    assert again.reserved_usd == Decimal(3)
    assert period_of(tenant_a).reserved_usd == Decimal(3)
    assert Reservation.objects.filter(tenant=tenant_a).count() == 1


def test_an_unknown_model_or_ticket_is_refused_naming_the_field(tenant_a, model):
    with pytest.raises(BudgetRefused) as refused:
        authorize(
            tenant=tenant_a, request_id="x", model="gpt-9", input_tokens=1, max_output_tokens=1
        )
    assert "model" in refused.value.errors
    with pytest.raises(BudgetRefused) as refused:
        call(tenant_a, "x", "1", ticket=999_999)
    assert "ticket" in refused.value.errors


def test_settling_replaces_the_estimate_with_the_actual_cost_exactly(tenant_a, model):
    hard_budget(tenant_a, "10")
    call(tenant_a, "a", "3")
    call(tenant_a, "b", "2")

    reservations_settle(
        tenant=tenant_a,
        settled=[
            Settled("a", Decimal("1.234567890123"), 1000, NOW),
            ("unmatched", Decimal("0.000000000001"), 7, NOW),
        ],
    )

    period = period_of(tenant_a)
    assert period.spent_usd == Decimal("1.234567890124")
    assert period.reserved_usd == Decimal(2)
    assert period.spent_tokens == 1007
    assert period.reserved_tokens == 1_500_000  # b: $2 = 1,000,000 in + 500,000 out
    settled = Reservation.objects.get(request_id="a")
    assert (settled.status, settled.actual_usd) == ("settled", Decimal("1.234567890123"))
    # Settling the same request_id again gives nothing back twice (only spend is added).
    reservations_settle(tenant=tenant_a, settled=[("a", Decimal(0), 0, NOW)])
    assert period_of(tenant_a).reserved_usd == Decimal(2)


def test_usage_over_a_hard_budget_is_counted_never_refused(tenant_a, model):
    hard_budget(tenant_a, "1")
    call(tenant_a, "a", "1")

    reservations_settle(tenant=tenant_a, settled=[("a", Decimal("7.5"), 10, NOW)])

    period = period_of(tenant_a)
    assert (period.spent_usd, period.reserved_usd) == (Decimal("7.5"), 0)
    with pytest.raises(BudgetExhausted):
        call(tenant_a, "b", "0")  # even a free call: the budget is passed


def test_unsettled_reservations_expire_after_fifteen_minutes_giving_back_the_estimate(
    tenant_a, model, frozen
):
    hard_budget(tenant_a, "10")
    call(tenant_a, "old", "3")
    frozen.shift(timedelta(minutes=10))
    call(tenant_a, "new", "2")

    frozen.shift(timedelta(minutes=5, seconds=1))
    assert reservations_expire() == 1

    period = period_of(tenant_a)
    assert (period.reserved_usd, period.reserved_tokens) == (Decimal(2), 1_500_000)
    assert Reservation.objects.get(request_id="old").status == "expired"
    assert reservations_expire() == 0  # nothing twice
    # Its usage arriving late is spend, and gives nothing back again.
    reservations_settle(tenant=tenant_a, settled=[("old", Decimal("2.5"), 9, NOW)])
    period = period_of(tenant_a)
    assert (period.spent_usd, period.reserved_usd) == (Decimal("2.5"), Decimal(2))


def test_a_new_month_is_a_new_period_with_no_reset_job(tenant_a, model, frozen):
    hard_budget(tenant_a, "10")
    call(tenant_a, "a", "10")
    with pytest.raises(BudgetExhausted):
        call(tenant_a, "b", "1")

    frozen.move_to(datetime(2026, 12, 1, 0, 0, 1, tzinfo=UTC))
    result = call(tenant_a, "b", "1")

    assert result.remaining_usd == Decimal(9)
    assert result.period_ends_at == datetime(2027, 1, 1, tzinfo=UTC)
    months = BudgetPeriod.objects.filter(tenant=tenant_a).values_list("month", flat=True)
    assert sorted(months) == [date(2026, 11, 1), date(2026, 12, 1)]


def test_the_period_is_the_month_in_the_tenant_zone(tenant_a, model, frozen):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    frozen.move_to(datetime(2026, 11, 30, 23, 30, tzinfo=UTC))  # 1 December in Paris

    result = call(tenant_a, "a", "1")

    assert result.period_ends_at == datetime(2026, 12, 31, 23, 0, tzinfo=UTC)
    assert period_of(tenant_a).month == date(2026, 12, 1)


def test_changing_the_budget_mid_month_applies_to_the_current_period(tenant_a, model):
    hard_budget(tenant_a, "5")
    call(tenant_a, "a", "5")
    with pytest.raises(BudgetExhausted):
        call(tenant_a, "b", "1")

    hard_budget(tenant_a, "6")
    assert call(tenant_a, "b", "1").remaining_usd == 0

    budget_set(tenant=tenant_a, limit_usd=None, limit_tokens=None, kind="hard")  # removed
    assert call(tenant_a, "c", "100").remaining_usd is None


def test_every_change_of_spent_or_reserved_is_signalled(tenant_a, model, frozen):
    hard_budget(tenant_a, "10")
    seen = []

    def receiver(sender, **kwargs):
        seen.append(kwargs)

    budget_usage_changed.connect(receiver)
    try:
        call(tenant_a, "a", "8")
        reservations_settle(tenant=tenant_a, settled=[("a", Decimal("9.5"), 100, NOW)])
        call(tenant_a, "b", "0.4")
        frozen.shift(timedelta(minutes=16))
        reservations_expire()
    finally:
        budget_usage_changed.disconnect(receiver)

    usd = [
        (s["used_before"], s["used_after"], s["limit"], s["hard"])
        for s in seen
        if s["dimension"] == "usd"
    ]
    assert usd == [
        (Decimal(0), Decimal(8), Decimal(10), True),
        (Decimal(8), Decimal("9.5"), Decimal(10), True),
        (Decimal("9.5"), Decimal("9.9"), Decimal(10), True),
        (Decimal("9.9"), Decimal("9.5"), Decimal(10), True),
    ]
    assert {s["period"] for s in seen} == {date(2026, 11, 1)}
    assert {s["tenant_id"] for s in seen} == {tenant_a.pk}


def test_usage_settles_into_the_month_it_occurred_in(tenant_a, model):
    reservations_settle(
        tenant=tenant_a,
        settled=[
            ("oct", Decimal("1.5"), 10, datetime(2026, 10, 31, 23, 59, tzinfo=UTC)),
            ("nov", Decimal("2"), 20, NOW),
        ],
    )

    periods = dict(BudgetPeriod.objects.values_list("month", "spent_usd"))
    assert periods == {date(2026, 10, 1): Decimal("1.5"), date(2026, 11, 1): Decimal(2)}


def test_asking_again_answers_the_reservation_even_once_the_budget_is_full(tenant_a, model):
    hard_budget(tenant_a, "1")
    first = call(tenant_a, "a", "1")

    assert call(tenant_a, "a", "1").reservation_id == first.reservation_id
    assert period_of(tenant_a).reserved_usd == Decimal(1)


def test_the_estimate_is_the_plan_in_force_at_the_call_and_changes_when_a_new_plan_starts(
    tenant_a, model, frozen
):
    # A new plan taking effect tomorrow at noon: $3/M input, $7/M output.
    plan(model, ("3", "7", "1"), NOW + timedelta(days=1))

    today = authorize(
        tenant=tenant_a, request_id="a", model="gpt-4o", input_tokens=1000, max_output_tokens=500
    )
    frozen.move_to(NOW + timedelta(days=1))
    tomorrow = authorize(
        tenant=tenant_a, request_id="b", model="gpt-4o", input_tokens=1000, max_output_tokens=500
    )

    assert today.reserved_usd == Decimal("0.002")  # 1000 x $1/M + 500 x $2/M
    assert tomorrow.reserved_usd == Decimal("0.0065")  # 1000 x $3/M + 500 x $7/M
    assert Reservation.objects.get(request_id="b").estimate_usd == Decimal("0.0065")


@pytest.mark.parametrize(
    ("input_tokens", "output_tokens"), [(0, 0), (1, 1), (123_457, 98_765), (2**31 - 1, 2**31 - 1)]
)
def test_the_estimate_in_sql_is_exactly_the_pricing_rule_of_python(
    tenant_a, input_tokens, output_tokens
):
    gpt = model_with_plan(tenant_a, "odd-prices", prices=("0.123457", "9.876543", "0.000001"))

    result = authorize(
        tenant=tenant_a,
        request_id="r",
        model="odd-prices",
        input_tokens=input_tokens,
        max_output_tokens=output_tokens,
    )

    expected = call_estimate(
        model_id=gpt.pk, input_tokens=input_tokens, max_output_tokens=output_tokens, now=NOW
    )
    assert result.reserved_usd == expected and result.priced
    assert period_of(tenant_a).reserved_usd == expected


def test_an_authorization_is_one_statement_to_the_database(tenant_a, model):
    hard_budget(tenant_a, "10")
    call(tenant_a, "first", "1")  # the month's period row exists from here on

    with CaptureQueriesContext(connection) as queries:
        call(tenant_a, "second", "1")

    # The test's transaction adds a savepoint around it; nothing else is asked.
    statements = [q["sql"] for q in queries if "SAVEPOINT" not in q["sql"]]
    assert len(statements) == 1 and "UPDATE usage_budgetperiod" in statements[0]
    assert period_of(tenant_a).reserved_usd == Decimal(2)
