"""Settings > Notifications (staff only): endpoints, Slack, email on/off, mutes, the alert log.

A new or rotated secret reaches the page in a one-minute signed HttpOnly cookie (Post/
Redirect/Get, as for gateways): shown once, then the cookie is deleted; a refresh creates
nothing. Every write redirects back with a message.
"""

from django.conf import settings
from django.contrib import messages
from django.http import HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from licensing.errors import DomainError
from licensing.tenancy import staff_required
from usage.notifications import channels, selectors
from usage.notifications.forms import EmailForm, EndpointForm, MuteForm
from usage.notifications.models import Delivery, Mute

NEW_SECRET_COOKIE = "tally_new_endpoint_secret"
NEW_SECRET_COOKIE_MAX_AGE = 60


def _page_url() -> str:
    return reverse("notification-settings")


@never_cache  # the page may hold a secret: never kept by the browser or a proxy
@staff_required
def notification_settings(request):
    tenant = request.tenant
    form = EndpointForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            result = channels.endpoint_create(tenant=tenant, **form.cleaned_data)
        except DomainError as refusal:
            form.add_error("url", refusal.detail)
        else:
            messages.success(request, f"Endpoint {result.endpoint.url} added.")
            return _with_secret(request, result)
    new_endpoint, secret = _new_secret(request) if request.method == "GET" else (None, None)
    context = {
        "form": form,
        "endpoints": selectors.live_endpoints(tenant),
        "new_endpoint": new_endpoint,
        "secret": secret,
        "email_form": EmailForm(initial={"enabled": selectors.email_on(tenant)}),
        "email_on": selectors.email_on(tenant),
        "mute_form": MuteForm(),
        "mutes": selectors.tenant_mutes(tenant),
        "alerts": selectors.alert_log(tenant)[: selectors.ALERT_LOG_SIZE],
    }
    status = 400 if request.method == "POST" else 200
    response = render(request, "usage/notifications/settings.html", context, status=status)
    if NEW_SECRET_COOKIE in request.COOKIES:
        response.delete_cookie(NEW_SECRET_COOKIE, path=_page_url(), samesite="Strict")
    return response


def _with_secret(request, result: channels.EndpointWithSecret) -> HttpResponseRedirect:
    response = HttpResponseRedirect(_page_url())
    response.status_code = 303  # See Other: the browser GETs the page, never re-POSTs
    if result.secret:
        response.set_signed_cookie(
            NEW_SECRET_COOKIE, f"{request.user.pk}:{result.endpoint.pk}:{result.secret}",
            salt=NEW_SECRET_COOKIE, max_age=NEW_SECRET_COOKIE_MAX_AGE, path=_page_url(),
            secure=settings.SESSION_COOKIE_SECURE, httponly=True, samesite="Strict",
        )  # fmt: skip
    return response


def _new_secret(request):
    value = request.get_signed_cookie(
        NEW_SECRET_COOKIE, default="", salt=NEW_SECRET_COOKIE, max_age=NEW_SECRET_COOKIE_MAX_AGE
    )
    user_id, _, rest = value.partition(":")
    endpoint_id, _, secret = rest.partition(":")
    if not (secret and endpoint_id.isdigit()) or user_id != str(request.user.pk):
        return None, None
    endpoint = selectors.live_endpoints(request.tenant).filter(pk=endpoint_id).first()
    return (endpoint, secret) if endpoint is not None else (None, None)


def _endpoint(request, pk: int):
    return get_object_or_404(selectors.live_endpoints(request.tenant), pk=pk)


def _back(request, action) -> HttpResponseRedirect:
    """Run `action`; a refusal becomes an error message; back to the page."""
    try:
        action()
    except DomainError as refusal:
        messages.error(request, refusal.detail)
    return redirect("notification-settings")


@staff_required
@require_POST
def endpoint_rotate(request, pk: int):
    result = channels.endpoint_rotate_secret(endpoint=_endpoint(request, pk))
    messages.success(request, "New secret made; the old one no longer signs deliveries.")
    return _with_secret(request, result)


@staff_required
@require_POST
def endpoint_remove(request, pk: int):
    endpoint = _endpoint(request, pk)
    channels.endpoint_remove(endpoint=endpoint)
    messages.success(request, f"Endpoint {endpoint.url} removed; its deliveries stay in the log.")
    return redirect("notification-settings")


@staff_required
@require_POST
def endpoint_test(request, pk: int):
    endpoint = _endpoint(request, pk)

    def send():
        channels.send_test_event(endpoint=endpoint)
        messages.success(request, f"Test event queued for {endpoint.url}; see the log below.")

    return _back(request, send)


@staff_required
@require_POST
def email_toggle(request):
    form = EmailForm(request.POST)
    form.is_valid()
    enabled = form.cleaned_data.get("enabled", False)
    channels.email_set(tenant=request.tenant, enabled=enabled)
    messages.success(request, f"Alert emails to administrators are {'on' if enabled else 'off'}.")
    return redirect("notification-settings")


@staff_required
@require_POST
def mute_add(request):
    form = MuteForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose an alert to mute.")
        return redirect("notification-settings")
    current = list(selectors.tenant_mutes(request.tenant).values("type", "dimension", "threshold"))
    channels.mutes_replace(tenant=request.tenant, mutes=[*current, form.cleaned_data])
    messages.success(request, "Muted: these alerts are recorded and sent nowhere.")
    return redirect("notification-settings")


@staff_required
@require_POST
def mute_remove(request, pk: int):
    mute = get_object_or_404(Mute, pk=pk, tenant=request.tenant)
    current = selectors.tenant_mutes(request.tenant).exclude(pk=mute.pk)
    channels.mutes_replace(
        tenant=request.tenant, mutes=list(current.values("type", "dimension", "threshold"))
    )
    messages.success(request, "Unmuted.")
    return redirect("notification-settings")


@staff_required
@require_POST
def delivery_redeliver(request, pk: int):
    delivery = get_object_or_404(Delivery, pk=pk, alert__tenant=request.tenant)

    def again():
        channels.redeliver(delivery=delivery)
        messages.success(request, "Redelivery queued.")

    return _back(request, again)
