import os
import subprocess
import sys

import pytest
from django.core.exceptions import ImproperlyConfigured

from config.env import BASE_DIR, env_bool, env_database, env_path


@pytest.mark.parametrize(
    "raw, expected",
    [("true", True), ("1", True), ("Yes", True), ("false", False), ("0", False), ("off", False)],
)
def test_debug_values_that_read_as_booleans(monkeypatch, raw, expected):
    monkeypatch.setenv("DEBUG", raw)
    assert env_bool("DEBUG", default=not expected) is expected


def test_a_malformed_boolean_is_refused_with_the_variable_named(monkeypatch):
    monkeypatch.setenv("DEBUG", "maybe")
    with pytest.raises(ImproperlyConfigured, match=r"DEBUG='maybe' is not a boolean"):
        env_bool("DEBUG", default=False)


def test_postgres_url_is_parsed(monkeypatch):
    monkeypatch.setenv("DATABASE_URL", "postgres://tally:secret@db.example:5433/tally")
    config = env_database("DATABASE_URL", default="sqlite://:memory:")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example", 5433, "tally")


@pytest.mark.parametrize("url", ["nonsense", "mysql://u@h/db", "postgres://", "postgres://u@host"])
def test_malformed_database_urls_are_refused_with_the_variable_named(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL="):
        env_database("DATABASE_URL", default="sqlite://:memory:")


def test_a_relative_path_is_resolved_against_the_project_folder_not_the_working_directory(
    monkeypatch, tmp_path
):
    monkeypatch.chdir(tmp_path)  # gunicorn may start anywhere
    monkeypatch.setenv("LICENSE_PUBLIC_KEYS", "keys/vendor.pem")
    assert env_path("LICENSE_PUBLIC_KEYS") == str(BASE_DIR / "keys" / "vendor.pem")


def test_an_absolute_path_is_kept_and_an_empty_one_stays_empty(monkeypatch):
    monkeypatch.setenv("LICENSE_PUBLIC_KEYS", "/etc/tally/keys.jwks.json")
    assert env_path("LICENSE_PUBLIC_KEYS") == "/etc/tally/keys.jwks.json"
    monkeypatch.setenv("LICENSE_PUBLIC_KEYS", "")
    assert env_path("LICENSE_PUBLIC_KEYS") == ""
    monkeypatch.delenv("LICENSE_PUBLIC_KEYS")
    assert env_path("LICENSE_PUBLIC_KEYS") == ""


def _without_test_overrides() -> dict[str, str]:
    """The environment minus what config.settings.test relaxed for the test process."""
    return {k: v for k, v in os.environ.items() if k not in ("SECURE_SSL_REDIRECT", "DATABASE_URL")}


def _start_django(**environment: str) -> subprocess.CompletedProcess:
    env = {
        **_without_test_overrides(),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        **environment,
    }
    return subprocess.run(
        [sys.executable, "manage.py", "check"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


@pytest.mark.parametrize(
    "variable, value, message",
    [
        ("DEBUG", "maybe", "DEBUG='maybe' is not a boolean"),
        ("DATABASE_URL", "not-a-url", "DATABASE_URL='not-a-url' is not a database URL"),
    ],
)
def test_start_up_fails_with_a_clear_message_on_a_malformed_value(variable, value, message):
    result = _start_django(**{"DEBUG": "true", variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_the_deployment_checks(tmp_path):
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={
            **_without_test_overrides(),
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DEBUG": "false",
            "SECRET_KEY": "x" * 64 + "-production-like-secret-key-with-entropy-1234567890",
            "ALLOWED_HOSTS": "tally.example.com",
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
