"""factory-boy factories for every model, with one shared faker, and the one license signer.

Rows are made the way the product makes them where the product keeps something in step:
`TaskFactory` inserts through `Task.save()`, which the cap guard counts (no bulk path);
`UsageEventFactory` records through the usage service, which keeps the rollups in step;
`LicenseFactory` stores a real Ed25519-signed token whose claims match the row.
Hosts, gateways, tickets, schedules, models and plans are plain rows: tests that need a
state the services would refuse (a tenant over its cap) can make it.

Licenses: `Vendor` signs claim sets (`claims_for`) with a real key; the `vendor` fixture
(tests/conftest.py) makes one that Tally trusts for the test. `LICENSE_VENDOR` is the
session's vendor behind `LicenseFactory`, and `active_license` swaps a tenant's license.
"""

import base64
import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, TypeVar

import factory
import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from django.contrib.auth import get_user_model
from django.utils import timezone
from faker import Faker

from licensing.jwt import VerificationKey
from licensing.models import License, Membership, Tenant
from licensing.signals import license_applied
from tasks.models import Gateway, Host, Schedule, Task, Ticket
from tasks.services import gateway_secret_hash
from usage.models import LlmModel, PricingPlan, UsageEvent

faker = Faker()
factory.Faker._DEFAULT_LOCALE = "en_US"

# A 15-minute boundary (plans take effect on one) before any event a test records.
PLANS_EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


# --- licenses, signed for real ---------------------------------------------------------


def public_pem(*private_keys) -> bytes:
    """The public halves of `private_keys` as one PEM file (what LICENSE_PUBLIC_KEYS names)."""
    return b"".join(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        for key in private_keys
    )


_JWK_ALGORITHMS: dict[type, Any] = {
    ed25519.Ed25519PrivateKey: jwt.algorithms.OKPAlgorithm,
    ec.EllipticCurvePrivateKey: jwt.algorithms.ECAlgorithm,
    rsa.RSAPrivateKey: jwt.algorithms.RSAAlgorithm,
}


def jwks(named_keys: dict[str, Any]) -> str:
    """A JWKS document of the public halves of `{kid: private key}`."""
    keys = []
    for kid, private_key in named_keys.items():
        algorithm = next(a for kind, a in _JWK_ALGORITHMS.items() if isinstance(private_key, kind))
        entry = algorithm.to_jwk(private_key.public_key(), as_dict=True)
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


def b64url(data: bytes) -> str:
    """base64url without padding, as in every part of a JWT."""
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


@dataclass
class Vendor:
    """Signs licenses with `key` (Ed25519 unless a test says otherwise)."""

    key: Any = field(default_factory=ed25519.Ed25519PrivateKey.generate)

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

    def sign_raw(self, header: dict, payload: bytes) -> str:
        """Sign what PyJWT would refuse to build (any payload bytes); the key must be Ed25519."""
        signing_input = f"{b64url(json.dumps(header).encode())}.{b64url(payload)}"
        return f"{signing_input}.{b64url(self.key.sign(signing_input.encode()))}"

    def token(self, tenant, *, drop: tuple[str, ...] = (), headers=None, key=None, **claims):
        """A signed token for `tenant` (claims_for, with `claims` replacing, `drop` removed)."""
        payload = claims_for(tenant, **claims)
        for name in drop:
            payload.pop(name)
        return self.sign(payload, key=key, headers=headers)

    def pem(self) -> bytes:
        return public_pem(self.key)

    def verification_keys(self) -> list[VerificationKey]:
        return [VerificationKey(self.key.public_key())]


# The vendor whose signature every LicenseFactory token carries.
LICENSE_VENDOR = Vendor()


def _seconds(instant: datetime | None) -> int | None:
    return None if instant is None else int(instant.timestamp())


