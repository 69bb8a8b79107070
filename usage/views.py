"""The Usage page (plan card + Activity) and the models & pricing page (SPEC §5.1, §5.3)."""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from django import forms
from django.contrib import messages
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.cache import patch_vary_headers

from licensing.errors import DomainError
from licensing.tenancy import staff_required
from usage.buckets import RangeRefused
from usage.budgets.forms import budget_form_for
from usage.forms import (
    MODES,
    PRESETS,
    ActivityQuery,
    ActivityQueryForm,
    LlmModelForm,
    PricingPlanForm,
    add_refusal_to_form,
    default_activity_query,
)
from usage.models import LlmModel, PricingPlan
from usage.plan import plan_usage_with_projections
from usage.pricing import cost_usd, plan_in_force, price_usd
from usage.selectors import TOP, Activity, activity, llm_model_list
from usage.selectors.activity import MAX_ROWS
from usage.selectors.filters import activity_filter
from usage.selectors.history import Change, CycleRow, usage_history

# Bucket label formats: short buckets show the time, day buckets only the date.
LABEL_FORMATS = {"1d": "%a %d %b"}
DEFAULT_LABEL_FORMAT = "%d %b %H:%M"


@dataclass(frozen=True)
class Control:
    """A range or mode switch: a plain link (no JavaScript) that htmx also fetches."""

    key: str
    label: str
    url: str
    selected: bool


def chart_data(result: Activity) -> dict:
    """What usage.js draws: bucket labels in the tenant's zone, and the mode's datasets."""
    label_format = LABEL_FORMATS.get(result.bucket, DEFAULT_LABEL_FORMAT)
    labels = [point.start.strftime(label_format) for point in result.series]
    if result.mode == "tokens":
        datasets = [
            {
                "key": kind,
                "label": kind.capitalize(),
                "data": [getattr(p.tokens, kind) for p in result.series],
            }
            for kind in ("input", "cached", "output")
        ]
    else:
        datasets = [
            {
                "key": "cost",
                "label": "Cost (USD)",
                "data": [float(p.cost.total) for p in result.series],
            }
        ]
    return {"mode": result.mode, "bucket": result.bucket, "labels": labels, "datasets": datasets}


def _controls(query: ActivityQuery) -> dict:
    ranges = [
        Control(
            key, label, f"{reverse('usage')}?{query.query_string(range=key)}", query.range == key
        )
        for key, (label, _) in PRESETS.items()
    ]
    modes = [
        Control(key, label, f"{reverse('usage')}?{query.query_string(mode=key)}", query.mode == key)
        for key, label in MODES
    ]
    return {"range_controls": ranges, "mode_controls": modes}


@dataclass(frozen=True)
class FilterChip:
    """A filter the section is narrowed by, with the link that clears it."""

    label: str
    value: str
    clear_url: str


def _chips(query: ActivityQuery) -> list[FilterChip]:
    usage = reverse("usage")
    return [
        FilterChip(name.capitalize(), value, f"{usage}?{query.query_string(**{name: ''})}")
        for name, value in query.filters.items()
    ]


# The breakdown tables in page order: (Activity field, heading, the filter a row sets).
BREAKDOWN_TABLES = (
    ("by_model", "By model", "model"),
    ("by_provider", "By provider", None),
    ("by_host", "By host", "host"),
    ("top_consumers", "Top consumers", "consumer"),
    ("top_tickets", "Top tickets by cost", None),
)
_TITLES = {name: title for name, title, _ in BREAKDOWN_TABLES}


@dataclass(frozen=True)
class BreakdownTable:
    """Rows `[offset, offset + TOP)` of one breakdown, each with the link that filters the
    section by it (None: nothing to filter by), and the link to the next rows, if any."""

    name: str
    title: str
    rows: list[tuple[object, str | None]]
    more_url: str | None

    @property
    def testid(self) -> str:
        return self.name.replace("_", "-")


