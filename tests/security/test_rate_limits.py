"""Rate limits per token and per gateway (429 rate_limited, Retry-After), counted in
PostgreSQL (or Redis); login lockout after repeated failures (SPEC §6.1)."""

from datetime import UTC, datetime, timedelta

import time_machine
from django.core.cache import caches
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from rest_framework.test import APIClient

from config.throttling import request_counted
from licensing.api_tokens.services import api_token_create


def bearer(secret: str) -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Bearer {secret}")
    return client


def test_rate_limits_count_in_postgresql_in_one_statement_per_request(admin_a, rates):
    rates(api_token="5/min")
    token = api_token_create(user=admin_a, name="agent")
    client = bearer(token.secret)
    client.get("/api/v1/tenant/")

    with CaptureQueriesContext(connection) as queries:
        request_counted("probe", period=timedelta(minutes=1), now=timezone.now())

    assert len(queries) == 1 and "tally_rate_counter" in queries[0]["sql"]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT requests FROM tally_rate_counter WHERE key = %s",
            [f"throttle:token:{token.token.pk}"],
        )
        assert cursor.fetchone() == (1,)


def test_a_window_opens_again_once_its_period_is_over(admin_a, rates):
    rates(api_token="2/min")
    client = bearer(api_token_create(user=admin_a, name="agent").secret)
    start = datetime(2026, 11, 20, 12, 0, 30, tzinfo=UTC)
    with time_machine.travel(start, tick=False) as clock:
        assert [client.get("/api/v1/tenant/").status_code for _ in range(3)] == [200, 200, 429]
        clock.move_to(start + timedelta(seconds=45))
        refused = client.get("/api/v1/tenant/")
        assert refused.status_code == 429 and refused["Retry-After"] == "15"
        clock.move_to(start + timedelta(seconds=61))
        assert client.get("/api/v1/tenant/").status_code == 200


def test_with_redis_set_the_window_is_counted_in_the_shared_cache(admin_a, rates, settings):
    settings.CACHES = {
        **settings.CACHES,
        "throttle": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"},
    }
    rates(api_token="3/min")
    token = api_token_create(user=admin_a, name="agent")
    client = bearer(token.secret)

    statuses = [client.get("/api/v1/tenant/").status_code for _ in range(4)]

    assert statuses == [200, 200, 200, 429]
    assert caches["throttle"].get(f"throttle:token:{token.token.pk}") == 4
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM tally_rate_counter")
        assert cursor.fetchone() == (0,)  # nothing counted in PostgreSQL


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
