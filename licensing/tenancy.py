"""Who may see what: the request's tenant, the page gates and the API permissions (SPEC §1)."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.contrib.auth.models import User
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest
from rest_framework.permissions import BasePermission
from rest_framework.request import Request

from licensing.models import Tenant


class MemberRequest(HttpRequest):
    """For the type checker only: a page request past `member_required` (a tenant's user)."""

    tenant: Tenant
    user: User


class TenantRequest(Request):
    """For the type checker only: an API request past `IsTenantMember`, its tenant set."""

    tenant: Tenant


def tenant_for_user(user) -> Tenant | None:
    if not user.is_authenticated:
        return None
    return Tenant.objects.filter(memberships__user_id=user.pk).first()


class TenantMiddleware:
    """Sets `request.tenant` (None for anonymous visitors and operators)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        request.tenant = tenant_for_user(request.user)
        return self.get_response(request)


def member_required(view):
    """Pages for any user of a tenant: anonymous -> login, no tenant -> 403."""

    @login_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.tenant is None:
            raise PermissionDenied("This page belongs to a tenant; operators use the admin site.")
        return view(request, *args, **kwargs)

    return wrapped


def staff_required(view):
    """Pages for tenant administrators: anonymous -> login, member -> 403."""

    @member_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if not request.user.is_staff:
            raise PermissionDenied("Only administrators of the tenant can open this page.")
        return view(request, *args, **kwargs)

    return wrapped


def members_read_staff_writes(view):
    """Pages every user of the tenant reads, which only administrators change: anonymous ->
    login, a member's POST -> 403 (the page counterpart of `MemberReadsAdminWrites`)."""

    @member_required
    @wraps(view)
    def wrapped(request, *args, **kwargs):
        if request.method not in ("GET", "HEAD") and not request.user.is_staff:
            raise PermissionDenied("Only administrators of the tenant can change this.")
        return view(request, *args, **kwargs)

    return wrapped


class IsTenantMember(BasePermission):
    """API for any user of a tenant: anonymous -> 401, no tenant -> 403.

    DRF authenticates inside the view (token users are unknown to the middleware),
    so the tenant is resolved here, after authentication.
    """

    message = "This endpoint belongs to a tenant; your user has none."

    def has_permission(self, request, view) -> bool:
        if not (request.user and request.user.is_authenticated):
            return False
        request.tenant = tenant_for_user(request.user)
        return request.tenant is not None


class IsTenantAdmin(IsTenantMember):
    """API for tenant administrators (`is_staff`): members get 403."""

    message = "Only administrators of the tenant can use this endpoint."

    def has_permission(self, request, view) -> bool:
        return super().has_permission(request, view) and request.user.is_staff


class MemberReadsAdminWrites(IsTenantMember):
    """Members may list and read; changes are for administrators."""

    message = "Only administrators of the tenant can change this."

    def has_permission(self, request, view) -> bool:
        if not super().has_permission(request, view):
            return False
        return request.method in ("GET", "HEAD", "OPTIONS") or request.user.is_staff
