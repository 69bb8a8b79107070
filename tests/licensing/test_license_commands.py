"""`license_keygen` and `issue_license` (SPEC §6.3), and the demo license of `seed_demo`."""

import stat
from io import StringIO

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from django.core.management import CommandError, call_command

from licensing.models import License
from licensing.selectors import tenant_entitlements
from licensing.services import license_apply
from usage.demo import DEMO_CAPS
from usage.demo.licenses import demo_license_apply


def run(*args) -> str:
    out = StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def vendor_keys(tmp_path, settings):
    directory = tmp_path / "vendor"
    run("license_keygen", "--out", str(directory))
    settings.LICENSE_PUBLIC_KEYS = str(directory / "public.pem")
    return directory


def test_license_keygen_writes_an_ed25519_pair_with_a_private_key_only_its_owner_reads(tmp_path):
    printed = run("license_keygen", "--out", str(tmp_path / "keys"))
    private, public = tmp_path / "keys" / "private.pem", tmp_path / "keys" / "public.pem"
    assert str(private) in printed and str(public) in printed
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    key = serialization.load_pem_private_key(private.read_bytes(), password=None)
    assert (
        key.public_key().public_bytes_raw()
        == serialization.load_pem_public_key(public.read_bytes()).public_bytes_raw()
    )


def test_license_keygen_refuses_to_overwrite_a_key_pair(tmp_path):
    run("license_keygen", "--out", str(tmp_path))
    before = (tmp_path / "private.pem").read_bytes()
    with pytest.raises(CommandError, match="refusing to overwrite"):
        run("license_keygen", "--out", str(tmp_path))
    assert (tmp_path / "private.pem").read_bytes() == before


def test_license_keygen_says_when_out_is_a_file_not_a_directory(tmp_path):
    out = tmp_path / "keys.txt"
    out.write_text("not a directory")
    with pytest.raises(CommandError) as error:
        run("license_keygen", "--out", str(out))
    assert str(error.value) == f"{out} is a file, not a directory: give --out a directory."
    assert out.read_text() == "not a directory"


def _issue(keys, tenant, *extra) -> str:
    return run(
        "issue_license",
        "--private-key", str(keys / "private.pem"),
        "--subject", str(tenant.license_subject),
        "--kind", "contract",
        "--hosts", "12",
        "--gateways", "unlimited",
        "--tasks", "500",
        *extra,
    ).strip()  # fmt: skip


def test_issue_license_prints_a_token_that_applies_with_its_caps_and_days(vendor_keys, tenant_a):
    token = _issue(vendor_keys, tenant_a, "--days", "365")
    license = license_apply(tenant=tenant_a, token=token, acting_user=None)
    assert (license.hosts_cap, license.gateways_cap, license.tasks_cap) == (12, None, 500)
    assert (license.expires_at - license.starts_at).days == 365
    assert jwt.get_unverified_header(token)["alg"] == "EdDSA"


def test_issue_license_without_days_is_perpetual_and_kid_goes_into_the_header(
    vendor_keys, tenant_a
):
    token = _issue(vendor_keys, tenant_a, "--kid", "vendor-2026")
    assert jwt.get_unverified_header(token)["kid"] == "vendor-2026"
    assert "exp" not in jwt.decode(token, options={"verify_signature": False})


def test_issue_license_signs_es256_with_a_p256_key(tmp_path, tenant_a):
    key = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "p256.pem"
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    token = _issue(tmp_path.parent, tenant_a, "--private-key", str(path))
    assert jwt.get_unverified_header(token)["alg"] == "ES256"


@pytest.mark.parametrize(
    "argument, value, message",
    [
        ("--hosts", "-1", "is not a cap"),
        ("--tasks", "lots", "is not a cap"),
        ("--days", "0", "is not a number of days"),
        ("--days", "36501", "runs at most 36500 days; for longer, omit --days"),
        ("--days", "3000000", "runs at most 36500 days; for longer, omit --days"),
        ("--subject", "tenant-a", "is not a license ID"),
        ("--kid", "../etc/passwd", "A key ID is up to 64"),
        ("--kind", "enterprise", "invalid choice"),
    ],
)
def test_issue_license_refuses_bad_arguments(vendor_keys, tenant_a, argument, value, message):
    with pytest.raises(CommandError, match=message):
        _issue(vendor_keys, tenant_a, argument, value)


def test_issue_license_accepts_the_longest_term(vendor_keys, tenant_a):
    token = _issue(vendor_keys, tenant_a, "--days", "36500")
    license = license_apply(tenant=tenant_a, token=token, acting_user=None)
    assert (license.expires_at - license.starts_at).days == 36500


def test_issue_license_refuses_a_missing_private_key(tmp_path, tenant_a):
    with pytest.raises(CommandError, match="cannot be read"):
        _issue(tmp_path / "nowhere", tenant_a)


def test_the_demo_license_is_applied_with_the_development_key_in_debug(
    settings, tmp_path, tenant_a
):
    settings.DEBUG, settings.LICENSE_PUBLIC_KEYS = True, ""
    settings.LICENSE_DEV_KEY_DIR = tmp_path / "dev-license-keys"
    license = demo_license_apply(tenant_a, caps=DEMO_CAPS)
    assert license.caps == DEMO_CAPS
    assert license.kind == "contract" and license.customer == "Tenant A"
    assert (license.expires_at - license.starts_at).days == 365
    assert tenant_entitlements(tenant_a).state == "licensed"


def test_no_demo_license_where_the_development_key_is_not_trusted(settings, tmp_path, tenant_a):
    settings.DEBUG, settings.LICENSE_PUBLIC_KEYS = False, ""
    settings.LICENSE_DEV_KEY_DIR = tmp_path / "dev-license-keys"
    assert demo_license_apply(tenant_a, caps=DEMO_CAPS) is None
    assert not License.objects.exists()
