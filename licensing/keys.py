"""Where license verification keys come from (SPEC §2).

`LICENSE_PUBLIC_KEYS` names a PEM file (one or more public keys, no key IDs) or a
JWKS JSON file (keys named by `kid`). With `DEBUG=True` and nothing configured, a
development key pair is made under `var/dev-license-keys/` (ignored by git) on first
use and trusted; with `DEBUG=False` that key is never trusted.
"""

import json
import os
import re
from dataclasses import replace
from pathlib import Path
from typing import cast

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519, rsa
from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from jwt import PyJWK
from jwt.exceptions import PyJWTError

from licensing.jwt import ALGORITHMS, PrivateKey, PublicKey, VerificationKey

PRIVATE_KEY_FILE = "private.pem"
PUBLIC_KEY_FILE = "public.pem"
MIN_RSA_BITS = 2048
UTF8_BOM = b"\xef\xbb\xbf"
_PEM_BLOCK = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\s.*?-----END \1-----", re.DOTALL)
_cache: dict[tuple[str, int, int], list[VerificationKey]] = {}


def configured_keys() -> list[VerificationKey]:
    """The keys licenses are verified with now; [] means none (every token is refused)."""
    source = settings.LICENSE_PUBLIC_KEYS
    if source:
        return load_public_keys(Path(source))
    if settings.DEBUG:
        return [
            replace(
                key, source=f"{key.source} (the development key: DEBUG on, no LICENSE_PUBLIC_KEYS)"
            )
            for key in load_public_keys(dev_key_pair()[1])
        ]
    return []


def dev_keys_trusted() -> bool:
    return bool(settings.DEBUG and not settings.LICENSE_PUBLIC_KEYS)


def dev_key_pair() -> tuple[Path, Path]:
    """The development key pair (private, public), made on first use."""
    directory = Path(settings.LICENSE_DEV_KEY_DIR)
    private, public = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if not (private.is_file() and public.is_file()):
        write_key_pair(directory)
    return private, public


