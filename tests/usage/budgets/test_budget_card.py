"""The Budget card: its data in two queries, what it shows, its form, and the admin."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine
from django.template.loader import render_to_string

from tests.usage.budgets.budget_helpers import call, hard_budget, priced_model
from usage.budgets.forms import budget_form_for
from usage.budgets.models import Budget
from usage.budgets.selectors import budget_card
from usage.budgets.services import reservations_settle

pytestmark = [pytest.mark.django_db]
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)  # 19 complete days of a 30-day month


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _spend(tenant, before_today: str, today: str) -> None:
    reservations_settle(
        tenant=tenant,
        settled=[
            ("yesterday", Decimal(before_today), 1000, datetime(2026, 11, 19, 9, tzinfo=UTC)),
            ("today", Decimal(today), 10, NOW),
        ],
    )


def test_the_card_reads_its_data_in_two_queries(tenant_a, django_assert_num_queries):
    priced_model(tenant_a)
    hard_budget(tenant_a, "100")
    _spend(tenant_a, "85.5", "4.5")
    call(tenant_a, "in-flight", "2")

    with django_assert_num_queries(2):
        card = budget_card(tenant_a)

    assert (card.usd.spent, card.usd.reserved, card.usd.remaining) == (
        Decimal(90),
        Decimal(2),
        Decimal(8),
    )
    assert card.usd.percent == 92.0 and card.usd.level == "warning"
    assert card.needs_banner
    # $85.50 over 19 complete days = $4.50 a day; 30 days: $135.
    assert card.spend.average_per_day_usd == Decimal("4.5")
    assert card.spend.projected_month_end_usd == Decimal(135)
    assert card.spend.budget.projected_over


def test_a_soft_budget_never_asks_for_the_banner(tenant_a):
    hard_budget(tenant_a, "10", kind="soft")
    _spend(tenant_a, "9.5", "0.5")

    assert not budget_card(tenant_a).needs_banner


def test_the_card_shows_spent_reserved_remaining_and_the_projection(tenant_a, admin_a, rf):
    priced_model(tenant_a)
    hard_budget(tenant_a, "100")
    _spend(tenant_a, "85.5", "4.5")
    call(tenant_a, "in-flight", "2")
    card = budget_card(tenant_a)

    html = render_to_string(
        "usage/_budget_card.html",
        {"budget_card": card, "budget_form": budget_form_for(card.budget), "user": admin_a},
    )

    assert "LLM budget · November 2026" in html
    assert "$90.00 spent · $2.00 reserved" in html
    assert "$8.00 remaining" in html
    assert "projected month end" in html and "$135.00" in html and "over the budget" in html
    assert ">Hard<" in html
    assert 'name="limit_usd"' in html and 'value="100"' in html


def test_on_the_first_day_of_the_month_the_card_says_there_is_no_projection_yet(tenant_a, admin_a):
    with time_machine.travel(datetime(2026, 12, 1, 8, tzinfo=UTC), tick=False):
        card = budget_card(tenant_a)
        html = render_to_string("usage/_budget_card.html", {"budget_card": card})

    assert card.spend.projected_month_end_usd is None
    assert "a projection needs one complete day" in html
    assert "No budget" in html


@pytest.mark.urls("tests.usage.budgets.urls")
def test_an_administrator_sets_the_budget_from_the_card(page_client_for, admin_a, tenant_a):
    client = page_client_for(admin_a)

    response = client.post(
        "/usage/budget/",
        {"limit_usd": "250", "limit_tokens": "", "kind": "soft"},
        HTTP_HX_REQUEST="true",
    )

    assert response.status_code == 200
    assert "Budget saved." in response.content.decode()
    budget = Budget.objects.get(tenant=tenant_a)
    assert (budget.limit_usd, budget.limit_tokens, budget.kind) == (Decimal(250), None, "soft")


@pytest.mark.urls("tests.usage.budgets.urls")
def test_a_bad_budget_from_the_card_shows_the_error_and_saves_nothing(
    page_client_for, admin_a, tenant_a
):
    response = page_client_for(admin_a).post(
        "/usage/budget/", {"limit_usd": "-3", "kind": "hard"}, HTTP_HX_REQUEST="true"
    )

    assert response.status_code == 400
    assert "greater than or equal to 0" in response.content.decode()
    assert not Budget.objects.filter(tenant=tenant_a).exists()


@pytest.mark.urls("tests.usage.budgets.urls")
@pytest.mark.parametrize(("who", "status"), [("member_a", 403), ("anonymous", 302)])
def test_only_administrators_set_the_budget_from_the_card(page_client_for, cast, who, status):
    response = page_client_for(cast[who]).post("/usage/budget/", {"limit_usd": "1", "kind": "hard"})

    assert response.status_code == status
    assert not Budget.objects.exists()


@pytest.mark.parametrize("page", ["budget", "budgetperiod", "reservation"])
def test_operators_see_budgets_periods_and_reservations_in_the_admin(
    page_client_for, operator, tenant_a, page
):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")
    call(tenant_a, "visible-call", "1")

    response = page_client_for(operator).get(f"/admin/usage/{page}/")

    assert response.status_code == 200
    assert "Tenant A" in response.content.decode()
