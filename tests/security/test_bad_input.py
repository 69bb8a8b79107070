"""Bad input at every entry point reachable over HTTP is a 400 (or a form error) with a code,
never a 500, and changes nothing (SPEC §6.1). `BAD_INPUTS` counts what is tried, by category."""

import json
from datetime import UTC, datetime

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from config.parsers import MAX_DEPTH

NUL, SURROGATE = "\x00", "\ud800"


def nested(depth: int) -> str:
    """`depth` levels of JSON arrays around a string, as text (json.dumps would recurse)."""
    return "[" * depth + '"x"' + "]" * depth


def raw_post(client, path: str, body: str | bytes, **extra):
    data = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return client.post(path, data, content_type="application/json", **extra)


def counts() -> dict[str, int]:
    names = ["tasks.Task", "tasks.Ticket", "usage.UsageEvent", "licensing.License"]
    return {name: apps.get_model(name).objects.count() for name in names}


@pytest.fixture
def admin_client(admin_a):
    client = APIClient()
    client.force_authenticate(admin_a)
    return client


@pytest.fixture
def gateway(admin_client):
    created = admin_client.post(
        "/api/v1/gateways/", {"name": "Jira", "kind": "jira"}, format="json"
    )
    assert created.status_code == 201, created.content
    return created.json()["id"], created.json()["secret"]


TASK = {"title": "Rotate the logs"}
TICKET = {"external_id": "INC-1", "subject": "Disk almost full"}


def usage_batch(**record) -> dict:
    base = {
        "request_id": "req-1",
        "occurred_at": datetime(2026, 1, 5, tzinfo=UTC).isoformat(),
        "model": "gpt-4o",
        "input_tokens": 10,
        "output_tokens": 2,
        "cached_tokens": 0,
    }
    return {"events": [{**base, **record}]}


DEEP = [MAX_DEPTH + 1, 1_000, 100_000]
WRONG_TEXT_TYPES = [12.5, 7, True, [], {}]
NUL_OR_SURROGATE = [NUL, SURROGATE, f"a{NUL}b", f"ok{SURROGATE}", "\udfff", "\ud83d"]


# --- deep, broken and oversize JSON on every JSON entry point --------------------------


ENTRY_POINTS = ["/api/v1/tasks/", "/api/v1/usage/events/", "/api/v1/license/"]


@pytest.mark.parametrize("path", ENTRY_POINTS)
@pytest.mark.parametrize("depth", DEEP)
def test_json_nested_too_deep_is_a_400_malformed_and_changes_nothing(admin_client, path, depth):
    before = counts()
    response = raw_post(admin_client, path, nested(depth))
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert f"more than {MAX_DEPTH} levels" in response.json()["detail"]
    assert counts() == before