def breakdown_table(
    name: str, result: Activity, query: ActivityQuery, offset: int
) -> BreakdownTable:
    """One breakdown of `result` from `offset`, as the page shows it."""
    parameter = next(p for table, _, p in BREAKDOWN_TABLES if table == name)
    usage = reverse("usage")
    rows = []
    for row in getattr(result, name)[offset : offset + TOP]:
        value = getattr(row, "consumer" if name == "top_consumers" else "name", "")
        url = f"{usage}?{query.query_string(**{parameter: value})}" if parameter and value else None
        rows.append((row, url))
    more_url = None
    if name in result.more:
        more = reverse("usage-breakdown", args=[name])
        more_url = f"{more}?{query.query_string()}&offset={offset + TOP}"
    return BreakdownTable(name, _TITLES[name], rows, more_url)


def _narrowed_activity(request, query: ActivityQuery, rows: int = TOP) -> Activity:
    """The activity of `query`, narrowed by its filters; raises RangeRefused."""
    tenant = request.tenant
    narrowed = activity_filter(tenant=tenant, **query.filters)
    return activity(
        tenant=tenant,
        start=query.start,
        end=query.end,
        mode=query.mode,
        narrowed=narrowed,
        rows=rows,
    )


def _activity_context(request) -> tuple[dict, int]:
    """The Activity section's context and HTTP status (400 for a range that cannot be shown)."""
    tenant, now = request.tenant, timezone.now()
    form = ActivityQueryForm(request.GET)
    if form.is_valid():
        query = form.activity_query(zone=tenant.zone, now=now)
        error = None
    else:
        query = default_activity_query(zone=tenant.zone, now=now)
        error = " ".join(str(message) for messages in form.errors.values() for message in messages)
    context = {"query": query, "chips": _chips(query), **_controls(query)}
    if error is None:
        try:
            result = _narrowed_activity(request, query)
        except RangeRefused as refusal:
            error = refusal.detail
        else:
            tables = [breakdown_table(name, result, query, 0) for name, _, _ in BREAKDOWN_TABLES]
            context.update(activity=result, chart=chart_data(result), tables=tables)
    context["error"] = error
    # Custom dates to prefill: what was typed, or the shown range as whole local days.
    local_start, local_end = (timezone.localtime(t, tenant.zone) for t in (query.start, query.end))
    context["custom_start"] = query.start_date or local_start.date()
    context["custom_end"] = query.end_date or local_end.date()
    return context, 400 if error else 200


@staff_required
def usage_page(request):
    """Plan usage and Activity; an htmx request (toggle, range) gets the Activity section only."""
    activity_context, status = _activity_context(request)
    if request.htmx and not request.htmx.history_restore_request:
        response = render(request, "usage/_activity.html", activity_context, status=status)
    else:
        plan = plan_usage_with_projections(request.tenant)
        request.usage_plan = plan  # the banner reuses it
        context = {
            "plan": plan,
            "budget_card": plan.budget,
            "budget_form": budget_form_for(plan.budget.budget if plan.budget else None),
            **activity_context,
        }
        response = render(request, "usage/page.html", context, status=status)
    patch_vary_headers(response, ["HX-Request"])  # the same URL answers a section or a page
    return response


@staff_required
def usage_breakdown_rows(request, name: str):
    """The next rows of one breakdown table (**Show more**): `offset=` of the same query."""
    if name not in _TITLES:
        return render(
            request, "usage/_breakdown_error.html", {"error": "No such breakdown."}, status=404
        )
    form = ActivityQueryForm(request.GET)
    offset = request.GET.get("offset", "")
    if not form.is_valid() or not offset.isdigit() or not 0 < int(offset) < MAX_ROWS:
        error = "Reload the page: this list could not be extended."
        return render(request, "usage/_breakdown_error.html", {"error": error}, status=400)
    query = form.activity_query(zone=request.tenant.zone, now=timezone.now())
    try:
        result = _narrowed_activity(request, query, rows=min(int(offset) + TOP, MAX_ROWS))
    except RangeRefused as refusal:
        return render(request, "usage/_breakdown_error.html", {"error": refusal.detail}, status=400)
    context = {"table": breakdown_table(name, result, query, int(offset)), "activity": result}
    return render(request, "usage/_breakdown_rows.html", context)


