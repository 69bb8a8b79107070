"""License tokens: verification (and, for the vendor's tool, signing). No database here.

`decode_license(token, keys)` checks a compact JWS the way SPEC §2 says and returns
typed claims, or raises `LicenseRefused(code, detail)` with one of the SPEC's codes.
The header is parsed and judged by this module before any key is touched; PyJWT's
algorithm objects only check signatures, so no library default (an algorithm, a key
from a URL, a lenient claim) can widen what is accepted.
"""

import base64
import binascii
import hashlib
import json
import math
import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from jwt.algorithms import get_default_algorithms

from licensing.errors import LicenseRefused

MAX_TOKEN_BYTES = 16 * 1024
LEEWAY = timedelta(seconds=60)
DEFAULT_ISSUER = "tally"
DIMENSIONS = ("hosts", "gateways", "tasks")
MAX_CAP = 2**31 - 1
KINDS = ("contract", "trial")
# Header parameters that would fetch or carry a key: keys only ever come from configuration.
KEY_FETCHING_HEADERS = ("jku", "x5u", "jwk", "x5c")
KID_PATTERN = re.compile(r"[A-Za-z0-9._-]{1,64}")
_BASE64URL = re.compile(r"[A-Za-z0-9_-]*")

PublicKey = ed25519.Ed25519PublicKey | ec.EllipticCurvePublicKey | rsa.RSAPublicKey
PrivateKey = ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def _is_p256(key: Any) -> bool:
    return isinstance(key, ec.EllipticCurvePublicKey | ec.EllipticCurvePrivateKey) and isinstance(
        key.curve, ec.SECP256R1
    )


# The allow-list: algorithm -> does this key type sign/verify it?
ALGORITHMS = {
    "EdDSA": lambda key: isinstance(key, ed25519.Ed25519PublicKey | ed25519.Ed25519PrivateKey),
    "ES256": _is_p256,
    "RS256": lambda key: isinstance(key, rsa.RSAPublicKey | rsa.RSAPrivateKey),
}
_VERIFIERS = {name: get_default_algorithms()[name] for name in ALGORITHMS}


# Refusal details name at most this many configured keys (a JWKS may hold many).
MAX_KEYS_NAMED = 5


def key_fingerprint(key: PublicKey | PrivateKey) -> str:
    """SHA-256 of the public key's SubjectPublicKeyInfo, SSH-style: names a key, reveals nothing.

    `license_keygen` and `issue_license` print it too, so an operator can match the key a
    license was signed with against the keys a refusal says are configured.
    """
    public = key.public_key() if isinstance(key, PrivateKey) else key
    der = public.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    digest = base64.b64encode(hashlib.sha256(der).digest()).decode("ascii").rstrip("=")
    return f"SHA256:{digest}"


@dataclass(frozen=True)
class VerificationKey:
    """A trusted public key; `kid` is set only for keys named in a JWKS file; `source` says
    where it was read from (for refusal details, never the key itself)."""

    key: PublicKey
    kid: str | None = None
    source: str = ""

    def describe(self) -> str:
        algorithm = next((name for name, fits in ALGORITHMS.items() if fits(self.key)), "?")
        named = f"kid {self.kid!r}, " if self.kid else ""
        where = f" from {self.source}" if self.source else ""
        return f"{named}{algorithm} {key_fingerprint(self.key)}{where}"


def describe_keys(keys: Sequence[VerificationKey]) -> str:
    """'This installation trusts 2 keys: ...', for an operator to spot a key mismatch."""
    named = "; ".join(key.describe() for key in keys[:MAX_KEYS_NAMED])
    more = f"; and {len(keys) - MAX_KEYS_NAMED} more" if len(keys) > MAX_KEYS_NAMED else ""
    count = f"{len(keys)} key{'s' if len(keys) != 1 else ''}"
    return f"This installation trusts {count}: {named}{more}."


@dataclass(frozen=True)
class LicenseClaims:
    """A verified license's claims, typed. `caps` values of None are unlimited."""

    issuer: str
    subject: str
    jti: str
    kind: str
    caps: dict[str, int | None]
    issued_at: datetime
    starts_at: datetime
    expires_at: datetime | None
    customer: str = ""
    algorithm: str = "EdDSA"
    kid: str | None = None
    raw: dict[str, Any] = field(default_factory=dict, compare=False)

    @property
    def is_perpetual(self) -> bool:
        return self.expires_at is None


