"""Writes about tenants, their users and their licenses."""

import logging
import zoneinfo
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.contrib.auth import get_user_model, password_validation
from django.contrib.auth.models import User
from django.core.exceptions import ImproperlyConfigured, ValidationError
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from licensing.errors import LicenseKeysUnavailable, LicenseRefused
from licensing.jwt import LicenseClaims, VerificationKey, decode_license
from licensing.keys import configured_keys
from licensing.models import License, LicenseAuditRecord, Membership, Tenant
from licensing.selectors import Entitlements, active_license, entitlements_under
from licensing.signals import license_applied

logger = logging.getLogger(__name__)


def tenant_create(*, name: str, slug: str | None = None, timezone: str = "UTC") -> Tenant:
    """Create a tenant; the slug defaults to one made from the name."""
    slug = slug or slugify(name)
    if not slug:
        raise ValidationError({"slug": "A slug is needed: the name has no letters or digits."})
    if timezone not in zoneinfo.available_timezones():
        raise ValidationError({"timezone": f"{timezone!r} is not an IANA time zone."})
    if Tenant.objects.filter(slug=slug).exists():
        raise ValidationError({"slug": f"A tenant with slug {slug!r} already exists."})
    tenant = Tenant(name=name, slug=slug, timezone=timezone)
    tenant.full_clean()
    tenant.save()
    return tenant


def user_add(
    *, tenant: Tenant, username: str, admin: bool = False, password: str | None = None
) -> User:
    """Create a user of `tenant`: an administrator (`is_staff`) or a member.

    The username gets Django's own model validation and the password (if any) the
    AUTH_PASSWORD_VALIDATORS; a `ValidationError` naming the field creates nothing.
    """
    user_model = get_user_model()
    if user_model.objects.filter(username=username).exists():
        raise ValidationError({"username": f"A user named {username!r} already exists."})
    user = user_model(username=username, is_staff=admin)
    try:
        user.full_clean(exclude=["password"])
    except ValidationError as error:
        reasons = " ".join(m for messages in error.message_dict.values() for m in messages)
        message = f"The username {username!r} is not valid: {reasons}"
        raise ValidationError({"username": message}) from error
    if password:
        try:
            password_validation.validate_password(password, user)
        except ValidationError as error:
            reasons = " ".join(error.messages)
            message = f"The password is not accepted: {reasons}"
            raise ValidationError({"password": message}) from error
        user.set_password(password)
    else:
        user.set_unusable_password()
    with transaction.atomic():
        user.save()
        Membership.objects.create(user=user, tenant=tenant)
    return user


def license_apply(*, tenant: Tenant, token: str, acting_user: User | None) -> License:
    """Verify `token` and make it the tenant's active license; return the new license.

    A refused token raises `LicenseRefused` and changes nothing; so does a broken key
    configuration (`LicenseKeysUnavailable`, logged at ERROR for the operator). Otherwise, in
    one durable transaction: the active license is archived, the new one activated and an
    audit record written.
    """
    try:
        claims = _verified_claims(tenant, token)
        with transaction.atomic(durable=True):
            # Lock the tenant row: concurrent applies for one tenant queue here, so each
            # compares against (and archives) the license the previous one activated. NO KEY
            # UPDATE: a task insert key-share locks the tenant (its foreign key, checked at
            # commit) while it holds the counter row license_applied's receiver writes.
            Tenant.objects.select_for_update(no_key=True).get(pk=tenant.pk)
            current = License.objects.filter(tenant=tenant, status=License.Status.ACTIVE).first()
            _refuse_replay(current, claims)
            license = _activate(
                tenant=tenant, current=current, claims=claims, token=token, acting_user=acting_user
            )
            license_applied.send(sender=License, tenant=tenant, license=license, previous=current)
            return license
    except LicenseRefused as refusal:
        logger.info("License refused for tenant %s: %s", tenant.slug, refusal.code)
        raise


@dataclass(frozen=True)
class LicensePreview:
    """What applying a token would do: its claims, the tenant's entitlements now and after."""

    claims: LicenseClaims
    before: Entitlements
    after: Entitlements


def license_preview(*, tenant: Tenant, token: str) -> LicensePreview:
    """Check `token` as `license_apply` would (signature, claims, replay) and change nothing.

    Raises the same `LicenseRefused` / `LicenseKeysUnavailable`. The replay check reads the
    active license without a lock: `license_apply` checks again under it.
    """
    try:
        claims = _verified_claims(tenant, token)
        current = active_license(tenant)
        _refuse_replay(current, claims)
    except LicenseRefused as refusal:
        logger.info("License preview refused for tenant %s: %s", tenant.slug, refusal.code)
        raise
    after = License(tenant=tenant, **_terms(claims))  # never saved: entitlements_under reads it
    return LicensePreview(claims, entitlements_under(current), entitlements_under(after))


def _verified_claims(tenant: Tenant, token: str) -> LicenseClaims:
    return decode_license(
        token,
        _verification_keys(tenant),
        issuer=settings.LICENSE_ISSUER,
        subject=str(tenant.license_subject),
    )


def _terms(claims: LicenseClaims) -> dict[str, Any]:
    """The License fields a token's claims set."""
    return {
        "jti": claims.jti,
        "kind": claims.kind,
        "customer": claims.customer,
        "hosts_cap": claims.caps["hosts"],
        "gateways_cap": claims.caps["gateways"],
        "tasks_cap": claims.caps["tasks"],
        "issued_at": claims.issued_at,
        "starts_at": claims.starts_at,
        "expires_at": claims.expires_at,
    }


def _verification_keys(tenant: Tenant) -> list[VerificationKey]:
    try:
        return configured_keys()
    except ImproperlyConfigured as error:
        # Read on every apply (key rotation needs no restart), so a key file broken while the
        # server runs surfaces here, not only in `manage.py check`.
        logger.error(
            "License keys unavailable, apply refused for tenant %s: %s", tenant.slug, error
        )
        raise LicenseKeysUnavailable() from error


def _refuse_replay(current: License | None, claims: LicenseClaims) -> None:
    if current is None:
        return
    if claims.jti == current.jti:
        raise LicenseRefused(
            "already_applied", "This license is already the active one; nothing was changed."
        )
    if claims.issued_at < current.issued_at:
        raise LicenseRefused(
            "rollback",
            f"This license was issued on {claims.issued_at:%Y-%m-%d %H:%M} UTC, before the "
            f"active one ({current.issued_at:%Y-%m-%d %H:%M} UTC): an older license cannot "
            "replace a newer one.",
        )


def _activate(
    *,
    tenant: Tenant,
    current: License | None,
    claims: LicenseClaims,
    token: str,
    acting_user: User | None,
) -> License:
    now = timezone.now()
    applier_name = acting_user.get_username() if acting_user is not None else ""
    if current is not None:
        current.status, current.archived_at = License.Status.ARCHIVED, now
        current.save(update_fields=["status", "archived_at"])
    license = License.objects.create(
        tenant=tenant,
        **_terms(claims),
        token="".join(token.split()),
        claims=claims.raw,
        status=License.Status.ACTIVE,
        applied_by=acting_user,
        applied_by_name=applier_name,
        applied_at=now,
    )
    LicenseAuditRecord.objects.create(
        tenant=tenant,
        action=LicenseAuditRecord.Action.APPLIED,
        actor=acting_user,
        actor_name=applier_name,
        at=now,
        license=license,
        previous_license=current,
    )
    return license
