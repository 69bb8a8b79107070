"""Settings > API tokens (SPEC §6.2): staff only; the secret shown once; revoke confirms first."""

import re

import pytest

from licensing.api_tokens.services import api_token_create
from licensing.models import ApiToken

PAGE = "/settings/api-tokens/"


@pytest.mark.parametrize(("who", "status"), [("member_a", 403), ("operator", 403)])
def test_only_tenant_administrators_open_the_page(cast, page_client_for, who, status):
    assert page_client_for(cast[who]).get(PAGE).status_code == status


def test_anonymous_visitors_are_sent_to_log_in(client, db):
    response = client.get(PAGE)
    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_created_token_is_shown_once_then_never_again(page_client_for, admin_a):
    client = page_client_for(admin_a)
    created = client.post(PAGE, {"name": "agent web-3", "scope": "usage", "expires_in_days": "30"})
    assert created.status_code == 303
    shown = client.get(PAGE)
    secret = re.search(rb"tly_[A-Za-z0-9_-]{43}", shown.content).group().decode()
    assert shown["Cache-Control"].startswith("max-age=0")
    token = ApiToken.objects.get()
    assert (token.name, token.scope, token.user) == ("agent web-3", "usage", admin_a)
    again = client.get(PAGE)
    assert secret.encode() not in again.content
    assert b"agent web-3" in again.content
    assert token.prefix.encode() in again.content


def test_a_token_without_a_name_is_a_form_error(page_client_for, admin_a):
    response = page_client_for(admin_a).post(PAGE, {"name": "", "scope": "full"})
    assert response.status_code == 400
    assert not ApiToken.objects.exists()


def test_revoke_asks_for_confirmation_first(page_client_for, admin_a):
    created = api_token_create(user=admin_a, name="agent")
    client = page_client_for(admin_a)
    confirm = client.get(f"{PAGE}{created.token.pk}/revoke/")
    assert confirm.status_code == 200
    assert b"Revoke the API token" in confirm.content
    assert ApiToken.objects.get().revoked_at is None
    done = client.post(f"{PAGE}{created.token.pk}/revoke/")
    assert done.status_code == 302
    assert ApiToken.objects.get().revoked_at is not None
    assert b"Revoked" in client.get(PAGE).content


def test_another_tenants_token_is_404_and_unlisted(page_client_for, admin_a, admin_b):
    theirs = api_token_create(user=admin_b, name="their agent").token
    client = page_client_for(admin_a)
    assert b"their agent" not in client.get(PAGE).content
    assert client.post(f"{PAGE}{theirs.pk}/revoke/").status_code == 404
    assert ApiToken.objects.get().revoked_at is None
