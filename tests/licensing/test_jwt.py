"""`decode_license` on its own: no database, real signatures made here."""

import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from licensing.errors import LicenseRefused
from licensing.jwt import MAX_TOKEN_BYTES, LicenseClaims, VerificationKey, decode_license
from tests.factories import Vendor, claims_for

SUBJECT = str(uuid.UUID("6f1c2a4e-8d3b-4f5a-9c7e-2b1d0e3f4a5b"))
ED25519 = ed25519.Ed25519PrivateKey.generate()
P256 = ec.generate_private_key(ec.SECP256R1())
RSA = rsa.generate_private_key(public_exponent=65537, key_size=2048)
KEYS = [VerificationKey(ED25519.public_key())]
START = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)


VENDOR = Vendor(ED25519)
sign = VENDOR.sign


def window(days=30, **overrides) -> dict:
    times = {
        "iat": int(START.timestamp()),
        "nbf": int(START.timestamp()),
        "exp": int((START + timedelta(days=days)).timestamp()),
    }
    return claims_for(SUBJECT, **{**times, **overrides})


def sign_raw(header, payload) -> str:
    """Sign any JSON (PyJWT would refuse some of it) with the trusted Ed25519 key."""
    return VENDOR.sign_raw(header, json.dumps(payload).encode())


def test_a_good_eddsa_token_decodes_to_typed_claims():
    claims = window(jti="license-1", caps={"hosts": 12, "gateways": None, "tasks": 500})
    decoded = decode_license(sign(claims), KEYS, subject=SUBJECT, now=START)
    assert isinstance(decoded, LicenseClaims)
    assert decoded.jti == "license-1"
    assert decoded.kind == "contract"
    assert decoded.caps == {"hosts": 12, "gateways": None, "tasks": 500}
    assert decoded.starts_at == START
    assert decoded.expires_at == START + timedelta(days=30)
    assert decoded.customer == "Acme Robotics"
    assert decoded.algorithm == "EdDSA"
    assert decoded.raw == claims


@pytest.mark.parametrize(
    "private_key, algorithm", [(P256, "ES256"), (RSA, "RS256")], ids=["ES256", "RS256"]
)
def test_es256_and_rs256_tokens_verify_against_their_configured_keys(private_key, algorithm):
    keys = [*KEYS, VerificationKey(private_key.public_key())]
    decoded = decode_license(sign(window(), key=private_key, algorithm=algorithm), keys, now=START)
    assert decoded.algorithm == algorithm


def test_an_rs256_token_is_not_verified_with_a_p256_key_claiming_es256():
    token = sign(window(), key=RSA, algorithm="RS256")
    with pytest.raises(LicenseRefused) as refused:
        decode_license(token, [VerificationKey(P256.public_key())], now=START)
    assert refused.value.code == "unknown_key"


def test_without_nbf_the_license_starts_at_iat():
    claims = window()
    del claims["nbf"]
    assert decode_license(sign(claims), KEYS, now=START).starts_at == START


def test_without_exp_the_license_is_perpetual():
    claims = window()
    del claims["exp"]
    decoded = decode_license(sign(claims), KEYS, now=START + timedelta(days=36500))
    assert decoded.expires_at is None and decoded.is_perpetual


def test_a_pasted_token_with_line_breaks_and_spaces_still_verifies():
    token = sign(window())
    wrapped = "  " + "\n".join(token[i : i + 40] for i in range(0, len(token), 40)) + "\n"
    assert decode_license(wrapped, KEYS, now=START).customer == "Acme Robotics"
    assert decode_license(wrapped.encode(), KEYS, now=START).kind == "contract"


def test_the_subject_compares_as_a_uuid_whatever_its_case():
    token = sign(window(sub=SUBJECT.upper()))
    assert decode_license(token, KEYS, subject=SUBJECT, now=START).subject == SUBJECT.upper()


def test_the_configured_issuer_is_required():
    token = sign(window(iss="acme-vendor"))
    assert decode_license(token, KEYS, issuer="acme-vendor", now=START).issuer == "acme-vendor"
    with pytest.raises(LicenseRefused, match="not by 'tally'"):
        decode_license(token, KEYS, now=START)


@pytest.mark.parametrize(
    "now, outcome",
    [
        (START + timedelta(days=30, seconds=60), "valid"),
        (START + timedelta(days=30, seconds=61), "expired"),
        (START - timedelta(seconds=60), "valid"),
        (START - timedelta(seconds=61), "not_yet_valid"),
    ],
    ids=["exp-plus-leeway", "a-second-later", "nbf-minus-leeway", "a-second-earlier"],
)
def test_validity_has_sixty_seconds_of_leeway_on_both_ends(now, outcome):
    token = sign(window(iat=int((START - timedelta(days=1)).timestamp())))
    if outcome == "valid":
        assert decode_license(token, KEYS, now=now).jti
    else:
        with pytest.raises(LicenseRefused) as refused:
            decode_license(token, KEYS, now=now)
        assert refused.value.code == outcome


