"""Every refusal code, each with tokens made for it: a refused token changes nothing."""

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519

from licensing.errors import LicenseRefused
from licensing.models import License, LicenseAuditRecord
from licensing.services import license_apply
from tests.factories import b64url as b64
from tests.factories import claims_for


def part(value) -> str:
    return b64(json.dumps(value).encode())


def unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return f"{part(header)}.{part(claims)}.{b64(signature)}"


def hs256_with_public_key(vendor, tenant, active_token) -> str:
    """The classic confusion attack: HMAC keyed with the (public) verification key."""
    signing_input = f"{part({'alg': 'HS256', 'typ': 'JWT'})}.{part(claims_for(tenant))}"
    secret = vendor.public_path.read_bytes()
    return (
        f"{signing_input}.{b64(hmac.new(secret, signing_input.encode(), hashlib.sha256).digest())}"
    )


def with_payload_of(token: str, other: str) -> str:
    header, _, signature = token.split(".")
    return f"{header}.{other.split('.')[1]}.{signature}"


def flip_last_signature_char(token: str) -> str:
    head, signature = token.rsplit(".", 1)
    return f"{head}.{signature[:-2]}{'A' if signature[-2] != 'A' else 'B'}{signature[-1]}"


def without(claim: str):
    return lambda v, t, a: v.token(t, drop=(claim,))


def with_header(name: str, value):
    return lambda v, t, a: v.token(t, headers={name: value})


def days_from_now(days: float) -> int:
    return int((datetime.now(UTC) + timedelta(days=days)).timestamp())


def caps(**overrides):
    return {"hosts": 12, "gateways": 5, "tasks": 500, **overrides}