def decode_license(
    token: str | bytes,
    keys: Sequence[VerificationKey],
    *,
    issuer: str = DEFAULT_ISSUER,
    subject: str | None = None,
    now: datetime | None = None,
) -> LicenseClaims:
    """Verify `token` against `keys` and return its claims, or raise `LicenseRefused`.

    `subject`, when given, is the tenant's license ID the token must name (`wrong_tenant`).
    """
    text = _token_text(token)
    header_part, payload_part, signature_part = _split(text)
    header = _json_object(header_part, "header")
    algorithm, kid = _check_header(header)
    signature = _base64url(signature_part, "signature")
    signing_input = f"{header_part}.{payload_part}".encode("ascii")
    _verify_signature(signing_input, signature, algorithm, kid, keys)
    payload = _json_object(payload_part, "payload")
    _refuse_unstorable_text(payload)
    return _check_claims(
        payload,
        issuer=issuer,
        subject=subject,
        now=now or datetime.now(UTC),
        algorithm=algorithm,
        kid=kid,
    )


def encode_license(
    *,
    private_key: PrivateKey,
    subject: str,
    kind: str,
    caps: dict[str, int | None],
    issuer: str = DEFAULT_ISSUER,
    issued_at: datetime | None = None,
    days: int | None = None,
    customer: str = "",
    kid: str | None = None,
    jti: str | None = None,
) -> str:
    """The vendor's side: sign a license. The algorithm follows the key (Ed25519 -> EdDSA)."""
    algorithm = next((name for name, fits in ALGORITHMS.items() if fits(private_key)), None)
    if algorithm is None:
        raise ValueError("Licenses are signed with an Ed25519, P-256 or RSA private key.")
    issued_at = issued_at or datetime.now(UTC)
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": subject,
        "jti": jti or str(uuid.uuid4()),
        "iat": int(issued_at.timestamp()),
        "nbf": int(issued_at.timestamp()),
        "kind": kind,
        "caps": {dimension: caps[dimension] for dimension in DIMENSIONS},
    }
    if days is not None:
        claims["exp"] = int((issued_at + timedelta(days=days)).timestamp())
    if customer:
        claims["customer"] = customer
    headers = {"kid": kid} if kid else None
    return jwt.encode(claims, private_key, algorithm=algorithm, headers=headers)


# --- the steps, in the order they run -------------------------------------------------


def _token_text(token: str | bytes) -> str:
    if isinstance(token, bytes):
        if len(token) > MAX_TOKEN_BYTES:
            raise _too_large()
        try:
            token = token.decode("ascii")
        except UnicodeDecodeError:
            raise _malformed("it contains characters a license never has") from None
    if not isinstance(token, str):
        raise _malformed("it is not text")
    if len(token.encode("utf-8", "surrogatepass")) > MAX_TOKEN_BYTES:
        raise _too_large()
    # Pasted tokens often carry a trailing newline or are wrapped over several lines.
    text = "".join(token.split())
    if not text:
        raise LicenseRefused("malformed", "The license is empty: paste the whole token.")
    return text


def _split(text: str) -> tuple[str, str, str]:
    parts = text.split(".")
    if len(parts) != 3:
        raise _malformed(
            f"a license has three parts separated by dots, this one has {len(parts)}; "
            "it may have been cut short when copied"
        )
    # An empty signature is left for the algorithm check: `alg: none` is refused as such.
    if not (parts[0] and parts[1]) or not all(_BASE64URL.fullmatch(part) for part in parts):
        raise _malformed("a part is empty or holds characters outside base64url")
    return parts[0], parts[1], parts[2]


def _base64url(part: str, what: str) -> bytes:
    try:
        return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))
    except (binascii.Error, ValueError):
        raise _malformed(f"its {what} is not valid base64url") from None


def _json_object(part: str, what: str) -> dict[str, Any]:
    raw = _base64url(part, what)
    try:
        value = json.loads(raw.decode("utf-8"), parse_constant=_refuse_constant)
    except (UnicodeDecodeError, ValueError, RecursionError):
        raise _malformed(f"its {what} is not JSON") from None
    if not isinstance(value, dict):
        raise _malformed(f"its {what} is not a JSON object")
    return value


