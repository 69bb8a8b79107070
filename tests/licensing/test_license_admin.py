"""The operators' admin: tenants with their license, read-only history, applying a token."""

import pytest

from licensing.models import License, LicenseAuditRecord
from licensing.services import license_apply


@pytest.fixture
def operator_client(operator, page_client_for):
    return page_client_for(operator)


def apply_url(tenant) -> str:
    return f"/admin/licensing/tenant/{tenant.pk}/apply-license/"


def test_the_tenant_list_shows_each_tenants_license_state_and_caps(
    vendor, operator_client, tenant_a, tenant_b
):
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a, drop=("exp",)), acting_user=None)
    page = operator_client.get("/admin/licensing/tenant/").content.decode()
    assert "Contract, perpetual" in page and "12 / 5 / 500" in page
    assert "Free tier" in page and "10 / unlimited / 50" in page


def test_the_tenant_list_costs_the_same_queries_for_3_tenants_as_for_30(vendor, operator_client):
    from tests.factories import TenantFactory

    def list_queries() -> int:
        from django.db import connection
        from django.test.utils import CaptureQueriesContext

        with CaptureQueriesContext(connection) as captured:
            assert operator_client.get("/admin/licensing/tenant/").status_code == 200
        return len(captured)

    tenants = TenantFactory.create_batch(3)
    license_apply(tenant=tenants[0], token=vendor.token(tenants[0]), acting_user=None)
    few = list_queries()
    more = TenantFactory.create_batch(27)
    license_apply(tenant=more[0], token=vendor.token(more[0]), acting_user=None)
    assert list_queries() == few


def test_the_tenant_page_shows_the_license_history_read_only(vendor, operator_client, tenant_a):
    license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, jti="jti-in-admin"), acting_user=None
    )
    page = operator_client.get(f"/admin/licensing/tenant/{tenant_a.pk}/change/").content.decode()
    assert "License history (newest first)" in page and "jti-in-admin" in page
    assert 'name="licenses-0-jti"' not in page  # shown, never an editable input
    assert apply_url(tenant_a) in page


def test_a_license_cannot_be_edited_added_or_deleted_in_the_admin(
    vendor, operator_client, tenant_a
):
    license = license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    assert operator_client.get("/admin/licensing/license/add/").status_code == 403
    page = operator_client.get(f"/admin/licensing/license/{license.pk}/change/")
    assert page.status_code == 200 and b'name="_save"' not in page.content
    response = operator_client.post(
        f"/admin/licensing/license/{license.pk}/change/", {"tasks_cap": 10**6}
    )
    assert response.status_code == 403
    assert operator_client.get(f"/admin/licensing/license/{license.pk}/delete/").status_code == 403
    license.refresh_from_db()
    assert license.tasks_cap == 500


def test_an_operator_applies_a_token_through_the_service(
    vendor, operator, operator_client, tenant_a
):
    assert operator_client.get(apply_url(tenant_a)).status_code == 200
    response = operator_client.post(
        apply_url(tenant_a), {"token": vendor.token(tenant_a)}, follow=True
    )
    page = response.content.decode()
    assert "applied to Tenant A" in page
    license = License.objects.get()
    assert license.applied_by == operator
    assert LicenseAuditRecord.objects.get().actor == operator


def test_a_refused_token_in_the_admin_is_an_error_message_and_nothing_is_saved(
    vendor, operator_client, tenant_a, tenant_b
):
    response = operator_client.post(apply_url(tenant_a), {"token": vendor.token(tenant_b)})
    assert response.status_code == 200
    messages = [(m.level_tag, m.message) for m in response.context["messages"]]
    assert len(messages) == 1
    level, message = messages[0]
    assert level == "error" and message.startswith("Not applied (wrong_tenant):")
    assert "applied to" not in response.content.decode()
    assert not License.objects.exists()


def test_the_audit_records_are_listed_for_operators(vendor, operator_client, admin_a, tenant_a):
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=admin_a)
    page = operator_client.get("/admin/licensing/licenseauditrecord/").content.decode()
    assert "admin-a" in page and "Tenant A" in page


@pytest.mark.parametrize("who", ["admin_a", "member_a", "anonymous"])
def test_only_operators_reach_the_apply_form(cast, page_client_for, tenant_a, who):
    response = page_client_for(cast[who]).get(apply_url(tenant_a))
    assert response.status_code == 302 and "/admin/login/" in response["Location"]


def test_memberships_are_listed(operator_client, member_a):
    page = operator_client.get("/admin/licensing/membership/").content.decode()
    assert "member-a" in page
