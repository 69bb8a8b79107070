"""The shared factories make rows the product would accept, in step with what it keeps."""

from datetime import timedelta

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from licensing.errors import CapReached
from licensing.jwt import decode_license
from licensing.models import License
from licensing.services import license_apply
from tasks.models import Task, TaskCounter
from tests.factories import (
    LICENSE_VENDOR,
    GatewayFactory,
    HostFactory,
    LicenseFactory,
    LlmModelFactory,
    MembershipFactory,
    PricingPlanFactory,
    ScheduleFactory,
    TaskFactory,
    TenantFactory,
    TicketFactory,
    UsageEventFactory,
    active_license,
)
from usage.models import ModelRollup

pytestmark = pytest.mark.django_db


def test_a_factory_license_carries_a_real_token_whose_claims_are_the_rows():
    license = LicenseFactory(hosts_cap=3, gateways_cap=None, tasks_cap=7)
    claims = decode_license(
        license.token,
        LICENSE_VENDOR.verification_keys(),
        subject=str(license.tenant.license_subject),
    )
    assert claims.algorithm == "EdDSA"
    assert claims.jti == license.jti
    assert claims.caps == {"hosts": 3, "gateways": None, "tasks": 7}
    assert (claims.issued_at, claims.expires_at) == (license.issued_at, None)
    assert license.claims == claims.raw


def test_the_vendor_fixture_signs_tokens_that_license_apply_accepts(vendor):
    tenant = TenantFactory()
    license = license_apply(tenant=tenant, token=vendor.token(tenant), acting_user=None)
    assert license.status == License.Status.ACTIVE
    assert license.tasks_cap == 500


def test_active_license_archives_the_previous_one_and_can_be_expired():
    tenant = TenantFactory()
    first = active_license(tenant, tasks=1)
    second = active_license(tenant, tasks=2, expired=True)
    first.refresh_from_db()
    assert first.status == License.Status.ARCHIVED
    assert second.status == License.Status.ACTIVE
    assert second.expires_at < timezone.now()


def test_factory_tasks_pass_the_cap_guard_and_are_refused_at_the_cap():
    tenant = active_license(TenantFactory(), tasks=2).tenant
    TaskFactory.create_batch(2, tenant=tenant)
    with pytest.raises(CapReached):
        TaskFactory(tenant=tenant)
    assert TaskCounter.objects.get(tenant=tenant).used == 2
    assert Task.objects.filter(tenant=tenant).count() == 2


def test_a_task_without_a_tenant_gets_one_with_an_active_license():
    task = TaskFactory()
    assert License.objects.filter(tenant=task.tenant, status=License.Status.ACTIVE).exists()
    assert TaskCounter.objects.get(tenant=task.tenant).used == 1


def test_related_rows_belong_to_one_tenant():
    schedule = ScheduleFactory(every_minutes=15)
    assert schedule.ticket.tenant == schedule.tenant == schedule.ticket.gateway.tenant
    assert schedule.ticket.recurrence == {"every_minutes": 15}
    membership = MembershipFactory()
    assert membership.user.membership.tenant == membership.tenant
    assert HostFactory().tenant != HostFactory().tenant


def test_a_gateway_factory_delivers_with_its_secret_and_only_with_it():
    gateway = GatewayFactory(secret="s3cret")
    ticket = {"external_id": "INC-7", "subject": "Disk almost full"}
    url = f"/api/v1/gateways/{gateway.pk}/tickets/"
    wrong = APIClient().post(url, ticket, format="json", HTTP_AUTHORIZATION="Bearer guess")
    right = APIClient().post(url, ticket, format="json", HTTP_AUTHORIZATION="Bearer s3cret")
    assert (wrong.status_code, right.status_code) == (401, 202)


def test_usage_events_are_recorded_with_their_rollups():
    model = LlmModelFactory()
    PricingPlanFactory(model=model)
    ticket = TicketFactory(tenant=model.tenant)
    event = UsageEventFactory(
        tenant=model.tenant,
        model=model,
        ticket=ticket,
        input_tokens=100,
        occurred_at=timezone.now() - timedelta(minutes=30),
    )
    assert event.ticket == ticket
    rollups = ModelRollup.objects.filter(tenant=model.tenant, model=model, on_ticket=True)
    assert {row.input_tokens for row in rollups} == {100}
