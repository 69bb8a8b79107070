"""Where verification keys come from: PEM, JWKS, the development key pair, and misconfiguration."""

import re
import stat

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.core.exceptions import ImproperlyConfigured

from licensing.checks import license_keys_check
from licensing.errors import LicenseRefused
from licensing.jwt import encode_license
from licensing.keys import configured_keys, dev_key_pair, load_private_key, load_public_keys
from licensing.services import license_apply
from tests.factories import jwks, public_pem


@pytest.fixture
def no_keys(settings, tmp_path):
    settings.LICENSE_PUBLIC_KEYS = ""
    settings.LICENSE_DEV_KEY_DIR = tmp_path / "dev-license-keys"
    return settings


def test_a_pem_file_may_hold_several_public_keys_of_each_kind(tmp_path):
    private_keys = [
        ed25519.Ed25519PrivateKey.generate(),
        ec.generate_private_key(ec.SECP256R1()),
        rsa.generate_private_key(65537, 2048),
    ]
    path = tmp_path / "keys.pem"
    path.write_bytes(b"# vendor keys\n" + public_pem(*private_keys))
    keys = load_public_keys(path)
    assert [type(k.key) for k in keys] == [type(p.public_key()) for p in private_keys]
    assert all(k.kid is None for k in keys)


def test_a_jwks_file_names_its_keys(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(
        jwks(
            {
                "a": ed25519.Ed25519PrivateKey.generate(),
                "b": ec.generate_private_key(ec.SECP256R1()),
            }
        )
    )
    assert [k.kid for k in load_public_keys(path)] == ["a", "b"]


def _pem_private(key) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )


@pytest.mark.parametrize(
    "content, message",
    [
        (lambda: _pem_private(ed25519.Ed25519PrivateKey.generate()), "holds a private key"),
        (lambda: b"nothing here", "holds no public key"),
        (lambda: b'{"keys": 3}', "not a JWKS document"),
        (
            lambda: public_pem(ec.generate_private_key(ec.SECP384R1())),
            "elliptic-curve key on secp384r1",
        ),
        (lambda: public_pem(rsa.generate_private_key(65537, 1024)), "1024-bit RSA key"),
    ],
    ids=["private-key", "empty", "bad-jwks", "p384", "short-rsa"],
)
def test_a_bad_key_file_is_a_configuration_error_that_names_the_setting(tmp_path, content, message):
    path = tmp_path / "keys"
    path.write_bytes(content())
    with pytest.raises(ImproperlyConfigured, match=message) as error:
        load_public_keys(path)
    assert "LICENSE_PUBLIC_KEYS=" in str(error.value)


def test_a_jwks_with_a_private_key_is_refused(tmp_path):
    import json

    import jwt

    entry = jwt.algorithms.OKPAlgorithm.to_jwk(ed25519.Ed25519PrivateKey.generate(), as_dict=True)
    path = tmp_path / "keys.json"
    path.write_text(json.dumps({"keys": [entry]}))
    with pytest.raises(ImproperlyConfigured, match="private key"):
        load_public_keys(path)


def test_the_system_check_reports_a_missing_key_file(settings, tmp_path):
    settings.LICENSE_PUBLIC_KEYS = str(tmp_path / "missing.pem")
    [error] = license_keys_check(None)
    assert error.id == "licensing.E001" and "cannot be read" in error.msg


def test_with_debug_and_no_keys_a_development_pair_is_made_once_and_trusted(no_keys):
    no_keys.DEBUG = True
    directory = no_keys.LICENSE_DEV_KEY_DIR
    assert not directory.exists()
    [key] = configured_keys()
    private, public = dev_key_pair()
    assert private.parent == directory
    assert stat.S_IMODE(private.stat().st_mode) == 0o600
    before = private.read_bytes()
    configured_keys()
    assert private.read_bytes() == before
    assert key.key.public_bytes_raw() == load_private_key(private).public_key().public_bytes_raw()
    assert license_keys_check(None) == []


def test_without_debug_the_development_key_is_never_trusted(no_keys, tenant_a):
    no_keys.DEBUG = True
    private, _ = dev_key_pair()
    token = encode_license(
        private_key=load_private_key(private),
        subject=str(tenant_a.license_subject),
        kind="contract",
        caps={"hosts": 1, "gateways": 1, "tasks": 1},
    )
    no_keys.DEBUG = False
    assert configured_keys() == []
    with pytest.raises(LicenseRefused) as refused:
        license_apply(tenant=tenant_a, token=token, acting_user=None)
    assert refused.value.code == "unknown_key"
    [info] = license_keys_check(None)
    assert info.id == "licensing.I001"


def test_configured_keys_replace_the_development_key_even_with_debug(no_keys, tmp_path, tenant_a):
    no_keys.DEBUG = True
    private, _ = dev_key_pair()
    vendor_key = tmp_path / "vendor.pem"
    vendor_key.write_bytes(public_pem(ed25519.Ed25519PrivateKey.generate()))
    no_keys.LICENSE_PUBLIC_KEYS = str(vendor_key)
    token = encode_license(
        private_key=load_private_key(private),
        subject=str(tenant_a.license_subject),
        kind="trial",
        caps={"hosts": 1, "gateways": 1, "tasks": 1},
    )
    with pytest.raises(LicenseRefused) as refused:
        license_apply(tenant=tenant_a, token=token, acting_user=None)
    assert refused.value.code == "bad_signature"


def test_no_private_key_is_committed_to_the_repository():
    import subprocess

    from django.conf import settings

    listing = subprocess.run(
        ["git", "ls-files", "-z"], cwd=settings.BASE_DIR, capture_output=True, check=False
    )
    if listing.returncode != 0:
        pytest.skip("not a git checkout")
    private_pem = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----")
    offenders = []
    for name in filter(None, listing.stdout.split(b"\0")):
        path = settings.BASE_DIR / name.decode()
        if path.is_file() and private_pem.search(path.read_bytes()):
            offenders.append(name.decode())
    assert offenders == []
