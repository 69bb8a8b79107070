"""Writes and the one lookup of API tokens. The secret exists only in `api_token_create`'s
answer; the database keeps its SHA-256 (a 256-bit random secret needs no slow hash: there is
nothing to guess from the hash, and the lookup is one probe of a unique index)."""

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth.models import User
from django.core.exceptions import ValidationError
from django.db.models import Q
from django.utils import timezone

from licensing.errors import DomainError
from licensing.models import ApiToken

PREFIX = "tly_"
SHOWN_PREFIX_LENGTH = len(PREFIX) + 6
# last_used_at is written at most this often per token, so a busy agent does not turn every
# request into a row write.
LAST_USED_RESOLUTION = timedelta(minutes=1)
MAX_EXPIRY_DAYS = 3650
READ_METHODS = ("GET", "HEAD", "OPTIONS")


class ApiTokenRefused(DomainError):
    """A presented token that does not authenticate: unknown, expired or revoked (401)."""

    http_status = 401

    def __init__(self, code: str, detail: str) -> None:
        super().__init__(detail, code=code)


def secret_hash(secret: str) -> str:
    return hashlib.sha256(secret.encode("utf-8", "surrogatepass")).hexdigest()


@dataclass(frozen=True)
class CreatedToken:
    token: ApiToken
    secret: str  # shown once, to the person who created it


def api_token_create(
    *,
    user: User,
    name: str,
    scope: str = ApiToken.Scope.FULL,
    expires_in_days: int | None = None,
) -> CreatedToken:
    """Make a token for `user`; the answer holds its secret, which is never stored."""
    name = name.strip()
    if not name or len(name) > 100:
        raise ValidationError({"name": "Give the token a name of 1 to 100 characters."})
    if scope not in ApiToken.Scope.values:
        choices = ", ".join(ApiToken.Scope.values)
        raise ValidationError({"scope": f"{scope!r} is not a scope; choose one of {choices}."})
    expires_at = None
    if expires_in_days is not None:
        if not 1 <= expires_in_days <= MAX_EXPIRY_DAYS:
            raise ValidationError(
                {"expires_in_days": f"An expiry is 1 to {MAX_EXPIRY_DAYS} days away."}
            )
        expires_at = timezone.now() + timedelta(days=expires_in_days)
    secret = PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(
        user=user,
        name=name,
        scope=scope,
        prefix=secret[:SHOWN_PREFIX_LENGTH],
        secret_hash=secret_hash(secret),
        expires_at=expires_at,
    )
    return CreatedToken(token=token, secret=secret)


def api_token_revoke(*, token: ApiToken) -> ApiToken:
    """Revoke `token` for good; revoking a revoked token changes nothing."""
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        ApiToken.objects.filter(pk=token.pk, revoked_at__isnull=True).update(
            revoked_at=token.revoked_at
        )
    return token


def api_token_for_secret(secret: str, *, now: datetime | None = None) -> ApiToken:
    """The live token whose secret this is, or `ApiTokenRefused` saying why not."""
    now = now or timezone.now()
    token = ApiToken.objects.select_related("user").filter(secret_hash=secret_hash(secret)).first()
    if token is None or not token.user.is_active:
        raise ApiTokenRefused(
            "token_invalid", "This API token is not known to Tally; check that it was copied whole."
        )
    if token.revoked_at is not None:
        raise ApiTokenRefused(
            "token_revoked",
            f"The API token {token.name!r} was revoked on {token.revoked_at:%Y-%m-%d %H:%M} "
            "UTC; create a new one on Settings > API tokens.",
        )
    if token.expires_at is not None and token.expires_at <= now:
        raise ApiTokenRefused(
            "token_expired",
            f"The API token {token.name!r} expired on {token.expires_at:%Y-%m-%d %H:%M} UTC; "
            "create a new one on Settings > API tokens.",
        )
    _touch(token, now)
    return token


def _touch(token: ApiToken, now: datetime) -> None:
    stale = now - LAST_USED_RESOLUTION
    if token.last_used_at is not None and token.last_used_at > stale:
        return
    # Conditional, so concurrent requests on several workers write the row once a minute.
    ApiToken.objects.filter(
        Q(last_used_at__isnull=True) | Q(last_used_at__lte=stale), pk=token.pk
    ).update(last_used_at=now)
    token.last_used_at = now


def scope_allows(scope: str, *, method: str, path: str) -> bool:
    """May a token of `scope` make this request? `full` leaves it to the user's rights."""
    if scope == ApiToken.Scope.FULL:
        return True
    if scope == ApiToken.Scope.READ:
        return method in READ_METHODS
    return method == "POST" and path in settings.API_TOKEN_USAGE_PATHS