def _refuse_constant(name: str) -> None:
    raise ValueError(f"{name} is not JSON")


def _check_header(header: dict[str, Any]) -> tuple[str, str | None]:
    algorithm = header.get("alg")
    if not isinstance(algorithm, str) or algorithm not in ALGORITHMS:
        shown = algorithm if isinstance(algorithm, str) else "missing"
        raise LicenseRefused(
            "disallowed_algorithm",
            f"The license is signed with the algorithm {shown[:20]!r}; Tally accepts only "
            "EdDSA, ES256 and RS256 signatures.",
        )
    fetching = [name for name in KEY_FETCHING_HEADERS if name in header]
    if fetching:
        raise LicenseRefused(
            "unknown_key",
            f"The license asks for a key from elsewhere ({', '.join(fetching)}); Tally only "
            "trusts the verification keys it is configured with.",
        )
    if "crit" in header:
        raise _malformed(
            "it declares critical header extensions (crit) that Tally does not support"
        )
    kid = header.get("kid")
    if kid is not None and not (isinstance(kid, str) and KID_PATTERN.fullmatch(kid)):
        raise LicenseRefused(
            "unknown_key",
            "The license names its key with an invalid key ID: key IDs are up to 64 letters, "
            "digits, dots, underscores or dashes.",
        )
    return algorithm, kid


def _verify_signature(
    signing_input: bytes,
    signature: bytes,
    algorithm: str,
    kid: str | None,
    keys: Sequence[VerificationKey],
) -> None:
    if not keys:
        raise LicenseRefused(
            "unknown_key",
            "No license verification keys are configured, so no license can be checked. "
            "Ask the operator to set LICENSE_PUBLIC_KEYS.",
        )
    trusted = describe_keys(keys)
    candidates = [k for k in keys if kid is None or k.kid == kid]
    if not candidates:
        unnamed = (
            " Keys from a PEM file have no kid: issue the license without one, or name the "
            "keys in a JWKS file."
            if all(k.kid is None for k in keys)
            else ""
        )
        raise LicenseRefused(
            "unknown_key",
            f"The license was signed with the key {kid!r}, which this installation does not "
            f"know. It may be for another installation, or the key list needs updating. "
            f"{trusted}{unnamed}",
        )
    candidates = [k for k in candidates if ALGORITHMS[algorithm](k.key)]
    if not candidates:
        raise LicenseRefused(
            "unknown_key",
            f"No configured verification key can check a {algorithm} signature. {trusted}",
        )
    verifier = _VERIFIERS[algorithm]
    for candidate in candidates:
        try:
            if verifier.verify(signing_input, candidate.key, signature):
                return
        except Exception:  # noqa: BLE001 - a malformed signature is just a failed check
            continue
    raise LicenseRefused(
        "bad_signature",
        "The license's signature does not match: it was changed after signing, cut short, "
        f"or signed with a key this installation does not trust. {trusted} If the license is "
        "genuine, the operator sets LICENSE_PUBLIC_KEYS to the public key of the pair it was "
        "signed with.",
    )


