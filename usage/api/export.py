"""`GET /api/v1/usage/export.csv`: every usage event of a range, streamed (SPEC §6.1)."""

import csv
from collections.abc import Iterator
from datetime import datetime

from django.http import StreamingHttpResponse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, extend_schema
from rest_framework.views import APIView

from licensing.models import Tenant
from licensing.tenancy import IsTenantAdmin
from usage.api.ranges import RANGE_PARAMETERS, range_from
from usage.buckets import check_range
from usage.models import LlmModel, UsageEvent
from usage.pricing import PricingTimeline, decimal_text, token_cost

# Columns that are the event's own fields, as stored.
_AS_STORED = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "ticket_id",
    "task_id",
    "consumer",
    "succeeded",
)
EXPORT_COLUMNS = [
    "occurred_at",
    "request_id",
    "model",
    "provider",
    *_AS_STORED,
    "cost_usd",
    "cost_status",
]
_EVENT_FIELDS = ("occurred_at", "request_id", "model_id", *_AS_STORED)
# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """Text from agents or administrators, made inert: a leading ' when it would be a formula."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_rows(*, tenant: Tenant, start: datetime, end: datetime) -> Iterator[str]:
    """CSV lines of every event in `[start, end)`, oldest first, read in chunks.

    `cost_usd` is the event's exact cost under the plan in force at its time, or empty
    with `cost_status` "unattributed" (no ticket) or "unpriced" (no plan then). Text
    cells that a spreadsheet would run as a formula start with a `'`.
    """
    check_range(start, end)
    models = {m.id: m for m in LlmModel.objects.filter(tenant=tenant)}
    timeline = PricingTimeline.of_models(models)
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    events = (
        UsageEvent.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
        .order_by("occurred_at", "id")
        .values_list(*_EVENT_FIELDS, named=True)
        .iterator(chunk_size=2000)
    )
    for event in events:
        yield writer.writerow(_row(event, models[event.model_id], timeline, tenant.zone))


def _row(event, model: LlmModel, timeline: PricingTimeline, zone) -> list:
    cost, state = _cost_cell(event, timeline)
    return [
        event.occurred_at.astimezone(zone).isoformat(),
        text_cell(event.request_id),
        text_cell(model.name),
        text_cell(model.provider),
        event.input_tokens,
        event.output_tokens,
        event.cached_tokens,
        event.ticket_id or "",
        event.task_id or "",
        text_cell(event.consumer),
        "true" if event.succeeded else "false",
        cost,
        state,
    ]


def _cost_cell(event, timeline: PricingTimeline) -> tuple[str, str]:
    """(cost_usd, cost_status) of one event."""
    if event.ticket_id is None:
        return "", "unattributed"
    plan = timeline.in_force(event.model_id, event.occurred_at)
    if plan is None:
        return "", "unpriced"
    cost = token_cost(
        plan, input=event.input_tokens, output=event.output_tokens, cached=event.cached_tokens
    )
    return decimal_text(cost.total), "priced"


class UsageExportApi(APIView):
    """Every usage event of a range as CSV, streamed (constant memory)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        parameters=RANGE_PARAMETERS,
        responses={(200, "text/csv"): OpenApiTypes.STR},
        examples=[
            OpenApiExample(
                "Two events",
                value=",".join(EXPORT_COLUMNS)
                + "\n2026-11-20T14:03:12+01:00,run-1,gpt-4o,OpenAI,1200,350,800,42,,agent-a,"
                "true,0.01004,priced\n2026-11-20T14:04:00+01:00,run-2,gpt-4o,OpenAI,10,5,0,,,"
                "alice,true,,unattributed\n",
                response_only=True,
            )
        ],
    )
    def get(self, request):
        start, end = range_from(request)
        rows = export_rows(tenant=request.tenant, start=start, end=end)
        header = next(rows)  # checks the range before the 200 goes out
        response = StreamingHttpResponse(_chain(header, rows), content_type="text/csv")
        filename = f"usage-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def _chain(first: str, rest: Iterator[str]) -> Iterator[str]:
    yield first
    yield from rest
