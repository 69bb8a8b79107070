"""The licensing part of `seed_demo`: a demo tenant with an administrator and a member."""

from dataclasses import dataclass

from licensing.models import Tenant
from licensing.services import tenant_create, user_add

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