# (case id, code, token maker(vendor, tenant, active_token) -> token, a words of the sentence)
BAD_TOKENS = [
    (
        "alg-none",
        "disallowed_algorithm",
        lambda v, t, a: unsigned({"alg": "none"}, claims_for(t)),
        "accepts only EdDSA",
    ),
    (
        "alg-None-capitalised",
        "disallowed_algorithm",
        lambda v, t, a: unsigned({"alg": "None"}, claims_for(t)),
        "accepts only",
    ),
    ("hs256-signed-with-the-public-key", "disallowed_algorithm", hs256_with_public_key, "'HS256'"),
    (
        "hs512",
        "disallowed_algorithm",
        lambda v, t, a: unsigned({"alg": "HS512"}, claims_for(t), b"x" * 64),
        "'HS512'",
    ),
    (
        "es512",
        "disallowed_algorithm",
        lambda v, t, a: unsigned({"alg": "ES512"}, claims_for(t), b"x" * 132),
        "'ES512'",
    ),
    (
        "alg-missing",
        "disallowed_algorithm",
        lambda v, t, a: unsigned({"typ": "JWT"}, claims_for(t), b"x" * 64),
        "'missing'",
    ),
    (
        "signed-by-an-unknown-key",
        "bad_signature",
        lambda v, t, a: v.token(t, key=ed25519.Ed25519PrivateKey.generate()),
        "does not match",
    ),
    (
        "tampered-payload",
        "bad_signature",
        lambda v, t, a: with_payload_of(v.token(t), v.sign(claims_for(t, caps=caps(hosts=10**6)))),
        "changed after signing",
    ),
    (
        "tampered-signature",
        "bad_signature",
        lambda v, t, a: flip_last_signature_char(v.token(t)),
        "does not match",
    ),
    ("truncated-signature", "bad_signature", lambda v, t, a: v.token(t)[:-12], "cut short"),
    (
        "truncated-to-two-parts",
        "malformed",
        lambda v, t, a: v.token(t).rsplit(".", 1)[0],
        "three parts",
    ),
    ("four-parts", "malformed", lambda v, t, a: v.token(t) + ".AAAA", "has 4"),
    ("garbage", "malformed", lambda v, t, a: "hello, this is my license!", "not a license"),
    ("empty", "malformed", lambda v, t, a: "", "empty"),
    ("only-whitespace", "malformed", lambda v, t, a: " \n\t ", "empty"),
    (
        "header-not-json",
        "malformed",
        lambda v, t, a: f"{b64(b'{not json')}.{part(claims_for(t))}.{b64(b'sig')}",
        "header is not JSON",
    ),
    (
        "header-a-json-array",
        "malformed",
        lambda v, t, a: f"{part(['EdDSA'])}.{part(claims_for(t))}.{b64(b'sig')}",
        "not a JSON object",
    ),
    (
        "payload-a-json-array",
        "malformed",
        lambda v, t, a: v.sign_raw({"alg": "EdDSA"}, b"[1, 2]"),
        "payload is not a JSON object",
    ),
    (
        "payload-with-nan",
        "malformed",
        lambda v, t, a: v.sign_raw({"alg": "EdDSA"}, b'{"iss": "tally", "exp": NaN}'),
        "payload is not JSON",
    ),
    (
        "over-16-kib",
        "too_large",
        lambda v, t, a: v.token(t, customer="x" * 200, padding="p" * 17_000),
        "16 KiB",
    ),
    ("over-16-kib-of-garbage", "too_large", lambda v, t, a: "a" * (16 * 1024 + 1), "16 KiB"),
    *[
        (
            f"missing-{claim}",
            "missing_claim",
            without(claim),
            f"'{claim}'",
        )
        for claim in ("iss", "sub", "jti", "iat", "kind", "caps")
    ],
    (
        "wrong-issuer",
        "wrong_issuer",
        lambda v, t, a: v.token(t, iss="someone-else"),
        "'someone-else', not by 'tally'",
    ),
    (
        "another-tenants-subject",
        "wrong_tenant",
        lambda v, t, a: v.token(uuid.uuid4()),
        "another tenant",
    ),
    (
        "expired",
        "expired",
        lambda v, t, a: v.token(
            t, iat=days_from_now(-60), nbf=days_from_now(-60), exp=days_from_now(-1)
        ),
        "expired on",
    ),
    (
        "not-yet-valid",
        "not_yet_valid",
        lambda v, t, a: v.token(t, nbf=days_from_now(2), exp=days_from_now(30)),
        "valid from",
    ),
    (
        "negative-cap",
        "invalid_claim",
        lambda v, t, a: v.token(t, caps=caps(hosts=-1)),
        "caps.hosts",
    ),
    (
        "cap-above-2-31-minus-1",
        "invalid_claim",
        lambda v, t, a: v.token(t, caps=caps(tasks=2**31)),
        "caps.tasks",
    ),
    (
        "cap-as-text",
        "invalid_claim",
        lambda v, t, a: v.token(t, caps=caps(gateways="5")),
        "caps.gateways",
    ),
    (
        "cap-as-float",
        "invalid_claim",
        lambda v, t, a: v.token(t, caps=caps(hosts=1.5)),
        "caps.hosts",
    ),
    (
        "cap-as-boolean",
        "invalid_claim",
        lambda v, t, a: v.token(t, caps=caps(hosts=True)),
        "caps.hosts",
    ),
    (
        "caps-missing-a-dimension",
        "invalid_claim",
        lambda v, t, a: v.token(t, caps={"hosts": 1, "gateways": 1}),
        "exactly hosts",
    ),
    (
        "caps-with-an-extra-dimension",
        "invalid_claim",
        lambda v, t, a: v.token(t, caps=caps(seats=3)),
        "exactly hosts",
    ),
    (
        "caps-not-an-object",
        "invalid_claim",
        lambda v, t, a: v.token(t, caps=[12, 5, 500]),
        "'caps'",
    ),
    (
        "iat-as-a-string",
        "invalid_claim",
        lambda v, t, a: v.token(t, iat=str(days_from_now(0))),
        "'iat'",
    ),
    ("exp-as-a-boolean", "invalid_claim", lambda v, t, a: v.token(t, exp=True), "'exp'"),
    ("nbf-as-a-string", "invalid_claim", lambda v, t, a: v.token(t, nbf="2026-01-01"), "'nbf'"),
    (
        "exp-before-nbf",
        "invalid_claim",
        lambda v, t, a: v.token(t, nbf=days_from_now(0), exp=days_from_now(-0.5)),
        "not after",
    ),
    (
        "issued-in-the-future",
        "invalid_claim",
        lambda v, t, a: v.token(t, iat=days_from_now(1), nbf=days_from_now(0)),
        "future",
    ),
    (
        "unknown-kind",
        "invalid_claim",
        lambda v, t, a: v.token(t, kind="enterprise"),
        "'contract' or 'trial'",
    ),
    ("customer-not-text", "invalid_claim", lambda v, t, a: v.token(t, customer=42), "'customer'"),
    (
        "unknown-kid",
        "unknown_key",
        lambda v, t, a: v.token(t, headers={"kid": "vendor-2031"}),
        "'vendor-2031'",
    ),
    (
        "kid-a-path",
        "unknown_key",
        lambda v, t, a: v.token(t, headers={"kid": "../../etc/passwd"}),
        "invalid key ID",
    ),
    (
        "kid-too-long",
        "unknown_key",
        lambda v, t, a: v.token(t, headers={"kid": "k" * 65}),
        "invalid key ID",
    ),
    (
        "kid-not-text",
        "unknown_key",
        lambda v, t, a: v.sign_raw({"alg": "EdDSA", "kid": 7}, json.dumps(claims_for(t)).encode()),
        "invalid key ID",
    ),
    *[
        (
            f"{name}-header",
            "unknown_key",
            with_header(name, value),
            f"from elsewhere ({name})",
        )
        for name, value in [
            ("jku", "https://attacker.example/jwks.json"),
            ("x5u", "https://attacker.example/cert.pem"),
            (
                "jwk",
                {
                    "kty": "OKP",
                    "crv": "Ed25519",
                    "x": "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo",
                },
            ),
            ("x5c", ["MIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEA"]),
        ]
    ],
    (
        "crit-header",
        "malformed",
        lambda v, t, a: v.token(t, headers={"crit": ["exp"], "exp": 1}),
        "critical",
    ),
    (
        "es256-but-only-an-ed25519-key-is-configured",
        "unknown_key",
        lambda v, t, a: v.token(t, key=ec.generate_private_key(ec.SECP256R1())),
        "ES256",
    ),
    ("re-applied-active-license", "already_applied", lambda v, t, a: a, "already the active"),
    (
        "rollback-to-an-older-license",
        "rollback",
        lambda v, t, a: v.token(t, iat=days_from_now(-3), nbf=days_from_now(-3)),
        "older license cannot replace a newer one",
    ),
]


