"""The usage API: who may call it, what it answers, and the errors it names."""

from datetime import UTC, datetime

import pytest

from tasks.services import task_create
from tests.usage.usage_helpers import event, model_with_plan, plan, post_plan, ticket_for
from usage.api.events import UsageEventInputSerializer, validated_events
from usage.models import LlmModel, UsageEvent

AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)
ENDPOINTS = [
    ("post", "/api/v1/usage/events/"),
    ("get", "/api/v1/usage/activity/"),
    ("get", "/api/v1/usage/export.csv"),
    ("get", "/api/v1/models/"),
    ("post", "/api/v1/models/"),
]


@pytest.mark.parametrize(("method", "url"), ENDPOINTS)
@pytest.mark.parametrize(("who", "status"), [("anonymous", 401), ("member_a", 403)])
def test_usage_endpoints_are_for_administrators_only(
    cast, api_client_for, method, url, who, status
):
    response = getattr(api_client_for(cast[who]), method)(url, {}, format="json")
    assert response.status_code == status


def test_posting_events_stores_them_and_a_re_post_answers_200_with_duplicates(
    admin_a, tenant_a, api_client_for
):
    model_with_plan(tenant_a, "gpt-4o")
    client = api_client_for(admin_a)
    batch = {"events": [event(AT, "gpt-4o", request_id=f"r{i}") for i in range(3)]}
    first = client.post("/api/v1/usage/events/", batch, format="json")
    assert (first.status_code, first.json()) == (
        201,
        {"received": 3, "created": 3, "duplicates": 0},
    )
    again = client.post("/api/v1/usage/events/", batch, format="json")
    assert (again.status_code, again.json()["duplicates"]) == (200, 3)
    assert UsageEvent.objects.count() == 3


def test_a_bad_record_is_a_400_naming_the_record_and_the_field(admin_a, tenant_a, api_client_for):
    model_with_plan(tenant_a, "gpt-4o")
    bad = {"events": [event(AT, "gpt-4o"), event(AT, "gpt-9")]}
    response = api_client_for(admin_a).post("/api/v1/usage/events/", bad, format="json")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid"
    assert body["detail"].startswith("Event 1, field model: No model named 'gpt-9'")
    assert list(body["errors"]["events"]["1"]) == ["model"]
    assert UsageEvent.objects.count() == 0


def test_good_records_are_validated_exactly_as_their_serializer_validates_them():
    # validated_events checks good batches field by field, without the serializer's
    # per-record machinery (for speed); what it hands the service must not differ.
    records = [
        event(AT, "gpt-4o"),
        {k: v for k, v in event(AT, "gpt-4o").items() if k != "cached_tokens"},
        event(AT, "gpt-4o", ticket=None, task=None, host=None, consumer=None),
        event(AT, "gpt-4o", ticket=7, task=8, host="web-01", consumer="", succeeded=False),
        event(AT, "gpt-4o", occurred_at="2026-11-01T11:00:00+01:00", consumer=" agent "),
    ]
    serializer = UsageEventInputSerializer(data=records, many=True)
    assert serializer.is_valid(), serializer.errors
    assert validated_events(records) == serializer.validated_data


def test_a_body_without_an_events_list_is_a_400(admin_a, api_client_for):
    response = api_client_for(admin_a).post("/api/v1/usage/events/", [], format="json")
    assert (response.status_code, response.json()["code"]) == (400, "invalid")


def test_activity_answers_totals_series_and_exact_cost_strings(admin_a, tenant_a, api_client_for):
    model_with_plan(tenant_a, "gpt-4o", prices=("2.5", "10", "1.25"))
    ticket = ticket_for(tenant_a)
    client = api_client_for(admin_a)
    records = [
        event(AT, "gpt-4o", input_tokens=1, output_tokens=1, cached_tokens=1, ticket=ticket.id),
        event(AT, "gpt-4o", input_tokens=100, output_tokens=0, cached_tokens=0),
    ]
    client.post("/api/v1/usage/events/", {"events": records}, format="json")
    response = client.get(
        "/api/v1/usage/activity/",
        {"start": "2026-11-01T00:00:00+00:00", "end": "2026-11-02T00:00:00+00:00", "mode": "cost"},
    )
    assert response.status_code == 200
    body = response.json()
    assert body["bucket"] == "5m" and len(body["series"]) == 288
    assert body["totals"]["tokens"]["total"] == 103
    assert body["totals"]["cost"]["total"] == "0.00001375"
    assert body["totals"]["requests"] == {"succeeded": 2, "failed": 0, "total": 2}
    assert body["unattributed"][0]["tokens"]["input"] == 100
    assert body["top_tickets"][0]["external_id"] == "INC-1"


def test_an_unencoded_plus_in_the_offset_is_understood(admin_a, api_client_for):
    url = "/api/v1/usage/activity/?start=2026-11-01T00:00:00+01:00&end=2026-11-02T00:00:00+01:00"
    response = api_client_for(admin_a).get(url)
    assert response.json()["start"] == "2026-10-31T23:00:00+00:00"  # the tenant zone is UTC


