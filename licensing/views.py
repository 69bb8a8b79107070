import zoneinfo

from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.html import format_html

from licensing.errors import LicenseRefused
from licensing.forms import LicenseApplyForm
from licensing.selectors import (
    DIMENSIONS,
    LicenseChange,
    entitlements_under,
    license_change,
    license_history,
    rejected_tickets,
    tenant_entitlements,
    tenant_used,
)
from licensing.services import license_apply, license_preview
from licensing.tenancy import staff_required


@staff_required
def license_settings(request):
    """Settings > License: the license ID to send the vendor, a pasted token previewed (what
    applying would change), then applied with the same token; the history.

    The form's submit is Preview (changes nothing); the preview's own form carries the token
    to **Apply License**. A POST without `action=apply` only previews.
    """
    form = LicenseApplyForm(request.POST or None)
    refusal = None
    preview: LicenseChange | None = None
    used = tenant_used(request.tenant)
    if request.method == "POST" and form.is_valid():
        token = form.cleaned_data["token"]
        try:
            if request.POST.get("action") == "apply":
                _apply(request, token, used)
                return redirect("license-settings")
            checked = license_preview(tenant=request.tenant, token=token)
            preview = license_change(checked.before, checked.after, used=used)
        except LicenseRefused as error:
            refusal = error
    entitlements = tenant_entitlements(request.tenant)
    context = {
        "form": form,
        "refusal": refusal,
        "preview": preview,
        "entitlements": entitlements,
        "dimensions": [
            {
                "name": dimension,
                "used": f"{used[dimension]:,}",
                "cap": entitlements.cap(dimension),
            }
            for dimension in DIMENSIONS
        ],
        "history": license_history(request.tenant),
    }
    if refusal is not None:
        status = refusal.http_status  # 400 for a refused token, 503 when the keys are broken
    else:
        status = 400 if request.method == "POST" and preview is None else 200
    return render(request, "licensing/settings.html", context, status=status)


def _apply(request, token: str, used: dict[str, int]) -> None:
    """Apply, then say what changed and, if tickets were rejected, where to retry them."""
    before = tenant_entitlements(request.tenant)
    license = license_apply(tenant=request.tenant, token=token, acting_user=request.user)
    change = license_change(before, entitlements_under(license), used=used)
    summary = change.summary(zoneinfo.ZoneInfo(request.tenant.timezone))
    rejected = rejected_tickets(request.tenant)
    if rejected:
        messages.success(
            request,
            format_html(
                "License applied: {}. {} rejected ticket{} can be retried on the "
                '<a href="{}">Tickets page</a>.',
                summary,
                f"{rejected:,}",
                "s" if rejected != 1 else "",
                reverse("tickets"),
            ),
        )
    else:
        messages.success(request, f"License applied: {summary}.")
