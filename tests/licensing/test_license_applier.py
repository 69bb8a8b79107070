"""Who applied a license stays known after that user is deleted (SPEC §2: "who applied it
... is recorded"); "system" (API: null) only when no user applied it."""

import importlib

import pytest
from django.apps import apps
from django.utils import timezone

from licensing.models import License, LicenseAuditRecord
from licensing.services import license_apply
from tests.factories import LicenseFactory, UserFactory


@pytest.fixture
def carol(tenant_a):
    return UserFactory(username="carol", is_staff=True, tenant=tenant_a)


def test_the_appliers_name_is_kept_after_the_user_is_deleted(
    vendor, tenant_a, admin_a, carol, api_client_for
):
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=carol)
    carol.delete()

    license = License.objects.get()
    assert license.applied_by is None and license.applied_by_name == "carol"
    [row] = api_client_for(admin_a).get("/api/v1/license/history/").json()["results"]
    assert row["applied_by"] == "carol"
    assert api_client_for(admin_a).get("/api/v1/license/").json()["license"]["applied_by"] == (
        "carol"
    )


def test_a_license_applied_without_a_user_is_the_systems(vendor, tenant_a, admin_a, api_client_for):
    license = license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    assert license.applied_by_name == ""
    [row] = api_client_for(admin_a).get("/api/v1/license/history/").json()["results"]
    assert row["applied_by"] is None


def test_the_page_names_a_deleted_applier_not_system(
    vendor, tenant_a, admin_a, carol, page_client_for
):
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=carol)
    carol.delete()
    page = page_client_for(admin_a).get("/settings/license/").content.decode()
    history = page[page.index("License history") :]
    assert "carol" in history and "system" not in history


def test_the_migration_fills_the_name_from_the_audit_record_or_the_user(tenant_a, admin_a):
    """Licenses applied before the name was stored: the audit row's name (as it was at apply
    time) wins, then the user's current username; no user and no audit name stays ""."""
    carol = UserFactory(username="carol")
    audited = LicenseFactory(tenant=tenant_a, status="archived", archived_at=timezone.now())
    LicenseAuditRecord.objects.create(
        tenant=tenant_a, actor=None, actor_name="dave", at=audited.applied_at, license=audited
    )
    by_user = LicenseFactory(
        tenant=tenant_a, applied_by=carol, status="archived", archived_at=timezone.now()
    )
    by_system = LicenseFactory(tenant=tenant_a)
    License.objects.update(applied_by_name="")

    migration = importlib.import_module("licensing.migrations.0003_license_applied_by_name")
    migration.fill_applied_by_name(apps, None)

    names = dict(License.objects.values_list("pk", "applied_by_name"))
    assert names == {audited.pk: "dave", by_user.pk: "carol", by_system.pk: ""}
