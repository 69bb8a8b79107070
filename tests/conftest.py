"""Fixtures for every app's tests: a license vendor Tally trusts, and the fixed cast for
permission tests."""

from dataclasses import dataclass
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from tests.factories import TenantFactory, UserFactory, Vendor


@dataclass
class TrustedVendor(Vendor):
    """A Vendor whose public key is in `public_path`, the file LICENSE_PUBLIC_KEYS names."""

    public_path: Path = Path()


@pytest.fixture
def vendor(tmp_path, settings) -> TrustedVendor:
    """A new Ed25519 vendor key for this test; Tally trusts it (and only it)."""
    vendor = TrustedVendor(public_path=tmp_path / "vendor-public.pem")
    vendor.public_path.write_bytes(vendor.pem())
    settings.LICENSE_PUBLIC_KEYS = str(vendor.public_path)
    settings.LICENSE_ISSUER = "tally"
    settings.LICENSE_DEV_KEY_DIR = tmp_path / "dev-license-keys"
    return vendor


@pytest.fixture
def tenant_a(db):
    return TenantFactory(name="Tenant A", slug="tenant-a")


@pytest.fixture
def tenant_b(db):
    return TenantFactory(name="Tenant B", slug="tenant-b")


@pytest.fixture
def admin_a(tenant_a):
    return UserFactory(username="admin-a", is_staff=True, tenant=tenant_a)


@pytest.fixture
def member_a(tenant_a):
    return UserFactory(username="member-a", tenant=tenant_a)


@pytest.fixture
def admin_b(tenant_b):
    return UserFactory(username="admin-b", is_staff=True, tenant=tenant_b)


@pytest.fixture
def operator(db):
    return UserFactory(username="operator", is_staff=True, is_superuser=True)


@pytest.fixture
def cast(admin_a, member_a, admin_b, operator):
    """Everyone in the permission matrix; `None` is the anonymous visitor."""
    return {
        "admin_a": admin_a,
        "member_a": member_a,
        "admin_b": admin_b,
        "operator": operator,
        "anonymous": None,
    }


@pytest.fixture
def api_client_for():
    def make(user) -> APIClient:
        client = APIClient()
        if user is not None:
            client.force_authenticate(user)
        return client

    return make


@pytest.fixture
def page_client_for(client):
    def make(user):
        if user is not None:
            client.force_login(user)
        return client

    return make
