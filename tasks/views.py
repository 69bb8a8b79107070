"""Pages: the tenant's tasks, hosts, gateways, tickets and schedules (SPEC §1).

Members create tasks and read hosts and gateways; administrators register and delete
hosts and create gateways (a member's POST there is a 403).

Each create goes through `tasks.services`; a refusal (cap reached, license expired) is
shown with its numbers, and administrators get a link to the Usage page.

Destructive actions (delete a task or host, remove a gateway) ask first: their GET is a
confirmation page (templates/confirm.html) whose button POSTs; only the POST acts. No script
is needed, as the Content-Security-Policy allows none inline.
"""

import json
import shlex
from collections.abc import Callable
from typing import TypeVar

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.db.models import F, Prefetch
from django.http import HttpResponse, HttpResponseRedirect
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from licensing.errors import DomainError, validation_sentence
from licensing.selectors import tenant_entitlements
from licensing.tenancy import member_required, members_read_staff_writes, staff_required
from tasks import services
from tasks.forms import GatewayForm, HostForm, TaskForm
from tasks.models import Gateway, Host, Schedule, ScheduleTick, Task, Ticket
from tasks.selectors import engine_health, tenant_usage

PAGE_SIZE = 50
RECENT_TICKS = 5


def _usage(tenant, dimension: str) -> dict:
    """Used and cap for the page header (cap None: unlimited)."""
    entitlements = tenant_entitlements(tenant)
    return {
        "used": tenant_usage(tenant)[dimension],
        "cap": entitlements.cap(dimension),
        "expired": entitlements.is_expired,
    }


T = TypeVar("T")


def _create(form, create: Callable[[], T]) -> tuple[T | None, DomainError | None]:
    """Run `create()` for a valid form; a refusal comes back as a value, bad input on the form."""
    try:
        return create(), None
    except DomainError as refusal:
        return None, refusal
    except ValidationError as error:
        form.add_error(None, validation_sentence(error))
        return None, None


@login_required
def home(request):
    """`/`: the tenant's tasks; operators, who belong to no tenant, go to the admin site."""
    if request.tenant is None:
        return (
            redirect("admin:index")
            if request.user.is_superuser
            else render(request, "no_tenant.html", status=403)
        )
    return task_list(request)