@pytest.mark.parametrize("depth", DEEP)
def test_a_gateway_delivery_nested_too_deep_is_a_400_malformed(gateway, depth):
    gateway_id, secret = gateway
    response = raw_post(
        APIClient(),
        f"/api/v1/gateways/{gateway_id}/tickets/",
        nested(depth),
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400
    assert response.json()["code"] == "malformed"
    assert apps.get_model("tasks.Ticket").objects.count() == 0


def test_json_at_the_depth_limit_is_read(admin_client):
    response = raw_post(admin_client, "/api/v1/tasks/", nested(MAX_DEPTH))
    assert response.status_code == 400
    assert response.json()["code"] != "malformed"  # read, then refused by the serializer


BROKEN = [
    b"{not json",
    b'{"title": NaN}',
    b'{"title": Infinity}',
    b'{"title": "x", "n": ' + b"9" * 5000 + b"}",
    b'{"title": "\xff\xfe"}',
    b'{"title": "a',
]


@pytest.mark.parametrize("path", ENTRY_POINTS)
@pytest.mark.parametrize("body", BROKEN)
def test_a_body_that_is_not_json_is_a_400_parse_error(admin_client, path, body):
    before = counts()
    response = raw_post(admin_client, path, body)
    assert response.status_code == 400
    assert response.json()["code"] == "parse_error"
    assert counts() == before


@pytest.mark.parametrize("path", ENTRY_POINTS)
def test_an_oversize_body_is_a_400_too_large(admin_client, settings, path):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    before = counts()
    response = raw_post(admin_client, path, json.dumps({"title": "x" * 2000}))
    assert response.status_code == 400
    assert response.json()["code"] == "too_large"
    assert counts() == before


# --- NUL and lone surrogates in text ------------------------------------------------


@pytest.mark.parametrize("text", NUL_OR_SURROGATE)
def test_a_task_title_with_a_nul_or_lone_surrogate_is_a_400_naming_the_field(admin_client, text):
    response = raw_post(admin_client, "/api/v1/tasks/", json.dumps({"title": text}))
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_text"
    assert list(response.json()["errors"]) == ["title"]
    assert apps.get_model("tasks.Task").objects.count() == 0


@pytest.mark.parametrize("field", ["model", "request_id", "consumer"])
@pytest.mark.parametrize("text", NUL_OR_SURROGATE)
def test_a_usage_record_with_a_nul_or_lone_surrogate_is_a_400_naming_record_and_field(
    admin_client, field, text
):
    response = raw_post(
        admin_client, "/api/v1/usage/events/", json.dumps(usage_batch(**{field: text}))
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_text"
    assert list(response.json()["errors"]) == [f"events[0].{field}"]
    assert apps.get_model("usage.UsageEvent").objects.count() == 0


@pytest.mark.parametrize("field", ["external_id", "subject", "body"])
@pytest.mark.parametrize("text", NUL_OR_SURROGATE)
def test_a_gateway_delivery_with_a_nul_or_lone_surrogate_is_a_400_naming_the_field(
    gateway, field, text
):
    gateway_id, secret = gateway
    response = raw_post(
        APIClient(),
        f"/api/v1/gateways/{gateway_id}/tickets/",
        json.dumps({**TICKET, field: text}),
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400
    assert response.json()["errors"] == {field: [response.json()["detail"]]}
    assert apps.get_model("tasks.Ticket").objects.count() == 0


def test_a_key_holding_a_nul_is_named_escaped_in_the_answer(admin_client):
    response = raw_post(admin_client, "/api/v1/tasks/", json.dumps({f"ti{NUL}tle": "x"}))
    assert response.status_code == 400
    assert list(response.json()["errors"]) == ["ti\\u0000tle"]


def test_a_pasted_license_token_holding_a_nul_is_a_400(admin_client):
    before = counts()
    response = raw_post(admin_client, "/api/v1/license/", json.dumps({"token": f"eyJ{NUL}"}))
    assert response.status_code == 400
    assert response.json()["errors"] == {"token": [response.json()["detail"]]}
    assert counts() == before


# --- a number is not text -------------------------------------------------------------


@pytest.mark.parametrize("value", WRONG_TEXT_TYPES)
def test_a_task_title_that_is_not_text_is_a_400_on_title(admin_client, value):
    response = admin_client.post("/api/v1/tasks/", {"title": value}, format="json")
    assert response.status_code == 400
    assert "title" in response.json()["errors"]
    assert apps.get_model("tasks.Task").objects.count() == 0


@pytest.mark.parametrize("value", WRONG_TEXT_TYPES)
def test_a_delivered_subject_that_is_not_text_is_a_400_on_subject(gateway, value):
    gateway_id, secret = gateway
    response = APIClient().post(
        f"/api/v1/gateways/{gateway_id}/tickets/",
        {**TICKET, "subject": value},
        format="json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert response.status_code == 400
    assert "subject" in response.json()["errors"]
    assert apps.get_model("tasks.Ticket").objects.count() == 0


@pytest.mark.parametrize("value", WRONG_TEXT_TYPES)
def test_a_license_token_that_is_not_text_is_a_400_on_token(admin_client, value):
    response = admin_client.post("/api/v1/license/", {"token": value}, format="json")
    assert response.status_code == 400
    assert "token" in response.json()["errors"]


@pytest.mark.parametrize("value", [12.5, True, ["gpt"], {"name": "gpt"}])
def test_a_usage_model_that_is_not_text_is_a_400(admin_client, value):
    response = admin_client.post("/api/v1/usage/events/", usage_batch(model=value), format="json")
    assert response.status_code == 400
    assert apps.get_model("usage.UsageEvent").objects.count() == 0


# --- license claims -------------------------------------------------------------------


LICENSE_TEXT_CLAIMS = ["jti", "customer", "iss", "sub"]


@pytest.mark.parametrize("claim", LICENSE_TEXT_CLAIMS)
@pytest.mark.parametrize("text", [f"lic{NUL}", f"lic{SURROGATE}", "\udc00"])
def test_a_signed_license_with_a_nul_or_lone_surrogate_claim_is_invalid_claim(
    admin_client, vendor, tenant_a, claim, text
):
    token = vendor.token(tenant_a, **{claim: text})
    response = admin_client.post("/api/v1/license/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_claim"
    assert claim in response.json()["detail"]
    assert apps.get_model("licensing.License").objects.count() == 0


def test_an_extra_claim_deep_inside_the_license_is_checked_too(admin_client, vendor, tenant_a):
    token = vendor.token(tenant_a, notes={"lines": ["fine", f"bad{NUL}"]})
    response = admin_client.post("/api/v1/license/", {"token": token}, format="json")
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_claim"
    assert "notes.lines[1]" in response.json()["detail"]


def test_the_license_page_shows_invalid_claim_for_a_nul_in_jti(
    page_client_for, admin_a, vendor, tenant_a
):
    token = vendor.token(tenant_a, jti=f"a{NUL}b")
    response = page_client_for(admin_a).post("/settings/license/", {"token": token})
    assert response.status_code == 400
    assert b"claim &#x27;jti&#x27; holds a NUL" in response.content
    assert apps.get_model("licensing.License").objects.count() == 0


def test_a_valid_license_still_applies(admin_client, vendor, tenant_a):
    token = vendor.token(tenant_a, customer="Acme — Zürich 🚀")
    response = admin_client.post("/api/v1/license/", {"token": token}, format="json")
    assert response.status_code == 201
    assert response.json()["license"]["customer"] == "Acme — Zürich 🚀"


# --- pages (Django forms) and query strings ---------------------------------------------


def test_a_task_page_post_with_a_nul_title_is_a_form_error(page_client_for, admin_a):
    response = page_client_for(admin_a).post("/tasks/", {"title": f"a{NUL}b"})
    assert response.status_code in (200, 400)
    assert b"Null characters are not allowed" in response.content
    assert apps.get_model("tasks.Task").objects.count() == 0


def test_a_lone_surrogate_in_a_form_post_arrives_replaced_never_as_a_surrogate(
    page_client_for, admin_a
):
    client = page_client_for(admin_a)
    response = client.post(
        "/tasks/", "title=a%ED%A0%80b", content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code in (200, 302, 303)
    assert apps.get_model("tasks.Task").objects.get().title == "a\ufffd\ufffd\ufffdb"


def test_a_login_with_a_nul_username_is_a_form_error(client, admin_a):
    response = client.post("/accounts/login/", {"username": f"admin-a{NUL}", "password": "x"})
    assert response.status_code == 200
    assert b"Null characters are not allowed" in response.content


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/tickets/?status=%00",
        "/api/v1/usage/activity/?model=%00",
        "/api/v1/tasks/?x%00=1",
    ],
)
def test_a_nul_in_an_api_query_parameter_is_a_400(admin_client, path):
    response = admin_client.get(path)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_text"


@pytest.mark.parametrize("path", ["/usage/?model=%00", "/tickets/?status=%00"])
def test_a_nul_in_a_page_query_parameter_is_a_400(page_client_for, admin_a, path):
    assert page_client_for(admin_a).get(path).status_code == 400


BAD_INPUTS = {
    "deep": len(ENTRY_POINTS) * len(DEEP) + len(DEEP),
    "not json": len(ENTRY_POINTS) * len(BROKEN),
    "oversize": len(ENTRY_POINTS),
    "NUL/surrogate": len(NUL_OR_SURROGATE) * (1 + 3 + 3) + 2 + 5,
    "wrong type": len(WRONG_TEXT_TYPES) * 3 + 4,
    "bad license": len(LICENSE_TEXT_CLAIMS) * 3 + 2,
}
