"""The README's license recipe, run as written on the demo's settings (DEBUG on, no
LICENSE_PUBLIC_KEYS: the development key pair under var/dev-license-keys/ is trusted), and the
vendor's tools running before their keys exist."""

import os
import subprocess
import sys
from io import StringIO
from pathlib import Path

import pytest
from django.core.management import call_command

from licensing.jwt import key_fingerprint
from licensing.keys import load_private_key
from licensing.models import License, Tenant
from licensing.selectors import cap_text, tenant_entitlements
from licensing.services import tenant_create, user_add
from usage.demo import DEMO_CAPS, DEMO_NAME, DEMO_SLUG, DEMO_ZONE
from usage.demo.licenses import demo_license_apply

pytestmark = pytest.mark.django_db
URL = "/settings/license/"
PROJECT = Path(__file__).resolve().parents[2]


def run(*args, **options) -> str:
    out = StringIO()
    call_command(*args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue().strip()


@pytest.fixture
def demo(settings, tmp_path):
    """`bash bin/demo`'s settings, tenant, logins and license (seed_demo's first steps; its
    hosts, tickets and usage take a minute and play no part here)."""
    settings.DEBUG, settings.LICENSE_PUBLIC_KEYS = True, ""
    settings.LICENSE_DEV_KEY_DIR = tmp_path / "var" / "dev-license-keys"
    tenant = tenant_create(name=DEMO_NAME, slug=DEMO_SLUG, timezone=DEMO_ZONE)
    admin = user_add(tenant=tenant, username="admin", admin=True, password="tally-admin")
    assert demo_license_apply(tenant, caps=DEMO_CAPS, acting_user=admin) is not None
    return tenant


def _log_in(client, username: str, password: str) -> None:
    response = client.post("/accounts/login/", {"username": username, "password": password})
    assert response.status_code == 302, "the login was refused"


def _recipe_token(private_key, tenant: Tenant) -> str:
    """The README's `issue_license` line, with the license ID copied from Settings > License."""
    return run(
        "issue_license", "--private-key", str(private_key),
        "--subject", str(tenant.license_subject), "--kind", "contract",
        "--hosts", "12", "--gateways", "5", "--tasks", "2000", "--days", "365",
        "--customer", "Initech",
    )  # fmt: skip


def test_the_readme_recipe_applies_on_the_demo_and_says_what_changed(demo, settings, client):
    tasks_before = tenant_entitlements(demo).cap("tasks")
    token = _recipe_token(settings.LICENSE_DEV_KEY_DIR / "private.pem", demo)
    _log_in(client, "admin", "tally-admin")  # the README's login

    preview = client.post(URL, {"token": token, "action": "preview"})
    assert preview.status_code == 200
    assert "Applying this license would change" in preview.content.decode()
    assert License.objects.get(tenant=demo, status="active").customer != "Initech"

    applied = client.post(URL, {"token": token, "action": "apply"}, follow=True)
    page = applied.content.decode()
    assert f"License applied: Tasks {cap_text(tasks_before)} → 2,000;" in page
    assert "customer Initech; valid until " in page
    history = page[page.index("License history") :]
    assert "Initech" in history and "2,000" in history  # the customer, in the history too
    assert "<dt>Customer</dt><dd>Initech</dd>" in page  # and on the current plan
    active = License.objects.get(tenant=demo, status="active")
    assert (active.customer, active.tasks_cap, active.applied_by_name) == ("Initech", 2000, "admin")


def test_a_key_from_license_keygen_is_refused_on_the_demo_naming_the_trusted_key(
    demo, settings, tmp_path, client
):
    run("license_keygen", "--out", str(tmp_path / "mine"))
    token = _recipe_token(tmp_path / "mine" / "private.pem", demo)
    _log_in(client, "admin", "tally-admin")
    response = client.post(URL, {"token": token, "action": "preview"})

    assert response.status_code == 400
    page = response.content.decode()
    dev_public = settings.LICENSE_DEV_KEY_DIR / "public.pem"
    trusted = key_fingerprint(load_private_key(settings.LICENSE_DEV_KEY_DIR / "private.pem"))
    assert "<code>bad_signature</code>" in page
    assert f"This installation trusts 1 key: EdDSA {trusted} from {dev_public}" in page
    assert "the development key" in page
    body = "".join(dev_public.read_text().splitlines()[1:-1])  # the key material itself
    assert (
        body not in page
        and key_fingerprint(load_private_key(tmp_path / "mine" / "private.pem")) not in trusted
    )


def test_the_readme_recipe_with_an_own_key_pair_and_license_public_keys(
    settings, tmp_path, tenant_a
):
    settings.DEBUG = True
    settings.LICENSE_PUBLIC_KEYS = str(tmp_path / "keys" / "public.pem")  # set before it exists
    printed = run("license_keygen", "--out", str(tmp_path / "keys"))
    assert "Fingerprint: SHA256:" in printed
    token = _recipe_token(tmp_path / "keys" / "private.pem", tenant_a)
    from licensing.services import license_apply

    license = license_apply(tenant=tenant_a, token=token, acting_user=None)
    assert (license.customer, license.caps["tasks"]) == ("Initech", 2000)


def manage(*args: str, **environment: str) -> subprocess.CompletedProcess:
    """`python manage.py ...` as an operator types it: system checks run as they would."""
    env = {**os.environ, "DEBUG": "true", **environment}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=PROJECT, env=env, capture_output=True, text=True, timeout=60,
    )  # fmt: skip


def test_the_vendors_tools_run_while_license_public_keys_names_a_missing_file(tmp_path, tenant_a):
    keys = tmp_path / "keys"
    missing = {"LICENSE_PUBLIC_KEYS": str(keys / "public.pem")}
    check = manage("check", **missing)
    assert check.returncode != 0 and "licensing.E001" in check.stderr  # the check still refuses

    keygen = manage("license_keygen", "--out", str(keys), **missing)
    assert keygen.returncode == 0, keygen.stderr
    assert f"Public key (set LICENSE_PUBLIC_KEYS to it): {keys / 'public.pem'}" in keygen.stdout

    (keys / "public.pem").unlink()  # issuing needs only the private key
    issue = manage(
        "issue_license", "--private-key", str(keys / "private.pem"),
        "--subject", str(tenant_a.license_subject), "--kind", "trial",
        "--hosts", "1", "--gateways", "1", "--tasks", "1", **missing,
    )  # fmt: skip
    assert issue.returncode == 0, issue.stderr
    assert issue.stdout.strip().count(".") == 2 and "Signed with the key SHA256:" in issue.stderr