def _license_payload(row) -> dict[str, Any]:
    """The claims of the token a LicenseFactory row was applied from."""
    claims = claims_for(
        row.tenant,
        jti=row.jti,
        kind=row.kind,
        customer=row.customer,
        caps={"hosts": row.hosts_cap, "gateways": row.gateways_cap, "tasks": row.tasks_cap},
        iat=_seconds(row.issued_at),
        nbf=_seconds(row.starts_at),
        exp=_seconds(row.expires_at),
    )
    # Claims a license leaves out: no expiry (perpetual), no customer name.
    return {name: value for name, value in claims.items() if value not in (None, "")}


# --- tenants and people -------------------------------------------------------------------


Row = TypeVar("Row")


class TenantFactory(factory.django.DjangoModelFactory[Tenant]):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"{faker.company()} {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    timezone = "UTC"


class TenantRowFactory(factory.django.DjangoModelFactory[Row]):
    """A row that belongs to a tenant: a new tenant unless `tenant=` names one."""

    class Meta:
        abstract = True

    tenant: Any = factory.SubFactory(TenantFactory)


class UserFactory(factory.django.DjangoModelFactory[Any]):
    """A user; `tenant=` makes them a member of that tenant (`is_staff=True`: its admin)."""

    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def tenant(user: Any, create, extracted, **kwargs):  # factory-boy passes the new user
        if create and extracted is not None:
            Membership.objects.create(user=user, tenant=extracted)
        if create:
            user.save()


class MembershipFactory(TenantRowFactory[Membership]):
    class Meta:
        model = Membership

    user = factory.SubFactory(UserFactory)


class LicenseFactory(TenantRowFactory[License]):
    """An active license row with the real token it would have been applied from: signed by
    `LICENSE_VENDOR`, claims matching the row (caps, kind, times, jti). For the cap tests;
    tests of `license_apply` itself use the `vendor` fixture's tokens."""

    class Meta:
        model = License
        skip_postgeneration_save = True

    jti = factory.Sequence(lambda n: f"license-{n}")
    kind = License.Kind.CONTRACT
    customer = ""
    hosts_cap = 10
    gateways_cap = 5
    tasks_cap = 100
    issued_at = factory.LazyFunction(lambda: timezone.now().replace(microsecond=0))
    starts_at = factory.LazyAttribute(lambda o: o.issued_at)
    expires_at = None
    claims = factory.LazyAttribute(_license_payload)
    token = factory.LazyAttribute(lambda o: LICENSE_VENDOR.sign(o.claims))
    status = License.Status.ACTIVE
    applied_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def applied(self, create, extracted, **kwargs):
        # What license_apply tells the layers above (the tasks counter mirrors the license).
        if create and self.status == License.Status.ACTIVE:
            license_applied.send(sender=License, tenant=self.tenant, license=self, previous=None)


def active_license(
    tenant: Tenant,
    *,
    hosts: int | None = 10,
    gateways: int | None = 5,
    tasks: int | None = 100,
    expired: bool = False,
    **fields,
) -> License:
    """Make a license with these caps the tenant's active one (the previous one is archived),
    issued 30 days ago and perpetual, or expired yesterday."""
    now = timezone.now().replace(microsecond=0)
    License.objects.filter(tenant=tenant, status=License.Status.ACTIVE).update(
        status=License.Status.ARCHIVED, archived_at=now
    )
    return LicenseFactory.create(
        tenant=tenant,
        hosts_cap=hosts,
        gateways_cap=gateways,
        tasks_cap=tasks,
        issued_at=now - timedelta(days=30),
        expires_at=now - timedelta(days=1) if expired else None,
        **fields,
    )


def _licensed_tenant() -> Tenant:
    return LicenseFactory.create().tenant


# --- hosts, gateways, tickets, tasks, schedules -----------------------------------------


def of_the_same_tenant(factory_class, **fields) -> factory.SubFactory:
    """A related row made by `factory_class` for the tenant of the row that needs it."""
    return factory.SubFactory(factory_class, tenant=factory.SelfAttribute("..tenant"), **fields)


class HostFactory(TenantRowFactory[Host]):
    class Meta:
        model = Host

    name = factory.Sequence(lambda n: f"{faker.hostname(levels=0)}-{n}")


