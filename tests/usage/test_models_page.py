"""The models & pricing page: list models with their plans, add a model, add a pricing plan."""

from datetime import UTC, datetime
from decimal import Decimal

import pytest
import time_machine

from tests.factories import TenantFactory
from tests.usage.usage_helpers import event, model_with_plan, record
from usage.models import LlmModel, PricingPlan
from usage.services import llm_model_create, pricing_plan_create


def _plan_post(model, **changes) -> dict:
    return {
        "form": "plan",
        "model": model.pk,
        "input_per_million": "3",
        "output_per_million": "15",
        "cached_per_million": "0.3",
        "effective_at": "2026-06-01T10:15",
        **changes,
    }


@pytest.mark.parametrize(
    "who, status", [("admin_a", 200), ("member_a", 403), ("operator", 403), ("admin_b", 200)]
)
def test_only_tenant_administrators_open_the_models_page(cast, page_client_for, who, status):
    assert page_client_for(cast[who]).get("/usage/models/").status_code == status


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get("/usage/models/")

    assert response["Location"] == "/accounts/login/?next=/usage/models/"


def test_the_page_lists_the_tenants_models_with_their_plans_only(
    tenant_a, tenant_b, admin_a, page_client_for
):
    priced = llm_model_create(tenant=tenant_a, name="claude-sonnet", provider="Anthropic")
    pricing_plan_create(
        model=priced,
        input_per_million=Decimal("3"),
        output_per_million=Decimal("15"),
        cached_per_million=Decimal("0.3"),
        effective_at=datetime(2026, 1, 1, tzinfo=UTC),
    )
    llm_model_create(tenant=tenant_a, name="gpt-mini", provider="OpenAI")
    llm_model_create(tenant=tenant_b, name="their-model", provider="Elsewhere")

    content = page_client_for(admin_a).get("/usage/models/").content.decode()

    assert "claude-sonnet" in content and "$15.00" in content and "$0.30" in content
    assert "gpt-mini" in content and "No pricing plan" in content
    assert "their-model" not in content


def test_an_administrator_adds_a_model(tenant_a, admin_a, page_client_for):
    response = page_client_for(admin_a).post(
        "/usage/models/", {"form": "model", "name": "gpt-x", "provider": "OpenAI"}, follow=True
    )

    assert LlmModel.objects.get(tenant=tenant_a).name == "gpt-x"
    assert "Model gpt-x added" in response.content.decode()


def test_a_model_name_the_tenant_has_already_is_refused_on_the_name_field(
    tenant_a, admin_a, page_client_for
):
    llm_model_create(tenant=tenant_a, name="gpt-x", provider="OpenAI")

    response = page_client_for(admin_a).post(
        "/usage/models/", {"form": "model", "name": "gpt-x", "provider": "OpenAI"}
    )

    assert response.status_code == 400
    assert response.context["model_form"].errors["name"] == [
        "A model named 'gpt-x' exists already."
    ]


def test_a_plan_is_added_at_the_local_time_typed_in_the_tenants_zone(
    tenant_a, admin_a, page_client_for
):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    model = llm_model_create(tenant=tenant_a, name="claude-sonnet", provider="Anthropic")

    response = page_client_for(admin_a).post("/usage/models/", _plan_post(model))

    assert response.status_code == 302
    plan = PricingPlan.objects.get(model=model)
    assert plan.effective_at == datetime(2026, 6, 1, 8, 15, tzinfo=UTC)  # 10:15 in Paris, summer
    assert (plan.input_per_million, plan.cached_per_million) == (Decimal(3), Decimal("0.3"))


def test_a_plan_off_the_quarter_hour_shows_the_services_message(tenant_a, admin_a, page_client_for):
    model = llm_model_create(tenant=tenant_a, name="claude-sonnet", provider="Anthropic")

    response = page_client_for(admin_a).post(
        "/usage/models/", _plan_post(model, effective_at="2026-06-01T10:20")
    )

    assert response.status_code == 400
    [message] = response.context["plan_form"].errors["effective_at"]
    assert message.startswith("A plan takes effect on a quarter hour")
    assert not PricingPlan.objects.exists()


def test_a_negative_price_is_refused(tenant_a, admin_a, page_client_for):
    model = llm_model_create(tenant=tenant_a, name="claude-sonnet", provider="Anthropic")

    response = page_client_for(admin_a).post(
        "/usage/models/", _plan_post(model, output_per_million="-1")
    )

    assert (
        response.status_code == 400 and "output_per_million" in response.context["plan_form"].errors
    )


def test_a_plan_cannot_be_added_to_another_tenants_model(tenant_a, admin_a, page_client_for):
    theirs = llm_model_create(tenant=TenantFactory(), name="theirs", provider="Elsewhere")

    response = page_client_for(admin_a).post("/usage/models/", _plan_post(theirs))

    assert response.status_code == 400 and "model" in response.context["plan_form"].errors
    assert not PricingPlan.objects.exists()


def test_the_unpriced_note_link_preselects_the_model(tenant_a, admin_a, page_client_for):
    llm_model_create(tenant=tenant_a, name="a-model", provider="P")
    second = llm_model_create(tenant=tenant_a, name="b-model", provider="P")

    content = page_client_for(admin_a).get(f"/usage/models/?model={second.pk}").content.decode()

    assert f'<option value="{second.pk}" selected>b-model' in content
    assert 'id="add-plan"' in content


