"""Demo licenses: signed with the development key and applied with `license_apply`, as a
vendor's token would be. Issued at a time in the story (`issued_at`, the contract start),
so the claims say when the contract began; `license_apply` checks them as any token."""

import logging
from datetime import datetime

from django.conf import settings
from django.contrib.auth.models import User

from licensing.jwt import encode_license
from licensing.keys import dev_key_pair, dev_keys_trusted, load_private_key
from licensing.models import License, Tenant
from licensing.services import license_apply

logger = logging.getLogger(__name__)


def demo_license_apply(
    tenant: Tenant,
    *,
    caps: dict[str, int | None],
    issued_at: datetime | None = None,
    days: int | None = 365,
    kind: str = "contract",
    acting_user: User | None = None,
) -> License | None:
    """Issue a license with the development key and apply it; None (nothing applied) where
    that key is not trusted (it is only with DEBUG=True and no LICENSE_PUBLIC_KEYS): the
    tenant then stays on the free tier."""
    if not dev_keys_trusted():
        logger.warning(
            "No demo license for %s: the development key is trusted only with DEBUG=True and "
            "no LICENSE_PUBLIC_KEYS; the tenant stays on the free tier.",
            tenant.slug,
        )
        return None
    token = encode_license(
        private_key=load_private_key(dev_key_pair()[0]),
        subject=str(tenant.license_subject),
        kind=kind,
        caps=caps,
        issuer=settings.LICENSE_ISSUER,
        issued_at=issued_at,
        days=days,
        customer=tenant.name,
    )
    return license_apply(tenant=tenant, token=token, acting_user=acting_user)