def write_key_pair(directory: Path, *, overwrite: bool = True) -> tuple[Path, Path]:
    """Write a new Ed25519 key pair; the private key is readable by its owner only."""
    directory.mkdir(parents=True, exist_ok=True)
    private, public = directory / PRIVATE_KEY_FILE, directory / PUBLIC_KEY_FILE
    if not overwrite and (private.exists() or public.exists()):
        raise FileExistsError(f"{private if private.exists() else public} exists already")
    key = ed25519.Ed25519PrivateKey.generate()
    private_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    descriptor = os.open(private, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(descriptor, "wb") as file:
        file.write(private_pem)
    public.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return private, public


def load_private_key(path: Path) -> PrivateKey:
    try:
        content = path.read_bytes()
    except OSError as error:
        raise ValueError(f"{path} cannot be read: {error.strerror}.") from error
    try:
        key = serialization.load_pem_private_key(content, password=None)
    except (ValueError, TypeError) as error:
        raise ValueError(f"{path} is not an unencrypted PEM private key: {error}") from error
    if not any(fits(key) for fits in ALGORITHMS.values()):
        raise ValueError(f"{path} holds a key that cannot sign licenses (Ed25519, P-256 or RSA).")
    return cast(PrivateKey, key)  # one of ALGORITHMS' key types, checked just above


def load_public_keys(path: Path) -> list[VerificationKey]:
    """Read a PEM or JWKS file; cached until the file changes (key rotation needs no restart)."""
    try:
        stat = path.stat()
        cache_key = (str(path), stat.st_mtime_ns, stat.st_size)
        if cache_key not in _cache:
            _cache[cache_key] = [
                replace(key, source=shown_path(path)) for key in _parse(path.read_bytes(), path)
            ]
    except OSError as error:
        raise ImproperlyConfigured(
            f"LICENSE_PUBLIC_KEYS={str(path)!r} cannot be read: {error.strerror}."
        ) from error
    return _cache[cache_key]


def shown_path(path: Path) -> str:
    """A key file's path as refusals show it: from the project folder when inside it."""
    try:
        return str(path.resolve().relative_to(settings.BASE_DIR))
    except ValueError:
        return str(path)


def _parse(content: bytes, path: Path) -> list[VerificationKey]:
    # Editors on Windows may save a UTF-8 byte order mark; it would hide a JWKS's "{".
    content = content.removeprefix(UTF8_BOM)
    if content.lstrip().startswith(b"{"):
        keys = _parse_jwks(content, path)
    else:
        keys = _parse_pem(content, path)
    if not keys:
        raise ImproperlyConfigured(f"LICENSE_PUBLIC_KEYS={str(path)!r} holds no public key.")
    return keys


def _parse_pem(content: bytes, path: Path) -> list[VerificationKey]:
    keys = []
    for block in _PEM_BLOCK.finditer(content):
        label = block.group(1).decode()
        if "PRIVATE" in label:
            raise ImproperlyConfigured(
                f"LICENSE_PUBLIC_KEYS={str(path)!r} holds a private key: give Tally the public "
                "key only."
            )
        try:
            key = serialization.load_pem_public_key(block.group(0))
        except ValueError as error:
            raise ImproperlyConfigured(
                f"LICENSE_PUBLIC_KEYS={str(path)!r}: a {label} block cannot be read ({error})."
            ) from error
        keys.append(VerificationKey(_usable(cast(PublicKey, key), path)))  # _usable checks it
    return keys


def _parse_jwks(content: bytes, path: Path) -> list[VerificationKey]:
    try:
        document = json.loads(content)
        entries = document["keys"]
        assert isinstance(entries, list)
    except (ValueError, KeyError, TypeError, AssertionError) as error:
        raise ImproperlyConfigured(
            f'LICENSE_PUBLIC_KEYS={str(path)!r} is not a JWKS document ({{"keys": [...]}}).'
        ) from error
    keys = []
    for number, entry in enumerate(entries, start=1):
        if not isinstance(entry, dict) or entry.get("use", "sig") != "sig":
            continue
        if "d" in entry:
            raise ImproperlyConfigured(
                f"LICENSE_PUBLIC_KEYS={str(path)!r} holds a private key: give Tally "
                "public keys only."
            )
        try:
            key = PyJWK(entry).key
        # PyJWTError: PyJWT's base error (PyJWKError, InvalidKeyError for an unsupported
        # curve or an `alg` that does not fit the key type, ...).
        except (PyJWTError, ValueError, TypeError, KeyError) as error:
            raise ImproperlyConfigured(
                f"LICENSE_PUBLIC_KEYS={str(path)!r}: the key {_jwks_entry_name(entry, number)} "
                f"cannot be read ({error})."
            ) from error
        kid = entry.get("kid")
        keys.append(VerificationKey(_usable(key, path), kid if isinstance(kid, str) else None))
    return keys


def _jwks_entry_name(entry: dict, number: int) -> str:
    kid = entry.get("kid")
    return repr(kid) if kid is not None else f"number {number} (no kid)"


def _describe(key) -> str:
    curve = getattr(key, "curve", None)
    if curve is not None:
        return f"an elliptic-curve key on {curve.name}"
    return f"a key of type {type(key).__name__}"


def _usable(key: PublicKey, path: Path) -> PublicKey:
    if not any(fits(key) for fits in ALGORITHMS.values()):
        raise ImproperlyConfigured(
            f"LICENSE_PUBLIC_KEYS={str(path)!r} holds {_describe(key)}: licenses are "
            "verified with Ed25519, P-256 (ES256) or RSA (RS256) keys."
        )
    if isinstance(key, rsa.RSAPublicKey) and key.key_size < MIN_RSA_BITS:
        raise ImproperlyConfigured(
            f"LICENSE_PUBLIC_KEYS={str(path)!r} holds a {key.key_size}-bit RSA key; "
            f"at least {MIN_RSA_BITS} bits are needed."
        )
    return key