class GatewayFactory(TenantRowFactory[Gateway]):
    """A registered gateway; its ingest secret is `secret` (default: gateway-secret-N)."""

    class Meta:
        model = Gateway

    class Params:
        secret = factory.Sequence(lambda n: f"gateway-secret-{n}")

    name = factory.Sequence(lambda n: f"Gateway {n}")
    kind = Gateway.Kind.JIRA
    secret_hash = factory.LazyAttribute(lambda o: gateway_secret_hash(o.secret))


class TicketFactory(TenantRowFactory[Ticket]):
    """A pending ticket delivered by a gateway of the same tenant."""

    class Meta:
        model = Ticket

    gateway = of_the_same_tenant(GatewayFactory)
    external_id = factory.Sequence(lambda n: f"INC-{n}")
    subject = factory.LazyFunction(lambda: faker.sentence(nb_words=5))
    body = factory.LazyFunction(faker.paragraph)


class TaskFactory(TenantRowFactory[Task]):
    """A task inserted through `Task.save()`, so the cap guard counts it (or refuses it).

    Without `tenant=`, a tenant with an active license (LicenseFactory's caps) is made.
    """

    class Meta:
        model = Task

    tenant = factory.LazyFunction(_licensed_tenant)
    title = factory.LazyFunction(lambda: faker.sentence(nb_words=4).rstrip("."))
    description = factory.LazyFunction(faker.paragraph)
    source = Task.Source.API

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        task = model_class(*args, **kwargs)
        task.save()  # the guarded insert; never bulk_create (which refuses)
        return task


class ScheduleFactory(TenantRowFactory[Schedule]):
    """An active schedule registered from a recurring ticket, next due in an hour."""

    class Meta:
        model = Schedule

    ticket = of_the_same_tenant(
        TicketFactory,
        recurrence=factory.LazyAttribute(
            lambda o: {"every_minutes": o.factory_parent.every_minutes}
        ),
    )
    title = factory.SelfAttribute("ticket.subject")
    every_minutes = 60
    next_run_at = factory.LazyFunction(lambda: timezone.now() + timedelta(hours=1))


# --- LLM models, pricing plans, usage events --------------------------------------------


class LlmModelFactory(TenantRowFactory[LlmModel]):
    class Meta:
        model = LlmModel

    name = factory.Sequence(lambda n: f"model-{n}")
    provider = factory.Iterator(["OpenAI", "Anthropic", "Mistral"])


class PricingPlanFactory(factory.django.DjangoModelFactory[PricingPlan]):
    """USD per million tokens, in force from PLANS_EPOCH unless `effective_at=` says."""

    class Meta:
        model = PricingPlan

    model = factory.SubFactory(LlmModelFactory)
    input_per_million = Decimal("1")
    output_per_million = Decimal("2")
    cached_per_million = Decimal("0.5")
    effective_at = PLANS_EPOCH


class UsageEventFactory(TenantRowFactory[UsageEvent]):
    """One usage event recorded through the usage service, so the rollups include it."""

    class Meta:
        model = UsageEvent

    model = of_the_same_tenant(LlmModelFactory)
    request_id = factory.Sequence(lambda n: f"req-{n}")
    occurred_at = factory.LazyFunction(lambda: timezone.now() - timedelta(hours=1))
    input_tokens = factory.LazyFunction(lambda: faker.random_int(0, 5000))
    output_tokens = factory.LazyFunction(lambda: faker.random_int(0, 2000))
    cached_tokens = factory.LazyFunction(lambda: faker.random_int(0, 1000))
    ticket = None
    task = None
    consumer = factory.Sequence(lambda n: f"agent-{n % 4}")
    succeeded = True

    @classmethod
    def _create(cls, model_class, *, tenant, model, ticket, task, **fields):
        from usage.services import usage_events_insert  # the service keeps rollups in step

        record = {
            **fields,
            "model": model.name,
            "ticket": ticket.pk if ticket else None,
            "task": task.pk if task else None,
        }
        usage_events_insert(tenant=tenant, events=[record])
        return model_class.objects.get(tenant=tenant, request_id=fields["request_id"])