def _check_claims(
    payload: dict[str, Any],
    *,
    issuer: str,
    subject: str | None,
    now: datetime,
    algorithm: str,
    kid: str | None,
) -> LicenseClaims:
    for name in ("iss", "sub", "jti", "iat", "kind", "caps"):
        if name not in payload:
            raise LicenseRefused("missing_claim", f"The license lacks the required claim {name!r}.")
    token_issuer = _string(payload, "iss")
    token_subject = _string(payload, "sub")
    jti = _string(payload, "jti")
    kind = payload["kind"]
    if kind not in KINDS:
        raise _invalid("kind", "must be 'contract' or 'trial'")
    caps = _caps(payload["caps"])
    customer = _string(payload, "customer") if "customer" in payload else ""
    issued_at = _time(payload, "iat")
    starts_at = _time(payload, "nbf") if "nbf" in payload else issued_at
    expires_at = _time(payload, "exp") if "exp" in payload else None
    if expires_at is not None and expires_at <= starts_at:
        raise _invalid("exp", "is not after the start of validity")

    if token_issuer != issuer:
        raise LicenseRefused(
            "wrong_issuer",
            f"The license was issued by {token_issuer[:80]!r}, not by {issuer!r}.",
        )
    if subject is not None and _normal_subject(token_subject) != _normal_subject(subject):
        raise LicenseRefused(
            "wrong_tenant",
            "The license was issued for another tenant: its subject is not this tenant's "
            "license ID. Send the vendor the license ID shown on Settings > License.",
        )
    if issued_at > now + LEEWAY:
        raise _invalid("iat", "lies in the future; check the vendor's clock")
    if expires_at is not None and now > expires_at + LEEWAY:
        raise LicenseRefused(
            "expired",
            f"The license expired on {expires_at:%Y-%m-%d %H:%M} UTC; ask the vendor for a "
            "current one.",
        )
    if now < starts_at - LEEWAY:
        raise LicenseRefused(
            "not_yet_valid",
            f"The license is valid from {starts_at:%Y-%m-%d %H:%M} UTC; apply it then.",
        )
    return LicenseClaims(
        issuer=token_issuer,
        subject=token_subject,
        jti=jti,
        kind=kind,
        caps=caps,
        issued_at=issued_at,
        starts_at=starts_at,
        expires_at=expires_at,
        customer=customer,
        algorithm=algorithm,
        kid=kid,
        raw=payload,
    )


def _refuse_unstorable_text(payload: dict[str, Any]) -> None:
    """Every text in the claims (names and values, at any depth) must be storable: the claims
    are kept as they came, and PostgreSQL stores no NUL and no unpaired surrogate."""
    pending: list[tuple[str, Any]] = [("", payload)]
    while pending:
        where, value = pending.pop()
        if isinstance(value, dict):
            for name, item in value.items():
                path = f"{where}.{name}" if where else str(name)
                if not _storable(name):
                    raise _invalid(_printable(path), "has a name holding a NUL or lone surrogate")
                pending.append((path, item))
        elif isinstance(value, list):
            pending.extend((f"{where}[{index}]", item) for index, item in enumerate(value))
        elif isinstance(value, str) and not _storable(value):
            raise _invalid(_printable(where), "holds a NUL character or a lone surrogate")


def _storable(text: str) -> bool:
    if "\x00" in text:
        return False
    try:
        text.encode("utf-8")  # json.loads pairs valid surrogates; a lone one cannot encode
    except UnicodeEncodeError:
        return False
    return True


def _printable(path: str) -> str:
    return path.encode("ascii", "backslashreplace").decode("ascii").replace("\x00", "\\x00")[:80]


def _string(payload: dict[str, Any], name: str, *, limit: int = 255) -> str:
    value = payload[name]
    if not isinstance(value, str) or not value.strip() or len(value) > limit:
        raise _invalid(name, f"must be a non-empty text of at most {limit} characters")
    return value


def _time(payload: dict[str, Any], name: str) -> datetime:
    value = payload[name]
    # bool is an int in Python; a NumericDate never is.
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise _invalid(name, "must be a time in seconds since 1970 (a number)")
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        raise _invalid(name, "is not a time Tally can represent") from None


def _caps(value: Any) -> dict[str, int | None]:
    if not isinstance(value, dict) or set(value) != set(DIMENSIONS):
        raise _invalid("caps", "must be an object with exactly hosts, gateways and tasks")
    caps: dict[str, int | None] = {}
    for dimension in DIMENSIONS:
        cap = value[dimension]
        valid = cap is None or (
            isinstance(cap, int) and not isinstance(cap, bool) and 0 <= cap <= MAX_CAP
        )
        if not valid:
            raise _invalid(
                f"caps.{dimension}",
                f"must be a whole number from 0 to {MAX_CAP}, or null for unlimited",
            )
        caps[dimension] = cap
    return caps


def _normal_subject(value: str) -> str:
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return value


def _malformed(reason: str) -> LicenseRefused:
    return LicenseRefused("malformed", f"This is not a license token: {reason}.")


def _too_large() -> LicenseRefused:
    return LicenseRefused(
        "too_large",
        f"The license is larger than {MAX_TOKEN_BYTES // 1024} KiB; a real license is far "
        "smaller, so it was not read.",
    )


def _invalid(name: str, reason: str) -> LicenseRefused:
    return LicenseRefused("invalid_claim", f"The license's claim {name!r} {reason}.")