def test_there_are_at_least_25_bad_tokens_covering_every_refusal_code():
    codes = {code for _, code, _, _ in BAD_TOKENS}
    assert len(BAD_TOKENS) >= 25
    assert codes == {
        "malformed",
        "too_large",
        "bad_signature",
        "unknown_key",
        "disallowed_algorithm",
        "wrong_issuer",
        "wrong_tenant",
        "expired",
        "not_yet_valid",
        "missing_claim",
        "invalid_claim",
        "already_applied",
        "rollback",
    }


@pytest.mark.parametrize(
    "code, make_token, sentence",
    [pytest.param(code, make, sentence, id=case) for case, code, make, sentence in BAD_TOKENS],
)
def test_a_bad_token_is_refused_with_its_code_and_the_active_license_is_unchanged(
    vendor, tenant_a, admin_a, no_network, code, make_token, sentence
):
    active_token = vendor.token(tenant_a, iat=days_from_now(-1), nbf=days_from_now(-1))
    active = license_apply(tenant=tenant_a, token=active_token, acting_user=admin_a)
    bad_token = make_token(vendor, tenant_a, active_token)

    with pytest.raises(LicenseRefused) as refused:
        license_apply(tenant=tenant_a, token=bad_token, acting_user=admin_a)

    assert refused.value.code == code
    assert sentence in refused.value.detail
    assert refused.value.detail.endswith(".")
    assert list(License.objects.filter(tenant=tenant_a).values_list("pk", "status")) == [
        (active.pk, "active")
    ]
    assert LicenseAuditRecord.objects.filter(tenant=tenant_a).count() == 1


def test_a_bad_token_changes_nothing_on_the_free_tier_either(vendor, tenant_a, admin_a):
    with pytest.raises(LicenseRefused):
        license_apply(tenant=tenant_a, token=vendor.token(tenant_a, iss="x"), acting_user=admin_a)
    assert not License.objects.exists()
    assert not LicenseAuditRecord.objects.exists()