@pytest.mark.parametrize(
    ("params", "fragment"),
    [
        ({"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}, "ends before it starts"),
        ({"start": "2026-01-01T00:00:00Z", "end": "2026-11-01T00:00:00Z", "bucket": "5m"}, "2000"),
        ({"start": "2026-11-01T00:00:00", "end": "2026-11-02T00:00:00Z"}, "offset"),
        (
            {"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z", "bucket": "2h"},
            "Unknown bucket",
        ),
        ({"start": "2026-11-01T00:00:00Z", "end": "2026-11-02T00:00:00Z", "mode": "euros"}, "mode"),
    ],
)
def test_a_bad_range_is_a_400_with_a_clear_message(admin_a, api_client_for, params, fragment):
    response = api_client_for(admin_a).get("/api/v1/usage/activity/", params)
    assert response.status_code == 400
    assert fragment in response.json()["detail"]


def test_models_are_listed_created_and_priced_within_the_tenant(
    admin_a, admin_b, tenant_b, api_client_for
):
    client = api_client_for(admin_a)
    created = client.post(
        "/api/v1/models/", {"name": "gpt-4o", "provider": "OpenAI"}, format="json"
    )
    assert created.status_code == 201
    model_id = created.json()["id"]
    plan = {
        "input_per_million": "2.50",
        "output_per_million": "10",
        "cached_per_million": "1.25",
        "effective_at": "2026-12-01T00:00:00+01:00",
    }
    priced = client.post(f"/api/v1/models/{model_id}/pricing/", plan, format="json")
    assert priced.status_code == 201
    listed = client.get("/api/v1/models/").json()
    assert [m["name"] for m in listed] == ["gpt-4o"]
    assert listed[0]["pricing_plans"][0]["input_per_million"] == "2.500000"
    duplicate = client.post("/api/v1/models/", {"name": "gpt-4o", "provider": "X"}, format="json")
    assert (duplicate.status_code, duplicate.json()["code"]) == (400, "model_exists")
    # Tenant B sees none of it and cannot price A's model.
    other = api_client_for(admin_b)
    assert other.get("/api/v1/models/").json() == []
    assert other.post(f"/api/v1/models/{model_id}/pricing/", plan, format="json").status_code == 404


def test_a_pricing_plan_off_the_quarter_hour_is_a_400_naming_effective_at(
    admin_a, tenant_a, api_client_for
):
    model = LlmModel.objects.create(tenant=tenant_a, name="m", provider="p")
    plan = {
        "input_per_million": "1",
        "output_per_million": "1",
        "cached_per_million": "1",
        "effective_at": "2026-12-01T00:10:00+00:00",
    }
    response = api_client_for(admin_a).post(
        f"/api/v1/models/{model.id}/pricing/", plan, format="json"
    )
    assert response.status_code == 400
    assert "quarter hour" in response.json()["errors"]["effective_at"][0]


def test_the_openapi_schema_lists_the_usage_endpoints(admin_a, api_client_for):
    schema = api_client_for(admin_a).get("/api/schema/", {"format": "json"}).json()
    for path in (
        "/api/v1/usage/events/",
        "/api/v1/usage/activity/",
        "/api/v1/usage/export.csv",
        "/api/v1/models/",
        "/api/v1/models/{model_id}/pricing/",
    ):
        assert path in schema["paths"]


@pytest.mark.parametrize(
    ("effective_at", "status"),
    [
        ("2030-01-01T00:00:00", 400),
        ("2030-01-01 00:00", 400),
        ("2030-01-01T00:00:00Z", 201),
        ("2030-01-01T01:00:00+01:00", 201),
    ],
)
def test_a_pricing_plan_time_must_carry_its_offset(
    admin_a, tenant_a, api_client_for, effective_at, status
):
    model = LlmModel.objects.create(tenant=tenant_a, name="m", provider="p")
    response = post_plan(api_client_for(admin_a), model, effective_at)
    assert response.status_code == status
    if status == 400:
        assert "offset" in response.json()["errors"]["effective_at"][0]
        assert not model.pricing_plans.exists()
    else:
        assert model.pricing_plans.get().effective_at == datetime(2030, 1, 1, tzinfo=UTC)


def test_a_ticket_sent_with_a_task_that_has_no_ticket_is_a_400_on_ticket(
    admin_a, tenant_a, api_client_for
):
    model_with_plan(tenant_a, "gpt-4o")
    ad_hoc = task_create(tenant=tenant_a, title="Clean the disk", source="gateway")
    ticket = ticket_for(tenant_a)
    batch = {"events": [event(AT, "gpt-4o", task=ad_hoc.id, ticket=ticket.id)]}

    response = api_client_for(admin_a).post("/api/v1/usage/events/", batch, format="json")

    assert response.status_code == 400
    body = response.json()
    assert body["detail"].startswith(f"Event 0, field ticket: Task {ad_hoc.id} has no ticket")
    assert list(body["errors"]["events"]["0"]) == ["ticket"]
    assert UsageEvent.objects.count() == 0


DAY = {"start": "2026-11-01T00:00:00+00:00", "end": "2026-11-02T00:00:00+00:00"}


@pytest.fixture
def two_hosts_of_usage(admin_a, tenant_a, api_client_for):
    """gpt-4o on web-01 by agent-a (on a ticket), claude on db-01 by agent-b, and one event
    with no host: posted through the API."""
    from tasks.services import host_register
    from usage.services import llm_model_create

    model_with_plan(tenant_a, "gpt-4o", prices=("1", "2", "0.5"))
    claude = llm_model_create(tenant=tenant_a, name="claude", provider="Anthropic")
    plan(claude, ("3", "15", "0.3"), AT.replace(year=2000))
    ticket = ticket_for(tenant_a)
    for name in ("web-01", "db-01"):
        host_register(tenant=tenant_a, name=name)
    tokens = {"input_tokens": 1000, "output_tokens": 100, "cached_tokens": 0}
    records = [
        event(AT, "gpt-4o", host="web-01", consumer="agent-a", ticket=ticket.id, **tokens),
        event(AT, "claude", host="db-01", consumer="agent-b", **tokens),
        event(AT, "claude", consumer="agent-b", **tokens),
    ]
    client = api_client_for(admin_a)
    assert (
        client.post("/api/v1/usage/events/", {"events": records}, format="json").status_code == 201
    )
    return client


def test_activity_answers_provider_host_and_consumer_rows_with_their_cost_and_share(
    two_hosts_of_usage,
):
    body = two_hosts_of_usage.get("/api/v1/usage/activity/", {**DAY, "mode": "cost"}).json()
    # gpt-4o: 1000 * 1 + 100 * 2 = $0.0012; claude: 1000 * 3 + 100 * 15 = $0.0045 each.
    assert body["totals"]["whole_bill"]["total"] == "0.0102"
    assert [(r["provider"], r["cost"]["total"], r["share"]) for r in body["by_provider"]] == [
        ("Anthropic", "0.009", "0.8824"),
        ("OpenAI", "0.0012", "0.1176"),
    ]
    assert [(r["name"], r["cost"]["total"], r["share"]) for r in body["by_host"]] == [
        ("db-01", "0.0045", "0.4412"),
        ("", "0.0045", "0.4412"),  # no host: last among equals
        ("web-01", "0.0012", "0.1176"),
    ]
    assert [(r["consumer"], r["cost"]["total"]) for r in body["top_consumers"]] == [
        ("agent-b", "0.009"),
        ("agent-a", "0.0012"),
    ]
    assert body["top_tickets"][0]["share"] == "0.1176"
    assert body["more"] == [] and body["filters"] == {}
    tokens = two_hosts_of_usage.get("/api/v1/usage/activity/", {**DAY, "mode": "tokens"}).json()
    assert [r["share"] for r in tokens["by_host"]] == ["0.3333", "0.3333", "0.3333"]


@pytest.mark.parametrize(
    ("params", "tokens", "consumers"),
    [
        ({"model": "claude"}, 2200, ["agent-b"]),
        ({"host": "web-01"}, 1100, ["agent-a"]),
        ({"consumer": "agent-b", "host": "db-01"}, 1100, ["agent-b"]),
        ({"consumer": "nobody"}, 0, []),
    ],
)
def test_model_consumer_and_host_narrow_the_activity_and_are_echoed(
    two_hosts_of_usage, params, tokens, consumers
):
    body = two_hosts_of_usage.get("/api/v1/usage/activity/", {**DAY, **params}).json()
    assert body["totals"]["tokens"]["total"] == tokens
    assert [r["consumer"] for r in body["top_consumers"]] == consumers
    assert body["filters"] == params


@pytest.mark.parametrize(
    ("params", "code", "fragment"),
    [
        ({"model": "gpt-9"}, "invalid_filter", "No model named 'gpt-9'"),
        ({"host": "nowhere"}, "invalid_filter", "No host named 'nowhere'"),
        ({"rows": "0"}, "invalid_rows", "rows must be"),
        ({"rows": "ten"}, "invalid_rows", "rows must be"),
        ({"rows": "1001"}, "invalid_rows", "rows must be"),
    ],
)
def test_an_unknown_model_or_host_or_a_bad_rows_is_a_400_naming_it(
    two_hosts_of_usage, params, code, fragment
):
    response = two_hosts_of_usage.get("/api/v1/usage/activity/", {**DAY, **params})
    assert response.status_code == 400
    assert response.json()["code"] == code and fragment in response.json()["detail"]


def test_rows_cuts_every_breakdown_and_more_names_those_cut(two_hosts_of_usage):
    body = two_hosts_of_usage.get("/api/v1/usage/activity/", {**DAY, "rows": "1"}).json()
    assert [len(body[name]) for name in ("by_model", "by_host", "top_consumers")] == [1, 1, 1]
    assert body["more"] == ["by_model", "by_provider", "by_host", "top_consumers"]