@member_required
def task_list(request):
    """The tenant's tasks, newest first, with the create form."""
    tenant = request.tenant
    form = TaskForm(request.POST or None, tenant=tenant)
    refusal = None
    if request.method == "POST" and form.is_valid():
        task, refusal = _create(
            form,
            lambda: services.task_create(
                tenant=tenant,
                title=form.cleaned_data["title"],
                description=form.cleaned_data["description"],
                host=form.cleaned_data["host"],
                source=Task.Source.UI,
                creator=request.user,
            ),
        )
        if task is not None:
            messages.success(request, f"Task “{task.title}” created.")
            return redirect(request.path)
    tasks = Task.objects.filter(tenant=tenant).select_related("host", "creator", "ticket")
    page = Paginator(tasks, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {"form": form, "page": page, "refusal": refusal, "usage": _usage(tenant, "tasks")}
    return render(request, "tasks/tasks.html", context, status=403 if refusal else 200)


def _confirm(
    request, *, question: str, consequences: list[str], action: str, back: str
) -> HttpResponse:
    """The confirmation page of a destructive action: its button POSTs back to this URL."""
    context = {
        "question": question,
        "consequences": consequences,
        "action": action,
        "back": reverse(back),
    }
    return render(request, "confirm.html", context)


# A confirmation is asked with GET and answered with POST; any other method is a 405.
confirm_then_act = require_http_methods(["GET", "HEAD", "POST"])


@staff_required
@confirm_then_act
def task_delete(request, pk: int):
    """GET asks; POST deletes. Another tenant's task is a 404 either way."""
    task = get_object_or_404(Task, pk=pk, tenant=request.tenant)
    if request.method != "POST":
        return _confirm(
            request,
            question=f"Delete the task “{task.title}”?",
            consequences=[
                "The task is gone for good: this cannot be undone.",
                "Deleting it does not give its slot back: the lifetime tasks count stays where "
                "it is.",
            ],
            action="Delete task",
            back="tasks",
        )
    services.task_delete(task=task)
    messages.success(
        request, f"Task “{task.title}” deleted. Deleting a task does not give its slot back."
    )
    return redirect("tasks")


@members_read_staff_writes
def host_list(request):
    """The tenant's hosts; administrators get the register form (deleting frees a slot)."""
    tenant = request.tenant
    form = HostForm(request.POST or None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        host, refusal = _create(
            form,
            lambda: services.host_register(tenant=tenant, name=form.cleaned_data["name"]),
        )
        if host is not None:
            messages.success(request, f"Host “{host.name}” registered.")
            return redirect("hosts")
    hosts = Host.objects.filter(tenant=tenant)
    context = {"form": form, "hosts": hosts, "refusal": refusal, "usage": _usage(tenant, "hosts")}
    return render(request, "tasks/hosts.html", context, status=403 if refusal else 200)


@staff_required
@confirm_then_act
def host_delete(request, pk: int):
    """GET asks; POST deletes. Another tenant's host is a 404 either way."""
    host = get_object_or_404(Host, pk=pk, tenant=request.tenant)
    if request.method != "POST":
        targeted = host.tasks.count()
        return _confirm(
            request,
            question=f"Delete the host “{host.name}”?",
            consequences=[
                "Its slot is free again. The host is gone for good: register it again to use it.",
                f"Tasks that target it: {targeted}. They are kept, without a target host.",
            ],
            action="Delete host",
            back="hosts",
        )
    services.host_delete(host=host)
    messages.success(request, f"Host “{host.name}” deleted; its slot is free again.")
    return redirect("hosts")


# A new gateway's secret rides from the create to the page showing it in a signed cookie
# that lives a minute, only for /gateways/, never readable by scripts: the server's stores
# (the session table included) never hold it, only its hash (SPEC §4).
NEW_GATEWAY_COOKIE = "tally_new_gateway"
NEW_GATEWAY_COOKIE_MAX_AGE = 60


@never_cache  # the page may hold a secret: never kept by the browser or a proxy
@members_read_staff_writes
def gateway_list(request):
    """The tenant's gateways; administrators create them, and see a new one's secret once.

    Post/Redirect/Get: the create hands the secret to the browser in a short-lived cookie
    and redirects (303); the page shows it and deletes the cookie, so it is shown once and
    a refresh never creates a second gateway.
    """
    tenant = request.tenant
    form = GatewayForm(request.POST or None)
    refusal = None
    if request.method == "POST" and form.is_valid():
        result, refusal = _create(
            form,
            lambda: services.gateway_create(
                tenant=tenant, name=form.cleaned_data["name"], kind=form.cleaned_data["kind"]
            ),
        )
        if result is not None:
            gateway, new_secret = result
            response: HttpResponse = HttpResponseRedirect(reverse("gateways"))
            response.status_code = 303  # See Other: the browser GETs the page, never re-POSTs
            _hand_over_secret(request, response, gateway=gateway, secret=new_secret)
            return response
    created, secret = _new_gateway(request) if request.method == "GET" else (None, None)
    # Registered first, then the revoked ones (kept, with their tickets).
    gateways = Gateway.objects.filter(tenant=tenant).order_by(
        F("revoked_at").desc(nulls_first=True), "name"
    )
    context = {
        "form": form,
        # Each with its absolute delivery URL (as few rows as the gateways cap allows).
        "gateways": [(gateway, _delivery_url(request, gateway)) for gateway in gateways],
        "refusal": refusal,
        "created": created,
        "secret": secret,
        "curl": _delivery_curl(request, created, secret) if created and secret else None,
        "usage": _usage(tenant, "gateways"),
    }
    response = render(request, "tasks/gateways.html", context, status=403 if refusal else 200)
    if NEW_GATEWAY_COOKIE in request.COOKIES:
        response.delete_cookie(NEW_GATEWAY_COOKIE, path=reverse("gateways"), samesite="Strict")
    return response


# The body of the gateway page's example delivery: the fields the delivery API requires, and
# a body. Its external_id makes a re-run a harmless re-delivery of the same ticket.
SAMPLE_DELIVERY = {
    "external_id": "TALLY-TEST-1",
    "subject": "Test ticket sent with curl",
    "body": "Delivered by the example on the gateway page of Tally.",
}


def _delivery_url(request, gateway: Gateway) -> str:
    """Where the sender POSTs tickets: absolute, as this request reached the server."""
    return request.build_absolute_uri(reverse("api-ticket-delivery", args=[gateway.pk]))


def _delivery_curl(request, gateway: Gateway, secret: str) -> str:
    """A `curl` command, ready to paste, that delivers SAMPLE_DELIVERY with the secret."""
    return " \\\n  ".join(
        [
            f"curl -sS -X POST {shlex.quote(_delivery_url(request, gateway))}",
            f"-H {shlex.quote(f'Authorization: Bearer {secret}')}",
            "-H 'Content-Type: application/json'",
            f"-d {shlex.quote(json.dumps(SAMPLE_DELIVERY))}",
        ]
    )


def _hand_over_secret(request, response, *, gateway: Gateway, secret: str) -> None:
    response.set_signed_cookie(
        NEW_GATEWAY_COOKIE,
        f"{request.user.pk}:{gateway.pk}:{secret}",
        salt=NEW_GATEWAY_COOKIE,
        max_age=NEW_GATEWAY_COOKIE_MAX_AGE,
        path=reverse("gateways"),
        secure=settings.SESSION_COOKIE_SECURE,
        httponly=True,
        samesite="Strict",
    )


def _new_gateway(request) -> tuple[Gateway | None, str | None]:
    """The gateway this administrator just created and its secret, from the cookie."""
    value = request.get_signed_cookie(
        NEW_GATEWAY_COOKIE, default="", salt=NEW_GATEWAY_COOKIE, max_age=NEW_GATEWAY_COOKIE_MAX_AGE
    )
    user_id, _, rest = value.partition(":")
    gateway_id, _, secret = rest.partition(":")
    if not (secret and gateway_id.isdigit() and request.user.is_staff):
        return None, None
    if user_id != str(request.user.pk):  # another login in this browser made it
        return None, None
    gateway = Gateway.objects.filter(pk=gateway_id, tenant=request.tenant).first()
    return (gateway, secret) if gateway is not None else (None, None)


@staff_required
@confirm_then_act
def gateway_remove(request, pk: int):
    """GET asks; POST revokes the gateway: its slot is free again, deliveries are refused,
    its tickets are kept and the schedules they registered are paused."""
    gateway = get_object_or_404(Gateway, pk=pk, tenant=request.tenant)
    if gateway.revoked_at is not None:
        messages.info(request, f"Gateway “{gateway.name}” was already removed.")
        return redirect("gateways")
    if request.method != "POST":
        to_pause = services.gateway_schedules_to_pause(gateway)
        return _confirm(
            request,
            question=f"Remove the gateway “{gateway.name}”?",
            consequences=[
                "Its ingest secret stops working for good: every delivery with it is refused "
                "(401 gateway_revoked) from now on, and a removed gateway cannot be restored. "
                "To deliver again, create a new gateway and give the sender its new secret.",
                "Its tickets are kept and its slot is free again.",
                f"Active schedules its tickets registered, to be paused: {to_pause}. You can "
                "resume them on the Schedules page.",
            ],
            action="Remove gateway",
            back="gateways",
        )
    try:
        paused = services.gateway_revoke(gateway=gateway)
    except DomainError as refusal:  # the tenant's lock was held too long: nothing changed
        messages.error(request, refusal.detail)
        return redirect("gateways")
    messages.success(
        request,
        f"Gateway “{gateway.name}” removed: its deliveries are refused from now on and its slot "
        f"is free again. Its tickets are kept; schedules paused: {paused}.",
    )
    return redirect("gateways")


# Tickets and schedules, for members: status, refusal, task link.


@member_required
def ticket_list(request):
    """The tenant's tickets, newest first; `?status=` keeps one status."""
    tickets = Ticket.objects.filter(tenant=request.tenant).select_related(
        "gateway", "task", "schedule"
    )
    status = request.GET.get("status", "")
    if status in Ticket.Status.values:
        tickets = tickets.filter(status=status)
    page = Paginator(tickets, PAGE_SIZE).get_page(request.GET.get("page"))
    context = {
        "page": page,
        "status": status,
        "statuses": Ticket.Status.choices,
        "engine": engine_health(tenant=request.tenant),
    }
    return render(request, "tasks/tickets.html", context)


@staff_required
@require_POST
def ticket_retry(request, pk: int):
    """Put one rejected ticket back to pending (the API's retry does the same)."""
    ticket = get_object_or_404(Ticket, pk=pk, tenant=request.tenant)
    try:
        services.ticket_retry(ticket=ticket)
    except DomainError as refusal:  # not rejected (any more): nothing changed
        messages.error(request, refusal.detail)
    else:
        messages.success(
            request,
            f"Ticket {ticket.external_id} is pending again; the engine converts it on its next "
            "pass if your license allows it.",
        )
    return redirect("tickets")


@staff_required
@require_POST
def tickets_retry_rejected(request):
    """Put every rejected ticket of the tenant back to pending, e.g. after a new license."""
    retried = services.tickets_retry_rejected(tickets=Ticket.objects.filter(tenant=request.tenant))
    if retried:
        pending_again = ngettext(
            "%(count)d rejected ticket is pending again; the engine converts it",
            "%(count)d rejected tickets are pending again; the engine converts them",
            retried,
        ) % {"count": retried}
        messages.success(request, f"{pending_again} on its next pass if your license allows it.")
    else:
        messages.info(request, "No ticket was rejected: there was nothing to retry.")
    return redirect("tickets")


@member_required
def schedule_list(request):
    """The tenant's schedules with their latest ticks (created, or blocked with the code)."""
    recent_ticks = ScheduleTick.objects.select_related("task").order_by("-due_at", "-id")
    schedules = (
        Schedule.objects.filter(tenant=request.tenant)
        .select_related("ticket")
        .prefetch_related(
            Prefetch("ticks", queryset=recent_ticks[:RECENT_TICKS], to_attr="recent_ticks")
        )
    )
    page = Paginator(schedules, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(request, "tasks/schedules.html", {"page": page})


@staff_required
@require_POST
def schedule_pause(request, pk: int):
    """Pause one schedule: it makes no tick until it is resumed."""
    schedule = get_object_or_404(Schedule, pk=pk, tenant=request.tenant)
    if services.schedules_pause(schedules=Schedule.objects.filter(pk=schedule.pk)):
        messages.success(request, f"Schedule “{schedule.title}” paused: it makes no tick.")
    else:
        messages.info(request, f"Schedule “{schedule.title}” was already paused.")
    return redirect("schedules")


@staff_required
@require_POST
def schedule_resume(request, pk: int):
    """Resume one schedule at its next slot; runs missed while paused are not made up."""
    schedule = get_object_or_404(Schedule, pk=pk, tenant=request.tenant)
    if services.schedules_resume(schedules=Schedule.objects.filter(pk=schedule.pk)):
        schedule.refresh_from_db()
        next_run = timezone.localtime(schedule.next_run_at, request.tenant.zone)
        messages.success(
            request,
            f"Schedule “{schedule.title}” resumed: next run {next_run:%Y-%m-%d %H:%M} "
            f"({request.tenant.timezone}). Runs missed while it was paused are not made up.",
        )
    else:
        messages.info(request, f"Schedule “{schedule.title}” was not paused.")
    return redirect("schedules")
