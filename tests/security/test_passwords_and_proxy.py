"""Weak passwords are refused on every path that sets one; proxy headers are trusted only when
TRUST_PROXY_HEADERS says a proxy sets them (SPEC §6.1, issue 12)."""

import os
import subprocess
import sys

import pytest
from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import CommandError

from config.env import BASE_DIR

WEAK = ["password", "12345678", "alice1234", "short"]


@pytest.mark.parametrize("password", WEAK)
def test_add_user_refuses_a_weak_password_and_creates_nothing(tenant_a, password):
    with pytest.raises(CommandError, match="The password is not accepted"):
        call_command("add_user", "tenant-a", "alice", "--password", password)
    assert not get_user_model().objects.filter(username="alice").exists()


def test_add_user_takes_a_strong_password(tenant_a):
    call_command("add_user", "tenant-a", "alice", "--password", "copper-lantern-91")
    assert get_user_model().objects.get(username="alice").check_password("copper-lantern-91")


@pytest.mark.parametrize("password", WEAK[:2])
def test_the_admin_refuses_a_weak_password_for_a_new_user(client, operator, password):
    client.force_login(operator)
    response = client.post(
        "/admin/auth/user/add/",
        {
            "username": "bob",
            "password1": password,
            "password2": password,
            "usable_password": "true",
        },
    )
    assert response.status_code == 200
    assert not get_user_model().objects.filter(username="bob").exists()


@pytest.mark.parametrize("password", WEAK[:2])
def test_a_password_change_refuses_a_weak_password(client, operator, password):
    client.force_login(operator)
    response = client.post(
        "/admin/password_change/",
        {"old_password": "password", "new_password1": password, "new_password2": password},
    )
    assert response.status_code == 200
    operator.refresh_from_db()
    assert operator.check_password("password")


def _proxy_header_setting(trust: str | None) -> str:
    env = {
        "PATH": "/usr/bin:/bin",
        "DEBUG": "false",
        "SECRET_KEY": "x" * 50,
        "DATABASE_URL": os.environ["DATABASE_URL"],  # settings need one; nothing connects
    }
    if trust is not None:
        env["TRUST_PROXY_HEADERS"] = trust
    script = "import config.settings.base as s; print(getattr(s, 'SECURE_PROXY_SSL_HEADER', None))"
    return subprocess.run(
        [sys.executable, "-c", script], cwd=BASE_DIR, env=env, capture_output=True, text=True
    ).stdout.strip()


def test_x_forwarded_proto_is_trusted_only_when_a_proxy_is_declared():
    assert _proxy_header_setting(None) == "None"
    assert _proxy_header_setting("false") == "None"
    assert _proxy_header_setting("true") == "('HTTP_X_FORWARDED_PROTO', 'https')"
