"""The README's Production steps, run with the .env.example values, give a working site."""

import re
import subprocess
import sys

from cryptography.hazmat.primitives.asymmetric import ed25519

from config.env import BASE_DIR
from tests.factories import public_pem

STEPS_IN_ORDER = [
    "cp .env.example .env",
    "python manage.py migrate",
    "python manage.py collectstatic --noinput",
    "python manage.py check --deploy",
    "gunicorn config.wsgi",
    "python manage.py run_engine",
]

# The steps in-process, with STATIC_ROOT in a temporary folder instead of the checkout's.
FOLLOW_THE_STEPS = """
import sys
import django
from django.conf import settings
django.setup()
settings.STATIC_ROOT = sys.argv[1]
from django.core.management import call_command
from django.test import Client
call_command("migrate", verbosity=0)
call_command("collectstatic", "--noinput", verbosity=0)
call_command("check", "--deploy", "--fail-level", "WARNING")
client = Client(raise_request_exception=False)
page = client.get("/accounts/login/", secure=True, HTTP_HOST="tally.example.com")
print("login page", page.status_code)
"""


def readme_production_section() -> str:
    readme = (BASE_DIR / "README.md").read_text()
    match = re.search(r"^## Production\n(.*?)(?=^## |\Z)", readme, re.DOTALL | re.MULTILINE)
    assert match, "README.md has no '## Production' section"
    return match.group(1)


def env_example() -> dict[str, str]:
    lines = (BASE_DIR / ".env.example").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {name: value for name, value in pairs}


def test_the_readme_gives_the_production_steps_in_order():
    section = readme_production_section()
    positions = [section.find(step) for step in STEPS_IN_ORDER]
    assert -1 not in positions, dict(zip(STEPS_IN_ORDER, positions, strict=True))
    assert positions == sorted(positions)
    assert "LICENSE_PUBLIC_KEYS" in section


def test_the_readme_keeps_its_set_up_commands_and_points_at_nothing_outside_the_repository():
    readme = (BASE_DIR / "README.md").read_text()
    assert "git clone <this repository> tally && cd tally && bash bin/demo" in readme
    assert "git clone <this repository> tally && cd tally && bash bin/test" in readme
    assert "../shared" not in readme


def _run(script_or_command: list[str], environment: dict[str, str]):
    env = {
        "PATH": "/usr/bin:/bin",
        "HOME": str(BASE_DIR / "var"),
        "DJANGO_SETTINGS_MODULE": "config.settings.base",
        **environment,
    }
    return subprocess.run(
        [sys.executable, *script_or_command],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )


def test_following_the_steps_with_the_example_values_serves_the_login_page(
    tmp_path, empty_database_url
):
    keys = tmp_path / "license-keys.pem"
    keys.write_bytes(public_pem(ed25519.Ed25519PrivateKey.generate()))
    environment = {
        **env_example(),
        "DATABASE_URL": empty_database_url,
        "LICENSE_PUBLIC_KEYS": str(keys),
    }
    result = _run(["-c", FOLLOW_THE_STEPS, str(tmp_path / "static")], environment)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "login page 200" in result.stdout


def test_without_the_key_file_the_deployment_check_says_so_as_the_example_warns(
    tmp_path, empty_database_url
):
    environment = {
        **env_example(),
        "DATABASE_URL": empty_database_url,
        "LICENSE_PUBLIC_KEYS": str(tmp_path / "missing.jwks.json"),
    }
    result = _run(["manage.py", "check", "--deploy"], environment)
    assert result.returncode != 0
    assert "licensing.E001" in result.stderr
    example = (BASE_DIR / ".env.example").read_text()
    assert "licensing.E001" in example or "must exist" in example
