"""The Overview page and its CSV in the Django admin (operators only: the site's own gate)."""

import csv
from zoneinfo import ZoneInfo

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse
from django.utils import timezone

from usage.overview.rows import STATES, OverviewRow, overview_rows

ROWS_PER_PAGE = 100  # the Django admin's own list_per_page
STATE_LABELS = {"free_tier": "Free tier", "licensed": "Licensed", "expired": "Expired"}
CSV_HEADER = [
    "tenant", "slug", "state", "kind", "days_to_end", "ends_at",
    "hosts_used", "hosts_cap", "hosts_percent",
    "gateways_used", "gateways_cap", "gateways_percent",
    "tasks_used", "tasks_cap", "tasks_percent",
    "tasks_run_out_on", "tasks_run_out_in_days",
    "spent_usd_month_to_date", "budget_usd", "budget_percent",
    "alerts_last_7_days", "failing_endpoints", "disabled_endpoints",
    "last_activity", "time_zone", "risk",
]  # fmt: skip


def _state(request: HttpRequest) -> str | None:
    state = request.GET.get("state")
    return state if state in STATES else None


def overview_page(request: HttpRequest, *, admin_site) -> TemplateResponse:
    state = _state(request)
    rows = overview_rows(state=state)
    # A page of the riskiest first, like the admin's change lists; the CSV has every row.
    page = Paginator(rows, ROWS_PER_PAGE).get_page(request.GET.get("page"))
    context = {
        **admin_site.each_context(request),
        "title": "Overview",
        "rows": page.object_list,
        "page": page,
        "tenant_count": len(rows),
        "state": state,
        "states": [(s, STATE_LABELS[s]) for s in STATES],
        "state_query": f"state={state}&" if state else "",
        "now": timezone.now(),
    }
    return TemplateResponse(request, "admin/usage/overview.html", context)


def _blank(value) -> str:
    return "" if value is None else str(value)


def _csv_line(row: OverviewRow) -> list[str]:
    ends_at = row.entitlements.ends_at
    usage = []
    for u in row.usage:
        usage += [str(u.used), _blank(u.cap), _blank(u.percent)]
    return [
        row.name,
        row.slug,
        row.state,
        row.kind,
        _blank(row.days_to_end),
        ends_at.astimezone(ZoneInfo(row.zone)).isoformat() if ends_at else "",
        *usage,
        _blank(row.runs_out_on),  # the local day (tenant's zone), ISO
        _blank(row.days_until_run_out),
        str(row.spent_usd.normalize()) if row.spent_usd else "0",
        _blank(row.budget_usd.normalize() if row.budget_usd is not None else None),
        _blank(row.spend_percent),
        str(row.alerts_last_7_days),
        str(row.failing_endpoints),
        str(row.disabled_endpoints),
        row.last_activity.isoformat() if row.last_activity else "",
        row.zone,
        row.risk.label,
    ]


def overview_csv(request: HttpRequest) -> HttpResponse:
    """The rows as on the page (same filter, same order); times with their offset."""
    state = _state(request)
    response = HttpResponse(content_type="text/csv; charset=utf-8")
    stamp = timezone.now().strftime("%Y%m%dT%H%MZ")
    response["Content-Disposition"] = f'attachment; filename="tally-overview-{stamp}.csv"'
    writer = csv.writer(response)
    writer.writerow(CSV_HEADER)
    for row in overview_rows(state=state):
        writer.writerow(_csv_line(row))
    return response