# The history table's columns: (figure, heading, money?), in the order shown.
HISTORY_COLUMNS = (
    ("input_tokens", "Input tokens", False),
    ("cached_tokens", "Cached tokens", False),
    ("output_tokens", "Output tokens", False),
    ("cost", "Ticket-linked cost", True),
    ("unattributed_spend", "Unattributed spend", True),
    ("unpriced_tokens", "Tokens no plan prices", False),
    ("succeeded_requests", "Requests succeeded", False),
    ("failed_requests", "Requests failed", False),
    ("tasks_created", "Tasks created", False),
)


@dataclass(frozen=True)
class HistoryCell:
    """A figure as shown, with its change from the previous cycle."""

    value: str
    change: str
    trend: str  # "up", "down", "new" or "flat": a class for the change's colour


def _trend(change: Change) -> str:
    if change.difference is None or change.difference == 0:
        return "flat"
    if change.percent is None:
        return "new"
    return "up" if change.difference > 0 else "down"


def history_cells(row: CycleRow) -> list[HistoryCell]:
    figures = row.cycle.figures()
    cells = []
    for name, _, money in HISTORY_COLUMNS:
        value = figures[name]
        if value is None:
            text = "not recorded"
        elif money:
            text = cost_usd(Decimal(value))
        else:
            text = f"{value:,}"
        change = row.changes[name]
        cells.append(HistoryCell(text, change.label, _trend(change)))
    return cells


@staff_required
def history_page(request):
    """The last 12 cycles (calendar months in the tenant's zone), from the rollups (SPEC §5.5)."""
    history = usage_history(tenant=request.tenant, now=timezone.now())
    rows = [
        (
            row.cycle,
            history_cells(row),
            reverse("api-usage-cycle-export", args=[row.cycle.month]),
        )
        for row in history.rows
    ]
    context = {"rows": rows, "columns": HISTORY_COLUMNS, "zone": history.zone}
    return render(request, "usage/history.html", context)


@dataclass(frozen=True)
class PlanRow:
    """One line of the models table: a model's plan (None: it has none)."""

    model: LlmModel
    plan: PricingPlan | None
    first: bool  # the first line of its model, which carries the model's cells
    span: int
    status: str  # "in force", "scheduled", "superseded" or ""
    prices: tuple[str, ...] = ("", "", "")  # input, cached, output


def plan_rows(models, *, now: datetime) -> list[PlanRow]:
    """The models with their plans (oldest first), which one is in force now, prices as text."""
    rows = []
    for model in models:
        plans = list(model.pricing_plans.all())
        if not plans:
            rows.append(PlanRow(model, None, True, 1, ""))
            continue
        in_force = plan_in_force(plans, now)
        for index, plan in enumerate(plans):
            if plan is in_force:
                status = "in force"
            else:
                status = "scheduled" if plan.effective_at > now else "superseded"
            prices = (plan.input_per_million, plan.cached_per_million, plan.output_per_million)
            rows.append(
                PlanRow(model, plan, index == 0, len(plans), status, tuple(map(price_usd, prices)))
            )
    return rows


@staff_required
def models_page(request):
    """The tenant's LLM models with their pricing plans; forms to add either."""
    tenant = request.tenant
    model_form: forms.Form = LlmModelForm(tenant=tenant)
    plan_form: forms.Form = PricingPlanForm(
        tenant=tenant, initial={"model": request.GET.get("model")}
    )
    if request.method == "POST":
        posted = request.POST.get("form")
        form_class = LlmModelForm if posted == "model" else PricingPlanForm
        form = form_class(request.POST, tenant=tenant)
        if form.is_valid():
            try:
                created = form.save()
            except DomainError as refusal:
                add_refusal_to_form(form, refusal)
            else:
                # Each form's message takes what its own save() made.
                message = form.success_message(created)  # type: ignore[arg-type]
                messages.success(request, message)
                return redirect("usage-models")
        if posted == "model":
            model_form = form
        else:
            plan_form = form
    models = list(llm_model_list(tenant=tenant))
    context = {
        "models": models,
        "rows": plan_rows(models, now=timezone.now()),
        "model_form": model_form,
        "plan_form": plan_form,
        "zone": tenant.timezone,
    }
    status = 400 if request.method == "POST" else 200
    return render(request, "usage/models.html", context, status=status)
