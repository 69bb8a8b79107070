"""The licensing part of `seed_demo`: a demo tenant, its users and a demo license."""

import logging
from dataclasses import dataclass

from django.conf import settings

from licensing.jwt import encode_license
from licensing.keys import dev_key_pair, dev_keys_trusted, load_private_key
from licensing.models import License, Tenant
from licensing.services import license_apply, tenant_create, user_add

logger = logging.getLogger(__name__)
DEMO_CAPS = {"hosts": 12, "gateways": 5, "tasks": 500}
DEMO_LICENSE_DAYS = 365

DEMO_SLUG = "demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


DEMO_LOGINS = (
    DemoLogin("admin", "tally-admin", "administrator"),
    DemoLogin("member", "tally-member", "member"),
)


def seed_tenant() -> Tenant:
    tenant = tenant_create(name="Acme Robotics", slug=DEMO_SLUG, timezone="Europe/Paris")
    for login in DEMO_LOGINS:
        user_add(
            tenant=tenant,
            username=login.username,
            admin=login.role == "administrator",
            password=login.password,
        )
    return tenant


def seed_license(tenant: Tenant) -> License | None:
    """Issue a demo contract license with the development key and apply it.

    Only where the development key is trusted (DEBUG=True, no LICENSE_PUBLIC_KEYS);
    elsewhere nothing is applied and the tenant stays on the free tier.
    """
    if not dev_keys_trusted():
        logger.warning(
            "No demo license: the development key is trusted only with DEBUG=True and no "
            "LICENSE_PUBLIC_KEYS; the demo tenant stays on the free tier."
        )
        return None
    private_key = load_private_key(dev_key_pair()[0])
    token = encode_license(
        private_key=private_key,
        subject=str(tenant.license_subject),
        kind="contract",
        caps=DEMO_CAPS,
        issuer=settings.LICENSE_ISSUER,
        days=DEMO_LICENSE_DAYS,
        customer=tenant.name,
    )
    return license_apply(tenant=tenant, token=token, acting_user=None)
