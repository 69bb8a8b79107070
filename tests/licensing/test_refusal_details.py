"""`bad_signature` and `unknown_key` say which keys this installation trusts (kid, algorithm,
SHA-256 fingerprint, the file they came from) so an operator sees a key mismatch; never the
key material."""

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from licensing.errors import LicenseRefused
from licensing.jwt import decode_license, key_fingerprint
from licensing.keys import load_public_keys
from tests.factories import Vendor, claims_for, jwks, public_pem


def _refusal(token, keys) -> LicenseRefused:
    with pytest.raises(LicenseRefused) as refused:
        decode_license(token, keys)
    return refused.value


def test_a_bad_signature_names_the_trusted_pem_keys_and_their_file(tmp_path, settings):
    trusted, other = ed25519.Ed25519PrivateKey.generate(), ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "vendor.pem"
    path.write_bytes(public_pem(trusted, other))
    token = Vendor().sign(claims_for("a-tenant"))  # a key nobody configured

    refusal = _refusal(token, load_public_keys(path))
    assert refusal.code == "bad_signature"
    assert (
        f"This installation trusts 2 keys: EdDSA {key_fingerprint(trusted)} from {path}; "
        f"ES256 {key_fingerprint(other)} from {path}." in refusal.detail
    )
    pem_body = "".join(public_pem(trusted).decode().splitlines()[1:-1])
    assert pem_body not in refusal.detail


def test_an_unknown_kid_names_the_configured_kids(tmp_path):
    vendor = Vendor()
    path = tmp_path / "keys.json"
    path.write_text(jwks({"2026-a": vendor.key}))
    token = vendor.sign(claims_for("a-tenant"), headers={"kid": "2025-z"})

    refusal = _refusal(token, load_public_keys(path))
    assert refusal.code == "unknown_key" and "'2025-z'" in refusal.detail
    assert f"kid '2026-a', EdDSA {key_fingerprint(vendor.key)} from {path}" in refusal.detail
    assert "Keys from a PEM file have no kid" not in refusal.detail


def test_a_kid_against_pem_keys_says_pem_keys_have_none(tmp_path):
    vendor = Vendor()
    path = tmp_path / "vendor.pem"
    path.write_bytes(vendor.pem())
    token = vendor.sign(claims_for("a-tenant"), headers={"kid": "k1"})
    refusal = _refusal(token, load_public_keys(path))
    assert refusal.code == "unknown_key"
    assert "Keys from a PEM file have no kid: issue the license without one" in refusal.detail


def test_a_key_file_inside_the_project_is_named_from_the_project_folder(settings, tmp_path):
    settings.BASE_DIR = tmp_path
    (tmp_path / "var").mkdir()
    path = tmp_path / "var" / "vendor.pem"
    path.write_bytes(Vendor().pem())
    refusal = _refusal(Vendor().sign(claims_for("a-tenant")), load_public_keys(path))
    assert "from var/vendor.pem." in refusal.detail


def test_many_keys_are_named_up_to_five(tmp_path):
    path = tmp_path / "keys.json"
    path.write_text(jwks({f"k{n}": ed25519.Ed25519PrivateKey.generate() for n in range(7)}))
    refusal = _refusal(Vendor().sign(claims_for("a-tenant")), load_public_keys(path))
    assert "trusts 7 keys:" in refusal.detail and "; and 2 more." in refusal.detail
    assert "'k4'" in refusal.detail and "'k5'" not in refusal.detail
