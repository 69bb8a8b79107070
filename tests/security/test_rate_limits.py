"""Rate limits per token and per gateway (429 rate_limited, Retry-After), counted in the
shared database cache; login lockout after repeated failures (SPEC §6.1)."""

from django.core.cache import caches
from rest_framework.test import APIClient

from licensing.api_tokens.services import api_token_create


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_the_throttle_cache_is_postgresqls_database_cache_made_by_migrate(db):
    assert caches["throttle"].__class__.__name__ == "DatabaseCache"
    caches["throttle"].set("probe", 1)
    assert caches["throttle"].get("probe") == 1


def test_a_token_over_its_rate_is_429_rate_limited_with_retry_after(admin_a, rates):
    rates(api_token="5/min")
    client = bearer(api_token_create(user=admin_a, name="agent").secret)
    statuses = [client.get("/api/v1/tenant/").status_code for _ in range(8)]
    assert statuses == [200] * 5 + [429] * 3
    refused = client.get("/api/v1/tenant/")
    assert refused.json()["code"] == "rate_limited"
    assert 1 <= int(refused["Retry-After"]) <= 60


def test_each_token_has_its_own_budget(admin_a, rates):
    rates(api_token="3/min")
    first = bearer(api_token_create(user=admin_a, name="one").secret)
    second = bearer(api_token_create(user=admin_a, name="two").secret)
    assert [first.get("/api/v1/tenant/").status_code for _ in range(4)][-1] == 429
    assert second.get("/api/v1/tenant/").status_code == 200


def test_a_gateway_over_its_rate_is_429_and_stores_nothing_more(admin_a, rates):
    rates(gateway="3/min")
    admin = APIClient()
    admin.force_authenticate(admin_a)
    created = admin.post("/api/v1/gateways/", {"name": "Jira", "kind": "jira"}, format="json")
    gateway_id, secret = created.json()["id"], created.json()["secret"]
    gateway = bearer(secret)
    answers = [
        gateway.post(
            f"/api/v1/gateways/{gateway_id}/tickets/",
            {"external_id": f"INC-{n}", "subject": "Disk"},
            format="json",
        )
        for n in range(5)
    ]
    assert [answer.status_code for answer in answers] == [202] * 3 + [429] * 2
    assert answers[-1].json()["code"] == "rate_limited"
    assert "Retry-After" in answers[-1]
    from django.apps import apps

    assert apps.get_model("tasks.Ticket").objects.count() == 3


def test_repeated_failed_logins_lock_the_user_at_that_address_out(client, admin_a, settings):
    settings.AXES_FAILURE_LIMIT = 5
    for _ in range(5):
        client.post("/accounts/login/", {"username": "admin-a", "password": "wrong"})
    locked = client.post("/accounts/login/", {"username": "admin-a", "password": "password"})
    assert locked.status_code == 429
    assert b"Too many failed logins" in locked.content
    assert "_auth_user_id" not in client.session
    other_address = client.post(
        "/accounts/login/",
        {"username": "admin-a", "password": "password"},
        REMOTE_ADDR="10.1.2.3",
    )
    assert other_address.status_code == 302  # the lock is for this username at that address


def test_a_successful_login_resets_the_failure_count(client, admin_a, settings):
    settings.AXES_FAILURE_LIMIT = 3
    for _ in range(2):
        client.post("/accounts/login/", {"username": "admin-a", "password": "wrong"})
    assert client.post("/accounts/login/", {"username": "admin-a", "password": "password"})[
        "Location"
    ]
    client.logout()
    for _ in range(2):
        client.post("/accounts/login/", {"username": "admin-a", "password": "wrong"})
    ok = client.post("/accounts/login/", {"username": "admin-a", "password": "password"})
    assert ok.status_code == 302
