"""The fixed cast for permission tests."""

import pytest
from rest_framework.test import APIClient

from tests.factories import TenantFactory, UserFactory


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
