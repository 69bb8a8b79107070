"""A vendor with real keys for licensing tests: keys are generated into tmp dirs, never read
from the repository, and Tally is configured to trust the vendor's public key."""

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa

from licensing.models import Tenant


def public_pem(*private_keys) -> bytes:
    return b"".join(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for key in private_keys
    )


def jwks(named_keys: dict[str, Any]) -> str:
    import json

    keys = []
    for kid, private_key in named_keys.items():
        algorithm = {
            ed25519.Ed25519PrivateKey: jwt.algorithms.OKPAlgorithm,
            ec.EllipticCurvePrivateKey: jwt.algorithms.ECAlgorithm,
            rsa.RSAPrivateKey: jwt.algorithms.RSAAlgorithm,
        }
        for key_type, algorithm_class in algorithm.items():
            if isinstance(private_key, key_type):
                entry = algorithm_class.to_jwk(private_key.public_key(), as_dict=True)
        keys.append({**entry, "kid": kid, "use": "sig"})
    return json.dumps({"keys": keys})


def claims_for(subject: str | uuid.UUID | Tenant, **overrides) -> dict[str, Any]:
    """A valid claim set for `subject`, 30 days long; keyword arguments replace claims."""
    if isinstance(subject, Tenant):
        subject = subject.license_subject
    now = datetime.now(UTC)
    claims = {
        "iss": "tally",
        "sub": str(subject),
        "jti": str(uuid.uuid4()),
        "iat": int(now.timestamp()),
        "exp": int((now + timedelta(days=30)).timestamp()),
        "kind": "contract",
        "caps": {"hosts": 12, "gateways": 5, "tasks": 500},
        "customer": "Acme Robotics",
    }
    claims.update(overrides)
    return claims


@dataclass
class Vendor:
    """Signs licenses with `key`; Tally trusts `public_path` (settings.LICENSE_PUBLIC_KEYS)."""

    key: ed25519.Ed25519PrivateKey
    directory: Path
    public_path: Path
    others: dict[str, Any] = field(default_factory=dict)

    def sign(self, claims: dict, *, key=None, algorithm: str | None = None, headers=None) -> str:
        key = key or self.key
        if algorithm is None:
            algorithm = (
                "EdDSA"
                if isinstance(key, ed25519.Ed25519PrivateKey)
                else "ES256"
                if isinstance(key, ec.EllipticCurvePrivateKey)
                else "RS256"
            )
        return jwt.encode(claims, key, algorithm=algorithm, headers=headers)

    def token(self, tenant, *, drop: tuple[str, ...] = (), headers=None, key=None, **claims):
        payload = claims_for(tenant, **claims)
        for name in drop:
            payload.pop(name)
        return self.sign(payload, key=key, headers=headers)


@pytest.fixture
def vendor(tmp_path, settings) -> Vendor:
    key = ed25519.Ed25519PrivateKey.generate()
    public_path = tmp_path / "vendor-public.pem"
    public_path.write_bytes(public_pem(key))
    settings.LICENSE_PUBLIC_KEYS = str(public_path)
    settings.LICENSE_ISSUER = "tally"
    settings.LICENSE_DEV_KEY_DIR = tmp_path / "dev-license-keys"
    return Vendor(key=key, directory=tmp_path, public_path=public_path)


@pytest.fixture
def no_network(monkeypatch):
    """Any socket connection or URL fetch fails the test loudly."""
    import socket
    import urllib.request

    def refuse(*args, **kwargs):
        raise AssertionError("license verification must never touch the network")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(urllib.request, "urlopen", refuse)
