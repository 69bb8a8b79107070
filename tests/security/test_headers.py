"""Security headers (SPEC §6.1): a Content-Security-Policy allowing only the app's own scripts
and styles, HSTS when DEBUG is off, and `check --deploy` clean."""

import os
import re
import subprocess
import sys

import pytest
from django.test import Client

from config.env import BASE_DIR

PAGES = ["/accounts/login/", "/tasks/", "/settings/license/", "/settings/api-tokens/", "/usage/"]


def policy(response) -> dict[str, list[str]]:
    header = response["Content-Security-Policy"]
    return {part.split()[0]: part.split()[1:] for part in header.split(";") if part.strip()}


@pytest.mark.parametrize("path", PAGES)
def test_every_page_allows_only_its_own_scripts_and_styles(page_client_for, admin_a, path):
    response = page_client_for(admin_a).get(path)
    assert response.status_code == 200
    directives = policy(response)
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert directives["object-src"] == ["'none'"]


@pytest.mark.parametrize(
    "template",
    [
        "base.html",
        "registration/login.html",
        "registration/locked_out.html",
        "licensing/settings.html",
        "licensing/api_tokens.html",
        "licensing/api_token_revoke.html",
    ],
)
def test_these_templates_have_no_inline_script_or_style(template):
    text = (BASE_DIR / "templates" / template).read_text()
    assert not re.search(r"<script(?![^>]*\bsrc=)", text)
    assert "style=" not in text and "<style" not in text
    assert not re.search(r"\son[a-z]+=", text)


def test_the_500_page_may_use_its_own_inline_style_and_nothing_else(settings):
    settings.ROOT_URLCONF = "tests.config.urls_with_a_failing_view"
    response = Client(raise_request_exception=False).get("/fails/")
    assert response.status_code == 500
    style = policy(response)["style-src"]
    assert style[0] == "'self'" and style[1].startswith("'sha256-")
    assert policy(response)["script-src"] == ["'self'"]


def test_the_api_docs_load_their_script_from_a_file(admin_client_page):
    page = admin_client_page.get("/api/docs/")
    assert page.status_code == 200
    assert policy(page)["script-src"] == ["'self'"]
    assert b"<script>" not in page.content
    script = admin_client_page.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")


@pytest.fixture
def admin_client_page(page_client_for, admin_a):
    return page_client_for(admin_a)


def test_hsts_is_sent_when_debug_is_off(page_client_for, admin_a):
    response = page_client_for(admin_a).get("/tasks/", secure=True)
    assert response["Strict-Transport-Security"].startswith("max-age=31536000")


def test_check_deploy_is_clean_with_production_settings(tmp_path):
    keys = tmp_path / "public.pem"
    from cryptography.hazmat.primitives.asymmetric import ed25519

    from tests.factories import public_pem

    keys.write_bytes(public_pem(ed25519.Ed25519PrivateKey.generate()))
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(tmp_path),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        "DEBUG": "false",
        "SECRET_KEY": "a-long-random-production-secret-key-0123456789-abcdefghijklmnop",
        "ALLOWED_HOSTS": "tally.example.com",
        "LICENSE_PUBLIC_KEYS": str(keys),
        "DATABASE_URL": os.environ["DATABASE_URL"],
    }
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
