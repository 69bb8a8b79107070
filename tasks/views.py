"""Pages: the tenant's tasks, hosts, gateways, tickets and schedules (SPEC §1).

Members create tasks and read hosts and gateways; administrators register and delete
hosts and create gateways (a member's POST there is a 403).

Each create goes through `tasks.services`; a refusal (cap reached, license expired) is
shown with its numbers, and administrators get a link to the Usage page.
"""

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
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST

from licensing.errors import DomainError, validation_sentence
from licensing.selectors import tenant_entitlements
from licensing.tenancy import member_required, members_read_staff_writes, staff_required
from tasks import services
from tasks.forms import GatewayForm, HostForm, TaskForm
from tasks.models import Gateway, Host, Schedule, ScheduleTick, Task, Ticket
from tasks.selectors import tenant_usage

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


@staff_required
@require_POST
def task_delete(request, pk: int):
    task = get_object_or_404(Task, pk=pk, tenant=request.tenant)
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
@require_POST
def host_delete(request, pk: int):
    host = get_object_or_404(Host, pk=pk, tenant=request.tenant)
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
    context = {
        "form": form,
        # Registered first, then the revoked ones (kept, with their tickets).
        "gateways": Gateway.objects.filter(tenant=tenant).order_by(
            F("revoked_at").desc(nulls_first=True), "name"
        ),
        "refusal": refusal,
        "created": created,
        "secret": secret,
        "usage": _usage(tenant, "gateways"),
    }
    response = render(request, "tasks/gateways.html", context, status=403 if refusal else 200)
    if NEW_GATEWAY_COOKIE in request.COOKIES:
        response.delete_cookie(NEW_GATEWAY_COOKIE, path=reverse("gateways"), samesite="Strict")
    return response


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
@require_POST
def gateway_remove(request, pk: int):
    """Revoke the gateway: its slot is free again, deliveries are refused, tickets are kept."""
    gateway = get_object_or_404(Gateway, pk=pk, tenant=request.tenant)
    try:
        services.gateway_revoke(gateway=gateway)
    except DomainError as refusal:  # the tenant's lock was held too long: nothing changed
        messages.error(request, refusal.detail)
        return redirect("gateways")
    messages.success(
        request,
        f"Gateway “{gateway.name}” removed: its deliveries are refused from now on and its slot "
        "is free again. Its tickets are kept.",
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
    return render(
        request,
        "tasks/tickets.html",
        {"page": page, "status": status, "statuses": Ticket.Status.choices},
    )


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
