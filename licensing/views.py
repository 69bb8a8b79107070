from django.contrib import messages
from django.shortcuts import redirect, render

from licensing.errors import LicenseRefused
from licensing.forms import LicenseApplyForm
from licensing.selectors import DIMENSIONS, license_history, tenant_entitlements, tenant_used
from licensing.services import license_apply
from licensing.tenancy import staff_required


@staff_required
def license_settings(request):
    """Settings > License: the license ID to send the vendor, apply a token, the history."""
    form = LicenseApplyForm(request.POST or None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        try:
            license = license_apply(
                tenant=request.tenant, token=form.cleaned_data["token"], acting_user=request.user
            )
        except LicenseRefused as error:
            refusal = error
        else:
            messages.success(
                request,
                f"License applied: the {license.get_kind_display().lower()} license is active.",
            )
            return redirect("license-settings")
    entitlements = tenant_entitlements(request.tenant)
    used = tenant_used(request.tenant)
    context = {
        "form": form,
        "refusal": refusal,
        "entitlements": entitlements,
        "dimensions": [
            {"name": dimension, "used": used[dimension], "cap": entitlements.cap(dimension)}
            for dimension in DIMENSIONS
        ],
        "history": license_history(request.tenant),
    }
    if refusal is not None:
        status = refusal.http_status  # 400 for a refused token, 503 when the keys are broken
    else:
        status = 400 if request.method == "POST" else 200
    return render(request, "licensing/settings.html", context, status=status)
