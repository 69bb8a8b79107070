"""Times Tally accepts: from 2000-01-01 to 9000-01-01 UTC, on every entry point (never a 500)."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.usage.usage_helpers import event, model_with_plan, plan, post_plan, record
from usage.buckets import RangeRefused, buckets_for
from usage.models import ModelRollup, PricingPlan, UsageEvent
from usage.selectors import activity
from usage.services import UsageRefused, llm_model_create

HTMX = {"HTTP_HX_REQUEST": "true"}
BOUNDS = "2000-01-01"

OUT_OF_BOUNDS_RANGES = [
    ("9999-12-30T00:00:00+00:00", "9999-12-31T23:00:00+00:00"),
    ("0001-01-01T00:00:00+01:00", "0001-01-02T00:00:00+00:00"),
    ("1999-12-31T00:00:00+00:00", "2000-01-02T00:00:00+00:00"),
    ("2026-01-01T00:00:00+00:00", "9000-01-01T00:15:00+00:00"),
]


@pytest.mark.parametrize(("start", "end"), OUT_OF_BOUNDS_RANGES)
@pytest.mark.parametrize("url", ["/api/v1/usage/activity/", "/api/v1/usage/export.csv"])
def test_an_api_range_out_of_bounds_is_a_400_invalid_range(
    admin_a, api_client_for, url, start, end
):
    response = api_client_for(admin_a).get(url, {"start": start, "end": end, "bucket": "1d"})

    assert response.status_code == 400
    assert response.json()["code"] == "invalid_range"
    assert BOUNDS in response.json()["detail"] and "9000-01-01" in response.json()["detail"]


def test_a_default_start_before_the_floor_is_refused_too(admin_a, api_client_for):
    response = api_client_for(admin_a).get(
        "/api/v1/usage/activity/", {"end": "2000-01-05T00:00:00Z"}
    )

    assert (response.status_code, response.json()["code"]) == (400, "invalid_range")


def test_a_range_on_the_bounds_is_accepted(admin_a, api_client_for):
    response = api_client_for(admin_a).get(
        "/api/v1/usage/activity/",
        {"start": "2000-01-01T00:00:00Z", "end": "2000-01-02T00:00:00Z"},
    )

    assert response.status_code == 200


@pytest.mark.parametrize(
    ("zone", "start", "end"),
    [
        ("UTC", "9999-12-30", "9999-12-31"),
        ("UTC", "2026-01-01", "9999-12-31"),
        ("Europe/Paris", "0001-01-01", "0001-01-01"),
        ("UTC", "1999-12-31", "2000-01-01"),
    ],
)
def test_a_custom_page_range_out_of_bounds_shows_a_message_also_to_htmx(
    tenant_a, admin_a, page_client_for, zone, start, end
):
    tenant_a.timezone = zone
    tenant_a.save()
    params = {"range": "custom", "start": start, "end": end}
    for headers in ({}, HTMX):
        response = page_client_for(admin_a).get("/usage/", params, **headers)

        assert response.status_code == 400
        content = response.content.decode()
        assert 'data-testid="activity-error"' in content
        assert BOUNDS in content and "9000-01-01" in content
        assert 'id="range-30d"' in content


def test_the_selector_refuses_a_range_out_of_bounds():
    with pytest.raises(RangeRefused):
        buckets_for(
            start=datetime(1, 1, 1, tzinfo=UTC),
            end=datetime(1, 1, 2, tzinfo=UTC),
            zone=UTC,
        )


def test_activity_refuses_a_range_out_of_bounds(tenant_a):
    with pytest.raises(RangeRefused):
        activity(
            tenant=tenant_a,
            start=datetime(9999, 12, 30, tzinfo=UTC),
            end=datetime(9999, 12, 31, tzinfo=UTC),
            mode="cost",
        )


@pytest.mark.parametrize(
    "occurred_at",
    [
        "0001-01-01T00:00:00+01:00",
        "1969-12-31T23:50:00+00:00",  # before 1970, Unix seconds are negative
        "1999-12-31T23:59:59.999999+00:00",
    ],
)
def test_an_event_before_the_floor_is_refused_naming_the_record_and_field(
    tenant_a, admin_a, api_client_for, occurred_at
):
    model_with_plan(tenant_a, "gpt")
    batch = [event(datetime(2026, 11, 1, tzinfo=UTC), "gpt"), event(timezone.now(), "gpt")]
    batch[1]["occurred_at"] = occurred_at

    response = api_client_for(admin_a).post("/api/v1/usage/events/", {"events": batch}, "json")

    assert response.status_code == 400
    [message] = response.json()["errors"]["events"]["1"]["occurred_at"]
    assert BOUNDS in message
    assert response.json()["detail"].startswith("Event 1, field occurred_at:")
    assert not UsageEvent.objects.exists() and not ModelRollup.objects.exists()


def test_an_event_on_the_floor_is_stored(tenant_a):
    model_with_plan(tenant_a, "gpt")

    assert record(tenant_a, [event(datetime(2000, 1, 1, tzinfo=UTC), "gpt")]).created == 1


@pytest.mark.parametrize(
    "effective_at",
    [datetime(1999, 12, 31, 23, 45, tzinfo=UTC), datetime(9999, 12, 31, 23, 45, tzinfo=UTC)],
)
def test_a_pricing_plan_out_of_bounds_is_refused_on_effective_at(tenant_a, effective_at):
    model = model_with_plan(tenant_a, "gpt", prices=None)

    with pytest.raises(UsageRefused) as refused:
        plan(model, ("1", "1", "1"), effective_at)

    assert BOUNDS in refused.value.errors["effective_at"][0]
    assert not PricingPlan.objects.exists()


def test_the_api_refuses_a_pricing_plan_out_of_bounds(tenant_a, admin_a, api_client_for):
    model = llm_model_create(tenant=tenant_a, name="gpt", provider="P")

    response = post_plan(api_client_for(admin_a), model, "0001-01-01T00:00:00+01:00")

    assert response.status_code == 400
    assert BOUNDS in response.json()["errors"]["effective_at"][0]


@pytest.mark.parametrize("typed", ["9999-12-31T23:45", "0001-01-01T00:00", "1999-06-01T00:00"])
def test_the_models_page_refuses_a_plan_out_of_bounds(tenant_a, admin_a, page_client_for, typed):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    model = llm_model_create(tenant=tenant_a, name="gpt", provider="P")

    response = page_client_for(admin_a).post(
        "/usage/models/",
        {
            "form": "plan",
            "model": model.pk,
            "input_per_million": "1",
            "output_per_million": "1",
            "cached_per_million": Decimal("0.5"),
            "effective_at": typed,
        },
    )

    assert response.status_code == 400
    [message] = response.context["plan_form"].errors["effective_at"]
    assert BOUNDS in message
    assert not PricingPlan.objects.exists()


def test_the_bounds_leave_room_for_a_day_ahead_of_now():
    assert timezone.now() + timedelta(days=1) < datetime(9000, 1, 1, tzinfo=UTC)
