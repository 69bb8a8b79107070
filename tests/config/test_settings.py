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
    config = env_database("DATABASE_URL")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["HOST"], config["PORT"], config["NAME"]) == ("db.example", 5433, "tally")


def test_a_unix_socket_url_like_the_embedded_servers_is_parsed(monkeypatch):
    monkeypatch.setenv(
        "DATABASE_URL", "postgres://postgres@/tally?host=/srv/tally/var/postgres/data"
    )
    config = env_database("DATABASE_URL")
    assert config["ENGINE"] == "django.db.backends.postgresql"
    assert (config["NAME"], config["USER"]) == ("tally", "postgres")
    assert config["OPTIONS"]["host"] == "/srv/tally/var/postgres/data"


def test_an_unset_database_url_is_refused_and_says_where_one_comes_from(monkeypatch):
    monkeypatch.delenv("DATABASE_URL", raising=False)
    with pytest.raises(ImproperlyConfigured, match=r"DATABASE_URL is not set: bin/demo and bin/"):
        env_database("DATABASE_URL")


@pytest.mark.parametrize(
    "url", ["sqlite:////tmp/tally.sqlite3", "sqlite://:memory:", "mysql://u@h/db"]
)
def test_any_database_but_postgresql_is_refused_by_name(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ImproperlyConfigured, match=r"is not a PostgreSQL URL"):
        env_database("DATABASE_URL")


@pytest.mark.parametrize("url", ["nonsense", "postgres://", "postgres://u@host"])
def test_malformed_database_urls_are_refused_with_the_variable_named(monkeypatch, url):
    monkeypatch.setenv("DATABASE_URL", url)
    with pytest.raises(ImproperlyConfigured, match="DATABASE_URL="):
        env_database("DATABASE_URL")


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
    return {k: v for k, v in os.environ.items() if k != "SECURE_SSL_REDIRECT"}


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
        ("DATABASE_URL", "not-a-url", "DATABASE_URL='not-a-url' is not a PostgreSQL URL"),
        ("DATABASE_URL", "sqlite:///tally.sqlite3", "is not a PostgreSQL URL"),
        ("DATABASE_URL", "", "DATABASE_URL is not set"),
    ],
)
def test_start_up_fails_with_a_clear_message_on_a_malformed_value(variable, value, message):
    result = _start_django(**{"DEBUG": "true", variable: value})
    assert result.returncode != 0
    assert message in result.stderr


def test_production_settings_pass_the_deployment_checks():
    result = subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=BASE_DIR,
        env={
            **_without_test_overrides(),
            "DJANGO_SETTINGS_MODULE": "config.settings.base",
            "DEBUG": "false",
            "SECRET_KEY": "x" * 64 + "-production-like-secret-key-with-entropy-1234567890",
            "ALLOWED_HOSTS": "tally.example.com",
        },
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stdout + result.stderr
