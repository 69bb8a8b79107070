"""Pages for members: the tenant's tickets and schedules (status, refusal, task link)."""

from django.core.paginator import Paginator
from django.db.models import Prefetch
from django.shortcuts import render
from django.urls import path

from licensing.tenancy import member_required
from tasks.models import Schedule, ScheduleTick, Ticket

PAGE_SIZE = 50
RECENT_TICKS = 5


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


urlpatterns = [
    path("tickets/", ticket_list, name="tickets"),
    path("schedules/", schedule_list, name="schedules"),
]
