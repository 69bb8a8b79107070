"""API tokens (SPEC §6.1): tly_ secrets kept as a hash, scopes, expiry, revocation, last use."""

import hashlib
import importlib
import io
from datetime import timedelta

import pytest
import time_machine
from django.apps import apps
from django.core.management import call_command
from django.db import connection
from django.utils import timezone
from rest_framework.test import APIClient

from licensing.api_tokens.services import api_token_create, api_token_revoke
from licensing.models import ApiToken


def bearer(secret: str, keyword: str = "Bearer") -> APIClient:
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"{keyword} {secret}")
    return client


def test_a_token_is_tly_prefixed_high_entropy_and_stored_only_as_its_hash(admin_a):
    created = api_token_create(user=admin_a, name="agent")
    secret = created.secret
    assert secret.startswith("tly_") and len(secret) >= 4 + 43
    token = ApiToken.objects.get()
    assert token.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    stored = [str(value) for value in ApiToken.objects.values().get().values()]
    assert secret not in stored
    assert secret[4:] not in " ".join(stored)


def test_two_tokens_never_share_a_secret(admin_a):
    secrets = {api_token_create(user=admin_a, name=f"t{n}").secret for n in range(50)}
    assert len(secrets) == 50


@pytest.mark.parametrize("keyword", ["Bearer", "Token", "bearer"])
def test_bearer_and_token_keywords_both_authenticate(admin_a, keyword):
    secret = api_token_create(user=admin_a, name="agent").secret
    response = bearer(secret, keyword).get("/api/v1/tenant/")
    assert response.status_code == 200
    assert response.json()["slug"] == "tenant-a"


def test_an_unknown_token_is_401(db):
    response = bearer("tly_" + "x" * 43).get("/api/v1/tenant/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_invalid"


def test_an_expired_token_is_401_token_expired(admin_a):
    secret = api_token_create(user=admin_a, name="agent", expires_in_days=1).secret
    assert bearer(secret).get("/api/v1/tenant/").status_code == 200
    with time_machine.travel(timezone.now() + timedelta(days=1, seconds=1)):
        response = bearer(secret).get("/api/v1/tenant/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_expired"


def test_a_revoked_token_is_401_token_revoked(admin_a):
    created = api_token_create(user=admin_a, name="agent")
    api_token_revoke(token=created.token)
    response = bearer(created.secret).get("/api/v1/tenant/")
    assert response.status_code == 401
    assert response.json()["code"] == "token_revoked"
    assert "agent" in response.json()["detail"]


def test_a_token_of_a_deactivated_user_is_401(admin_a):
    secret = api_token_create(user=admin_a, name="agent").secret
    admin_a.is_active = False
    admin_a.save()
    assert bearer(secret).get("/api/v1/tenant/").status_code == 401


def test_a_members_full_token_has_only_the_members_rights(member_a):
    secret = api_token_create(user=member_a, name="member").secret
    assert bearer(secret).get("/api/v1/tasks/").status_code == 200
    assert bearer(secret).get("/api/v1/license/").status_code == 403


def test_a_read_token_reads_and_cannot_write(admin_a):
    secret = api_token_create(user=admin_a, name="reader", scope="read").secret
    assert bearer(secret).get("/api/v1/license/").status_code == 200
    response = bearer(secret).post("/api/v1/tasks/", {"title": "x"}, format="json")
    assert response.status_code == 403
    assert response.json()["code"] == "token_scope"
    assert apps.get_model("tasks.Task").objects.count() == 0


def test_a_usage_token_reports_usage_and_does_nothing_else(admin_a, vendor, tenant_a):
    secret = api_token_create(user=admin_a, name="agent", scope="usage").secret
    events = bearer(secret).post("/api/v1/usage/events/", {"events": []}, format="json")
    assert events.status_code != 403  # reached the view (an empty batch is its own 400)
    refused = [
        bearer(secret).get("/api/v1/usage/events/"),
        bearer(secret).get("/api/v1/license/"),
        bearer(secret).post("/api/v1/license/", {"token": vendor.token(tenant_a)}, format="json"),
        bearer(secret).post("/api/v1/hosts/", {"name": "web-1"}, format="json"),
        bearer(secret).post("/api/v1/tasks/", {"title": "x"}, format="json"),
    ]
    assert [response.status_code for response in refused] == [403] * len(refused)
    assert {response.json()["code"] for response in refused} == {"token_scope"}
    assert apps.get_model("licensing.License").objects.count() == 0
    assert apps.get_model("tasks.Host").objects.count() == 0


def test_last_used_is_written_at_most_once_a_minute(admin_a):
    created = api_token_create(user=admin_a, name="agent")
    start = timezone.now()
    with time_machine.travel(start, tick=False):
        bearer(created.secret).get("/api/v1/tenant/")
    first = ApiToken.objects.get().last_used_at
    assert first == start
    with time_machine.travel(start + timedelta(seconds=59), tick=False):
        bearer(created.secret).get("/api/v1/tenant/")
    assert ApiToken.objects.get().last_used_at == first
    with time_machine.travel(start + timedelta(seconds=61), tick=False):
        bearer(created.secret).get("/api/v1/tenant/")
    assert ApiToken.objects.get().last_used_at == start + timedelta(seconds=61)


def test_the_lookup_is_one_query_when_last_used_is_fresh(admin_a, django_assert_max_num_queries):
    created = api_token_create(user=admin_a, name="agent")
    bearer(created.secret).get("/api/v1/tenant/")
    from licensing.api_tokens.services import api_token_for_secret

    with django_assert_max_num_queries(1):
        api_token_for_secret(created.secret)


# --- the command ----------------------------------------------------------------------


def test_create_api_token_prints_the_token_alone_on_its_last_line(admin_a):
    out = io.StringIO()
    call_command(
        "create_api_token",
        "admin-a",
        "--name",
        "ci",
        "--scope",
        "usage",
        "--expires-in-days",
        "30",
        stdout=out,
        stderr=io.StringIO(),
    )
    secret = out.getvalue().strip().splitlines()[-1]
    assert secret.startswith("tly_")
    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.user) == ("ci", "usage", admin_a)
    assert token.expires_at > timezone.now() + timedelta(days=29)
    assert bearer(secret).post("/api/v1/usage/events/", {}, format="json").status_code != 401


def test_create_api_token_refuses_an_unknown_user(db):
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="No user"):
        call_command("create_api_token", "nobody")