def test_now_defaults_to_the_current_time():
    with (
        time_machine.travel(START + timedelta(days=31), tick=False),
        pytest.raises(LicenseRefused) as refused,
    ):
        decode_license(sign(window()), KEYS)
    assert refused.value.code == "expired"
    assert "2026-03-31 12:00 UTC" in refused.value.detail


def test_a_token_of_exactly_16_kib_is_read_and_one_byte_more_is_not():
    base = len(sign(window(note="")))
    # Grow a claim until the token is exactly 16 KiB (base64 grows 4 characters per 3 bytes).
    for extra in range(
        (MAX_TOKEN_BYTES - base) * 3 // 4 - 6, (MAX_TOKEN_BYTES - base) * 3 // 4 + 6
    ):
        token = sign(window(note="n" * extra))
        if len(token) >= MAX_TOKEN_BYTES:
            break
    token = token + " " * (MAX_TOKEN_BYTES - len(token))  # pasted whitespace counts too
    assert len(token) == MAX_TOKEN_BYTES
    assert decode_license(token, KEYS, now=START).jti
    with pytest.raises(LicenseRefused) as refused:
        decode_license(token + "A", KEYS, now=START)
    assert refused.value.code == "too_large"


def test_no_configured_key_refuses_every_token_with_a_sentence_for_the_operator():
    with pytest.raises(LicenseRefused) as refused:
        decode_license(sign(window()), [], now=START)
    assert refused.value.code == "unknown_key"
    assert "LICENSE_PUBLIC_KEYS" in refused.value.detail


# --- key rotation --------------------------------------------------------------------

OLD, NEW = ed25519.Ed25519PrivateKey.generate(), ed25519.Ed25519PrivateKey.generate()


@pytest.mark.parametrize("signer", [OLD, NEW], ids=["old-key", "new-key"])
def test_without_kid_every_configured_key_is_tried(signer):
    keys = [VerificationKey(OLD.public_key()), VerificationKey(NEW.public_key())]
    assert decode_license(sign(window(), key=signer), keys, now=START).kid is None


@pytest.mark.parametrize("kid, signer", [("2025", OLD), ("2026", NEW)])
def test_a_kid_selects_its_key(kid, signer):
    keys = [VerificationKey(OLD.public_key(), "2025"), VerificationKey(NEW.public_key(), "2026")]
    token = sign(window(), key=signer, headers={"kid": kid})
    assert decode_license(token, keys, now=START).kid == kid


def test_a_kid_tries_only_its_own_key():
    keys = [VerificationKey(OLD.public_key(), "2025"), VerificationKey(NEW.public_key(), "2026")]
    token = sign(window(), key=NEW, headers={"kid": "2025"})
    with pytest.raises(LicenseRefused) as refused:
        decode_license(token, keys, now=START)
    assert refused.value.code == "bad_signature"


# --- property: nothing but a refusal ever escapes ----------------------------------------

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
CLAIM_NAMES = st.sampled_from(
    ["iss", "sub", "jti", "iat", "nbf", "exp", "kind", "caps", "customer", "other"]
)
CLAIM_VALUES = (
    JSON
    | st.integers(min_value=-(2**63), max_value=2**63)
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.sampled_from(["tally", "contract", "trial", SUBJECT])
    | st.fixed_dictionaries(
        {
            d: st.none() | st.integers() | st.booleans() | st.text(max_size=3)
            for d in ("hosts", "gateways", "tasks")
        }
    )
)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600) | st.text(max_size=600))
def test_random_bytes_and_text_only_ever_raise_a_refusal(token):
    with pytest.raises(LicenseRefused):
        decode_license(token, KEYS, subject=SUBJECT, now=START)


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    claims=st.dictionaries(CLAIM_NAMES, CLAIM_VALUES, max_size=10),
    base=st.booleans(),
)
def test_random_signed_claim_sets_decode_or_raise_only_a_refusal(claims, base):
    payload = {**window(), **claims} if base else claims
    token = sign_raw({"alg": "EdDSA"}, payload)
    try:
        decoded = decode_license(token, KEYS, subject=SUBJECT, now=START)
    except LicenseRefused as refusal:
        assert refusal.code and refusal.detail.endswith(".")
    else:
        assert set(decoded.caps) == {"hosts", "gateways", "tasks"}
        assert decoded.kind in ("contract", "trial")


@settings(max_examples=200, deadline=None)
@given(header=st.dictionaries(st.sampled_from(["alg", "kid", "typ", "crit", "jku", "b64"]), JSON))
def test_random_headers_only_ever_raise_a_refusal_or_verify(header):
    try:
        decode_license(sign_raw(header, window()), KEYS, subject=SUBJECT, now=START)
    except LicenseRefused:
        pass
    else:
        assert header.get("alg") == "EdDSA"