def test_the_plan_form_proposes_the_next_quarter_hour_in_local_time(
    tenant_a, admin_a, page_client_for
):
    tenant_a.timezone = "Asia/Kolkata"  # +05:30
    tenant_a.save()
    llm_model_create(tenant=tenant_a, name="m", provider="P")

    with time_machine.travel(datetime(2026, 6, 1, 8, 7, tzinfo=UTC), tick=False):
        content = page_client_for(admin_a).get("/usage/models/").content.decode()

    assert 'value="2026-06-01T13:45"' in content  # 08:15 UTC


def test_the_table_says_which_plan_is_in_force(tenant_a, admin_a, page_client_for):
    model = llm_model_create(tenant=tenant_a, name="m", provider="P")
    with time_machine.travel(datetime(2026, 5, 1, tzinfo=UTC)):  # all scheduled in advance
        for day, price in ((1, "2.5"), (10, "2"), (20, "1.875")):
            pricing_plan_create(
                model=model,
                input_per_million=Decimal(price),
                output_per_million=Decimal("1250.5"),
                cached_per_million=Decimal("0.075"),
                effective_at=datetime(2026, 6, day, tzinfo=UTC),
            )

    with time_machine.travel(datetime(2026, 6, 15, tzinfo=UTC), tick=False):
        rows = page_client_for(admin_a).get("/usage/models/").context["rows"]

    assert [(row.status, row.prices) for row in rows] == [
        ("superseded", ("$2.50", "$0.075", "$1,250.50")),
        ("in force", ("$2.00", "$0.075", "$1,250.50")),
        ("scheduled", ("$1.875", "$0.075", "$1,250.50")),
    ]


def test_a_plan_in_the_past_is_refused_with_the_earliest_time_allowed(
    tenant_a, admin_a, page_client_for
):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    january = datetime(2026, 1, 1, tzinfo=UTC)
    model = model_with_plan(tenant_a, "claude-sonnet", effective_at=january)

    with time_machine.travel(datetime(2026, 6, 1, 8, 20, tzinfo=UTC), tick=False):
        response = page_client_for(admin_a).post(
            "/usage/models/", _plan_post(model, effective_at="2026-06-01T10:15")
        )

    assert response.status_code == 400
    [message] = response.context["plan_form"].errors["effective_at"]
    assert message.startswith("A pricing plan cannot take effect in the past")
    assert "2026-06-01 10:30 (Europe/Paris)" in message  # 08:30 UTC, the next quarter hour
    assert "cannot take effect in the past" in response.content.decode()
    assert PricingPlan.objects.filter(model=model).count() == 1


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        (
            "2026-03-29T02:30",
            "2026-03-29 02:30 does not exist in Europe/Paris: the clocks go forward over it "
            "that day. Choose another time.",
        ),
        (
            "2026-10-25T02:30",
            "2026-10-25 02:30 happens twice in Europe/Paris: the clocks go back over it that "
            "day. Choose a time outside that hour.",
        ),
    ],
)
def test_a_local_time_that_does_not_exist_or_happens_twice_is_refused(
    tenant_a, admin_a, page_client_for, typed, message
):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    model = llm_model_create(tenant=tenant_a, name="claude-sonnet", provider="Anthropic")

    response = page_client_for(admin_a).post(
        "/usage/models/", _plan_post(model, effective_at=typed)
    )

    assert response.status_code == 400
    assert response.context["plan_form"].errors["effective_at"] == [message]
    assert not PricingPlan.objects.exists()


def test_the_hours_around_a_clock_change_are_taken_as_typed(tenant_a, admin_a, page_client_for):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    model = llm_model_create(tenant=tenant_a, name="claude-sonnet", provider="Anthropic")
    client = page_client_for(admin_a)

    for typed in ("2026-10-25T03:00", "2026-10-25T01:45", "2026-03-29T03:00"):
        response = client.post("/usage/models/", _plan_post(model, effective_at=typed))
        assert response.status_code == 302

    assert sorted(PricingPlan.objects.values_list("effective_at", flat=True)) == [
        datetime(2026, 3, 29, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 24, 23, 45, tzinfo=UTC),
        datetime(2026, 10, 25, 2, 0, tzinfo=UTC),
    ]


def test_a_plan_before_usage_recorded_ahead_of_now_is_refused_naming_its_time(
    tenant_a, admin_a, page_client_for
):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    model = model_with_plan(
        tenant_a, "claude-sonnet", effective_at=datetime(2026, 1, 1, tzinfo=UTC)
    )
    with time_machine.travel(datetime(2026, 6, 1, 8, 20, tzinfo=UTC), tick=False):
        # Dated 20:07 UTC (22:07 in Paris): within the day of tolerance for clock skew.
        record(tenant_a, [event(datetime(2026, 6, 1, 20, 7, tzinfo=UTC), "claude-sonnet")])
        response = page_client_for(admin_a).post(
            "/usage/models/", _plan_post(model, effective_at="2026-06-01T10:30")
        )

    assert response.status_code == 400
    [message] = response.context["plan_form"].errors["effective_at"]
    assert message.startswith("A pricing plan cannot take effect before usage already recorded")
    assert "up to 2026-06-01 22:07 (Europe/Paris)" in message
    assert "Choose 2026-06-01 22:15 (Europe/Paris) or later" in message
    assert "cannot take effect before usage already recorded" in response.content.decode()
    assert PricingPlan.objects.filter(model=model).count() == 1