# --- DRF tokens from before are hashed in place ----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_drf_tokens_are_hashed_in_place_and_keep_working(admin_a):
    key = "a" * 40
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE TABLE authtoken_token (key varchar(40) PRIMARY KEY, "
            "created timestamp with time zone NOT NULL, user_id integer NOT NULL)"
        )
        cursor.execute(
            "INSERT INTO authtoken_token VALUES (%s, %s, %s)", [key, timezone.now(), admin_a.pk]
        )
    migration = importlib.import_module("licensing.migrations.0004_api_tokens")
    with connection.schema_editor() as schema_editor:
        migration.hash_drf_tokens_in_place(apps, schema_editor)
    assert "authtoken_token" not in connection.introspection.table_names()
    token = ApiToken.objects.get()
    assert (token.user, token.scope, token.secret_hash) == (
        admin_a,
        "full",
        hashlib.sha256(key.encode()).hexdigest(),
    )
    assert bearer(key, "Token").get("/api/v1/tenant/").status_code == 200


# --- the admin -------------------------------------------------------------------------


def test_operators_see_tokens_in_the_admin_but_never_a_secret_or_hash(operator, admin_a, client):
    created = api_token_create(user=admin_a, name="agent")
    client.force_login(operator)
    listing = client.get("/admin/licensing/apitoken/")
    detail = client.get(f"/admin/licensing/apitoken/{created.token.pk}/change/")
    for page in (listing, detail):
        assert page.status_code == 200
        assert created.secret.encode() not in page.content
        assert created.token.secret_hash.encode() not in page.content
    assert b"agent" in listing.content
    assert b'name="name"' not in detail.content  # read-only: no input to edit


def test_operators_can_revoke_from_the_admin(operator, admin_a, client):
    created = api_token_create(user=admin_a, name="agent")
    client.force_login(operator)
    client.post(
        "/admin/licensing/apitoken/",
        {"action": "revoke", "_selected_action": [created.token.pk]},
    )
    assert ApiToken.objects.get().revoked_at is not None
