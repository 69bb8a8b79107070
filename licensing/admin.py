"""The operators' view of tenants and licenses. Licenses are read-only: a token is never
edited in place; a new one is applied through `license_apply`, like everywhere else."""

from typing import ClassVar

from django.contrib import admin, messages
from django.db.models import Prefetch
from django.shortcuts import get_object_or_404, redirect
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils.html import format_html

from licensing.api_tokens.services import api_token_revoke
from licensing.errors import LicenseRefused
from licensing.forms import LicenseApplyForm
from licensing.models import ApiToken, License, LicenseAuditRecord, Membership, Tenant
from licensing.selectors import (
    DIMENSIONS,
    Entitlements,
    cap_text,
    entitlements_under,
    tenant_entitlements,
)
from licensing.services import license_apply

LICENSE_FIELDS = [
    "status",
    "kind",
    "customer",
    "jti",
    "hosts_cap",
    "gateways_cap",
    "tasks_cap",
    "issued_at",
    "starts_at",
    "expires_at",
    "applied_by",
    "applied_by_name",
    "applied_at",
    "archived_at",
]


class ReadOnlyAdminMixin:
    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class LicenseInline(ReadOnlyAdminMixin, admin.TabularInline):
    model = License
    fields: ClassVar[tuple[str, ...]] = (
        "status",
        "kind",
        "customer",
        "jti",
        "caps",
        "starts_at",
        "expires_at",
        "applied_by_name",
        "applied_at",
        "archived_at",
    )
    readonly_fields = fields
    extra = 0
    show_change_link = True
    verbose_name_plural = "License history (newest first)"

    @admin.display(description="Caps (hosts / gateways / tasks)")
    def caps(self, license: License) -> str:
        return " / ".join(cap_text(license.cap(d)) for d in DIMENSIONS)


class MembershipInline(admin.TabularInline):
    model = Membership
    extra = 0
    autocomplete_fields = ["user"]


@admin.register(Tenant)
class TenantAdmin(admin.ModelAdmin):
    list_display = ["name", "slug", "license_state", "caps", "apply_license_link"]
    search_fields = ["name", "slug", "license_subject"]
    readonly_fields = ["license_subject", "license_state", "caps", "apply_license_link"]
    fields = [
        "name",
        "slug",
        "timezone",
        "license_subject",
        "license_state",
        "caps",
        "apply_license_link",
    ]
    inlines = [MembershipInline, LicenseInline]

    def get_queryset(self, request):
        # The list reads each tenant's active license from one prefetch, not a query per row.
        active = License.objects.filter(status=License.Status.ACTIVE)
        return (
            super()
            .get_queryset(request)
            .prefetch_related(Prefetch("licenses", queryset=active, to_attr="active_licenses"))
        )

    @staticmethod
    def _entitlements(tenant: Tenant) -> Entitlements:
        active = getattr(tenant, "active_licenses", None)
        if active is None:  # not from get_queryset (a freshly saved tenant)
            return tenant_entitlements(tenant)
        return entitlements_under(active[0] if active else None)

    @admin.display(description="License")
    def license_state(self, tenant: Tenant) -> str:
        if tenant.pk is None:
            return "—"
        entitlements = self._entitlements(tenant)
        if entitlements.state == "free_tier":
            return "Free tier"
        assert entitlements.license is not None  # not the free tier: a license is in force
        label = entitlements.license.get_kind_display()
        if entitlements.state == "expired":
            return f"{label}, expired {entitlements.ends_at:%Y-%m-%d}"
        if entitlements.ends_at is None:
            return f"{label}, perpetual"
        return f"{label} until {entitlements.ends_at:%Y-%m-%d}"

    @admin.display(description="Caps (hosts / gateways / tasks)")
    def caps(self, tenant: Tenant) -> str:
        if tenant.pk is None:
            return "—"
        entitlements = self._entitlements(tenant)
        return " / ".join(cap_text(entitlements.cap(d)) for d in DIMENSIONS)

    @admin.display(description="Apply")
    def apply_license_link(self, tenant: Tenant) -> str:
        if tenant.pk is None:
            return "—"
        url = reverse("admin:licensing_tenant_apply_license", args=[tenant.pk])
        return format_html('<a href="{}">Apply a license…</a>', url)

    def get_urls(self):
        return [
            path(
                "<int:tenant_id>/apply-license/",
                self.admin_site.admin_view(self.apply_license_view),
                name="licensing_tenant_apply_license",
            ),
            *super().get_urls(),
        ]

    def apply_license_view(self, request, tenant_id: int):
        """Apply a token to one tenant through `license_apply`; refusals are shown as errors."""
        tenant = get_object_or_404(Tenant, pk=tenant_id)
        if not self.has_change_permission(request, tenant):
            return redirect("admin:index")
        form = LicenseApplyForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                license = license_apply(
                    tenant=tenant, token=form.cleaned_data["token"], acting_user=request.user
                )
            except LicenseRefused as refusal:
                self.message_user(
                    request, f"Not applied ({refusal.code}): {refusal.detail}", messages.ERROR
                )
            else:
                self.message_user(
                    request,
                    f"License {license.jti} applied to {tenant.name}.",
                    messages.SUCCESS,
                )
                return redirect("admin:licensing_tenant_change", tenant.pk)
        context = {
            **self.admin_site.each_context(request),
            "title": f"Apply a license to {tenant.name}",
            "opts": self.model._meta,
            "original": tenant,
            "tenant": tenant,
            "form": form,
            "media": self.media,
        }
        return TemplateResponse(request, "admin/licensing/tenant/apply_license.html", context)


