"""factory-boy factories with one shared faker; each app's tests add theirs here."""

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone
from faker import Faker

from licensing.models import License, Membership, Tenant
from licensing.signals import license_applied

faker = Faker()
factory.Faker._DEFAULT_LOCALE = "en_US"


class TenantFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Tenant

    name = factory.Sequence(lambda n: f"{faker.company()} {n}")
    slug = factory.Sequence(lambda n: f"tenant-{n}")
    timezone = "UTC"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "password")

    @factory.post_generation
    def tenant(self, create, extracted, **kwargs):
        if create and extracted is not None:
            Membership.objects.create(user=self, tenant=extracted)
        if create:
            self.save()


class LicenseFactory(factory.django.DjangoModelFactory):
    """An applied license row, without a token: for tests that only need caps.

    Tests of verification and `license_apply` use real signed tokens instead.
    """

    class Meta:
        model = License
        skip_postgeneration_save = True

    tenant = factory.SubFactory(TenantFactory)
    jti = factory.Sequence(lambda n: f"license-{n}")
    kind = License.Kind.CONTRACT
    hosts_cap = 10
    gateways_cap = 5
    tasks_cap = 100
    issued_at = factory.LazyFunction(timezone.now)
    starts_at = factory.LazyAttribute(lambda o: o.issued_at)
    expires_at = None
    token = "not-a-real-token"
    claims = factory.LazyFunction(dict)
    status = License.Status.ACTIVE
    applied_at = factory.LazyFunction(timezone.now)

    @factory.post_generation
    def applied(self, create, extracted, **kwargs):
        # What license_apply tells the layers above (the tasks counter mirrors the license).
        if create and self.status == License.Status.ACTIVE:
            license_applied.send(sender=License, tenant=self.tenant, license=self, previous=None)
