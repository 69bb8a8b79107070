"""The permissions matrix of the foundation's pages and endpoints, with the fixed cast."""

import pytest
from django.core.exceptions import PermissionDenied
from django.http import HttpResponse
from django.test import RequestFactory

from licensing.tenancy import member_required, staff_required, tenant_for_user
from tasks.models import Task


@staff_required
def _staff_page(request):
    return HttpResponse("ok")


@member_required
def _member_page(request):
    return HttpResponse("ok")


def _request_as(user):
    from django.contrib.auth.models import AnonymousUser

    request = RequestFactory().get("/somewhere/")
    request.user = user or AnonymousUser()
    request.tenant = tenant_for_user(request.user)
    return request


@pytest.mark.parametrize(
    "who, outcome",
    [
        ("admin_a", 200),
        ("admin_b", 200),
        ("member_a", 403),
        ("operator", 403),
        ("anonymous", 302),
    ],
)
def test_the_staff_gate(cast, who, outcome):
    request = _request_as(cast[who])
    if outcome == 403:
        with pytest.raises(PermissionDenied):
            _staff_page(request)
        return
    response = _staff_page(request)
    assert response.status_code == outcome
    if outcome == 302:
        assert response["Location"].startswith("/accounts/login/?next=")


@pytest.mark.parametrize(
    "who, outcome",
    [
        ("admin_a", 200),
        ("member_a", 200),
        ("operator", 403),
        ("anonymous", 302),
    ],
)
def test_the_member_gate(cast, who, outcome):
    request = _request_as(cast[who])
    if outcome == 403:
        with pytest.raises(PermissionDenied):
            _member_page(request)
    else:
        assert _member_page(request).status_code == outcome


@pytest.mark.parametrize(
    "who, status",
    [
        ("admin_a", 200),
        ("member_a", 200),
        ("admin_b", 200),
        ("operator", 302),
        ("anonymous", 302),
    ],
)
def test_home_page_matrix(cast, page_client_for, who, status):
    response = page_client_for(cast[who]).get("/")
    assert response.status_code == status
    if who == "operator":
        assert response["Location"] == "/admin/"
    if who == "anonymous":
        assert response["Location"].startswith("/accounts/login/")


@pytest.mark.parametrize(
    "who, status",
    [
        ("admin_a", 302),
        ("member_a", 302),
        ("admin_b", 302),
        ("operator", 200),
        ("anonymous", 302),
    ],
)
def test_only_operators_get_into_the_django_admin(cast, page_client_for, who, status):
    response = page_client_for(cast[who]).get("/admin/")
    assert response.status_code == status
    if status == 302:
        assert response["Location"].startswith("/admin/login/")


@pytest.mark.parametrize(
    "who, status, code",
    [
        ("admin_a", 200, None),
        ("member_a", 200, None),
        ("admin_b", 200, None),
        ("operator", 403, "permission_denied"),
        ("anonymous", 401, "not_authenticated"),
    ],
)
def test_tenant_api_matrix(cast, api_client_for, who, status, code):
    response = api_client_for(cast[who]).get("/api/v1/tenant/")
    assert response.status_code == status
    if code:
        assert response.json()["code"] == code
        assert response.json()["detail"]
    else:
        assert response.json()["slug"] == cast[who].membership.tenant.slug


def test_anonymous_api_answer_asks_for_a_token(db, api_client_for):
    response = api_client_for(None).get("/api/v1/tenant/")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == 'Bearer realm="api"'


def test_token_authentication_resolves_the_tenant(admin_a):
    from rest_framework.test import APIClient

    from licensing.api_tokens.services import api_token_create

    secret = api_token_create(user=admin_a, name="agent").secret
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {secret}")
    assert client.get("/api/v1/tenant/").json()["slug"] == "tenant-a"


def test_a_member_of_b_never_sees_tasks_of_a(tenant_a, admin_b, page_client_for):
    Task.objects.create(tenant=tenant_a, title="Secret task of A", source=Task.Source.UI)
    response = page_client_for(admin_b).get("/")
    assert response.status_code == 200
    assert b"Secret task of A" not in response.content
    assert b"No tasks yet" in response.content


def test_a_member_sees_the_tasks_of_their_tenant(tenant_a, member_a, page_client_for):
    Task.objects.create(tenant=tenant_a, title="Rotate the logs", source=Task.Source.UI)
    assert b"Rotate the logs" in page_client_for(member_a).get("/").content


def test_navigation_shows_only_what_the_user_may_open(admin_a, member_a, page_client_for, client):
    member_page = page_client_for(member_a).get("/").content.decode()
    assert 'href="/tasks/"' in member_page
    assert 'href="/usage/"' not in member_page and 'href="/admin/"' not in member_page
    client.logout()
    admin_page = page_client_for(admin_a).get("/").content.decode()
    assert 'href="/usage/"' in admin_page and 'href="/settings/license/"' in admin_page
    assert 'href="/admin/"' not in admin_page


def test_openapi_schema_and_docs_are_served(client, db):
    assert client.get("/api/schema/").status_code == 200
    docs = client.get("/api/docs/")
    assert docs.status_code == 200
    assert b"cdn" not in docs.content.lower()


def test_login_page_renders(client, db):
    response = client.get("/accounts/login/")
    assert response.status_code == 200
    assert b"Log in to Tally" in response.content