@admin.register(License)
class LicenseAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = [
        "tenant",
        "status",
        "kind",
        "jti",
        "hosts_cap",
        "gateways_cap",
        "tasks_cap",
        "starts_at",
        "expires_at",
        "applied_by_name",
        "applied_at",
    ]
    list_filter = ["status", "kind"]
    search_fields = ["tenant__name", "tenant__slug", "jti", "customer"]
    list_select_related = ["tenant"]
    fields: ClassVar[tuple[str, ...]] = ("tenant", *LICENSE_FIELDS, "claims", "token")
    readonly_fields = fields


@admin.register(LicenseAuditRecord)
class LicenseAuditRecordAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    list_display = ["at", "tenant", "action", "actor_name", "license", "previous_license"]
    list_filter = ["action"]
    search_fields = ["tenant__name", "tenant__slug", "actor_name", "license__jti"]
    list_select_related = ["tenant", "license", "previous_license"]
    fields: ClassVar[tuple[str, ...]] = (
        "at",
        "tenant",
        "action",
        "actor",
        "actor_name",
        "license",
        "previous_license",
    )
    readonly_fields = fields


@admin.register(Membership)
class MembershipAdmin(admin.ModelAdmin):
    list_display = ["user", "tenant"]
    list_select_related = ["user", "tenant"]
    search_fields = ["user__username", "tenant__name", "tenant__slug"]
    autocomplete_fields = ["user"]
    list_filter = ["tenant"]


@admin.register(ApiToken)
class ApiTokenAdmin(ReadOnlyAdminMixin, admin.ModelAdmin):
    """Operators see who holds which token and may revoke one; the secret is never stored, so
    nothing here can show it (the hash is not listed either: it identifies nothing to a person)."""

    list_display = ["name", "user", "scope", "prefix", "created_at", "expires_at", "last_used_at"]
    list_filter = ["scope"]
    search_fields = ["name", "user__username", "prefix"]
    list_select_related = ["user"]
    fields: ClassVar[tuple[str, ...]] = (
        "name",
        "user",
        "scope",
        "prefix",
        "created_at",
        "expires_at",
        "last_used_at",
        "revoked_at",
    )
    readonly_fields = fields
    actions = ["revoke"]

    @admin.action(description="Revoke the selected API tokens")
    def revoke(self, request, queryset) -> None:
        tokens = list(queryset.filter(revoked_at__isnull=True))
        for token in tokens:
            api_token_revoke(token=token)
        self.message_user(request, f"{len(tokens)} API token(s) revoked.", messages.SUCCESS)
