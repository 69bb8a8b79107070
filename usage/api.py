"""The usage API (SPEC §6.1): events in, activity and CSV out, models and pricing plans."""

import csv
from bisect import bisect_right
from collections import defaultdict
from dataclasses import asdict
from datetime import datetime, timedelta
from decimal import Decimal

from django.http import StreamingHttpResponse
from django.shortcuts import get_object_or_404
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework import serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.tenancy import IsTenantAdmin
from usage.buckets import (
    BOUNDS,
    BUCKET_SIZES,
    RANGE_OUT_OF_BOUNDS,
    RangeRefused,
    check_range,
    in_bounds,
)
from usage.models import LlmModel, PricingPlan, UsageEvent
from usage.selectors import Activity, activity, llm_model_list
from usage.services import (
    MAX_BATCH,
    UsageRefused,
    llm_model_create,
    pricing_plan_create,
    usage_events_record,
)

# --- usage events -------------------------------------------------------------------


class UsageEventInputSerializer(serializers.Serializer):
    """The shape of one record (checked by `usage_events_record`, which names the index)."""

    request_id = serializers.CharField(max_length=200, help_text="Idempotency key per tenant.")
    occurred_at = serializers.DateTimeField(help_text="With an offset; at most a day ahead.")
    model = serializers.CharField(help_text="The name of one of your models.")
    input_tokens = serializers.IntegerField(min_value=0, max_value=2**31 - 1, help_text="Uncached.")
    output_tokens = serializers.IntegerField(min_value=0, max_value=2**31 - 1)
    cached_tokens = serializers.IntegerField(min_value=0, max_value=2**31 - 1, required=False)
    ticket = serializers.IntegerField(
        required=False, allow_null=True, help_text="Left out: the task's ticket, if any."
    )
    task = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="With a ticket that is not the task's ticket (or the task has none): "
        "400 on `ticket`.",
    )
    consumer = serializers.CharField(
        required=False, allow_blank=True, allow_null=True, max_length=200
    )
    succeeded = serializers.BooleanField(required=False, default=True)


class UsageEventsBatchSerializer(serializers.Serializer):
    events = UsageEventInputSerializer(many=True, max_length=MAX_BATCH)


class EventsRecordedSerializer(serializers.Serializer):
    received = serializers.IntegerField()
    created = serializers.IntegerField()
    duplicates = serializers.IntegerField(help_text="request_ids stored before: not counted again.")


EVENTS_EXAMPLE = {
    "events": [
        {
            "request_id": "run-7f3a-0001",
            "occurred_at": "2026-11-20T14:03:12+01:00",
            "model": "gpt-4o",
            "input_tokens": 1200,
            "output_tokens": 350,
            "cached_tokens": 800,
            "ticket": 42,
            "consumer": "agent-disk-cleaner",
            "succeeded": True,
        }
    ]
}
EVENTS_REFUSED_EXAMPLE = {
    "code": "invalid",
    "detail": "Event 3, field model: No model named 'gpt-9': create it first "
    "(POST /api/v1/models/). Nothing was stored.",
    "errors": {"events": {"3": {"model": ["No model named 'gpt-9': create it first ..."]}}},
}


class UsageEventsApi(APIView):
    """Ingest a batch of LLM usage records: whole or nothing, idempotent by request_id."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        request=UsageEventsBatchSerializer,
        responses={201: EventsRecordedSerializer, 200: EventsRecordedSerializer},
        examples=[
            OpenApiExample("A batch of one", value=EVENTS_EXAMPLE, request_only=True),
            OpenApiExample(
                "Stored",
                value={"received": 1, "created": 1, "duplicates": 0},
                response_only=True,
                status_codes=["201"],
            ),
            OpenApiExample(
                "A bad record",
                value=EVENTS_REFUSED_EXAMPLE,
                response_only=True,
                status_codes=["400"],
            ),
        ],
        description="201 when anything new was stored; 200 when every request_id was "
        "stored before (a re-post). A bad record: 400 naming the record index and field.",
    )
    def post(self, request):
        data = request.data
        if not isinstance(data, dict) or not isinstance(data.get("events"), list):
            raise UsageRefused(
                'Send {"events": [...]} with 1 to 1000 records.',
                errors={"events": ["Expected a list of records."]},
            )
        recorded = usage_events_record(tenant=request.tenant, events=data["events"])
        code = status.HTTP_201_CREATED if recorded.created else status.HTTP_200_OK
        return Response(EventsRecordedSerializer(recorded).data, status=code)


# --- activity ------------------------------------------------------------------------


def _range_from(request, *, default_days: int = 30) -> tuple[datetime, datetime]:
    """`start`/`end` from the query string (ISO 8601 with an offset); default: the last 30 days."""
    values = {}
    for name in ("start", "end"):
        raw = request.query_params.get(name)
        if not raw:
            continue
        # An unencoded "+02:00" arrives as " 02:00".
        raw = raw.strip().replace(" ", "+")
        try:
            value = datetime.fromisoformat(raw)
        except ValueError:
            value = None
        if value is None or timezone.is_naive(value):
            raise RangeRefused(
                f"{name} must be an ISO 8601 time with an offset, e.g. 2026-11-01T00:00:00+01:00."
            )
        if not in_bounds(value):  # before the default start is computed from it
            raise RangeRefused(f"{name}: {RANGE_OUT_OF_BOUNDS}")
        values[name] = value
    end = values.get("end") or timezone.now()
    start = values.get("start") or end - timedelta(days=default_days)
    return start, end


def decimal_text(value: Decimal) -> str:
    """An exact decimal without trailing zeros or exponent: 0.00001375, 12, 0."""
    return format(value.normalize(), "f")


def _plain(value):
    """Dataclasses to JSON-ready data: Decimal as an exact string, times in ISO 8601."""
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def _tokens(tokens) -> dict:
    return {**asdict(tokens), "total": tokens.total}


def _cost(cost) -> dict:
    return {**asdict(cost), "total": cost.total}


def _requests(requests) -> dict:
    return {**asdict(requests), "total": requests.total}


def activity_as_data(result: Activity) -> dict:
    """The API's JSON for an activity; the page's htmx partial can use it as well."""
    share = result.cached_share
    data = {
        "start": result.start,
        "end": result.end,
        "zone": result.zone,
        "mode": result.mode,
        "bucket": result.bucket,
        "bucket_seconds": result.bucket_seconds,
        "totals": {
            "tokens": _tokens(result.tokens),
            "cached_share": None if share is None else round(float(share), 4),
            "cost": _cost(result.cost),
            "requests": _requests(result.requests),
        },
        "series": [
            {
                "start": point.start,
                "end": point.end,
                "tokens": _tokens(point.tokens),
                "cost": _cost(point.cost),
                "requests": _requests(point.requests),
            }
            for point in result.series
        ],
        "by_model": [
            {
                "model_id": m.model_id,
                "name": m.name,
                "provider": m.provider,
                "tokens": _tokens(m.tokens),
                "requests": _requests(m.requests),
                "cost": _cost(m.cost),
                "unpriced_tokens": _tokens(m.unpriced_tokens),
                "unattributed_tokens": _tokens(m.unattributed_tokens),
            }
            for m in result.by_model
        ],
        "top_consumers": [
            {"consumer": c.consumer, "tokens": _tokens(c.tokens), "requests": _requests(c.requests)}
            for c in result.top_consumers
        ],
        "top_tickets": [
            {
                "ticket_id": t.ticket_id,
                "external_id": t.external_id,
                "subject": t.subject,
                "tokens": _tokens(t.tokens),
                "cost": _cost(t.cost),
            }
            for t in result.top_tickets
        ],
        "unpriced": [_uncosted(u) for u in result.unpriced],
        "unattributed": [_uncosted(u) for u in result.unattributed],
    }
    return _plain(data)


def _uncosted(usage) -> dict:
    return {
        "model_id": usage.model_id,
        "name": usage.name,
        "tokens": _tokens(usage.tokens),
        "requests": _requests(usage.requests),
        "message": usage.message,
    }


_TOKENS_EXAMPLE = {"input": 1200, "output": 350, "cached": 800, "total": 2350}
_COST_EXAMPLE = {"input": "0.0036", "output": "0.0042", "cached": "0.00024", "total": "0.01004"}
_REQUESTS_EXAMPLE = {"succeeded": 1, "failed": 0, "total": 1}
ACTIVITY_EXAMPLE = {
    "start": "2026-11-20T00:00:00+01:00",
    "end": "2026-11-21T00:00:00+01:00",
    "zone": "Europe/Paris",
    "mode": "cost",
    "bucket": "5m",
    "bucket_seconds": 300,
    "totals": {
        "tokens": _TOKENS_EXAMPLE,
        "cached_share": 0.4,
        "cost": _COST_EXAMPLE,
        "requests": _REQUESTS_EXAMPLE,
    },
    "series": [
        {
            "start": "2026-11-20T14:00:00+01:00",
            "end": "2026-11-20T14:05:00+01:00",
            "tokens": _TOKENS_EXAMPLE,
            "cost": _COST_EXAMPLE,
            "requests": _REQUESTS_EXAMPLE,
        }
    ],
    "by_model": [
        {
            "model_id": 1,
            "name": "gpt-4o",
            "provider": "OpenAI",
            "tokens": _TOKENS_EXAMPLE,
            "requests": _REQUESTS_EXAMPLE,
            "cost": _COST_EXAMPLE,
            "unpriced_tokens": {"input": 0, "output": 0, "cached": 0, "total": 0},
            "unattributed_tokens": {"input": 0, "output": 0, "cached": 0, "total": 0},
        }
    ],
    "top_consumers": [
        {"consumer": "agent-disk-cleaner", "tokens": _TOKENS_EXAMPLE, "requests": _REQUESTS_EXAMPLE}
    ],
    "top_tickets": [
        {
            "ticket_id": 42,
            "external_id": "INC-0042",
            "subject": "Disk almost full",
            "tokens": _TOKENS_EXAMPLE,
            "cost": _COST_EXAMPLE,
        }
    ],
    "unpriced": [
        {
            "model_id": 3,
            "name": "llama-local",
            "tokens": _TOKENS_EXAMPLE,
            "requests": _REQUESTS_EXAMPLE,
            "message": "Model llama-local has no pricing plan: define one.",
        }
    ],
    "unattributed": [],
}

_RANGE_PARAMETERS = [
    OpenApiParameter(
        "start",
        OpenApiTypes.DATETIME,
        description="Inclusive, ISO 8601 with an offset. Default: 30 days before end.",
    ),
    OpenApiParameter(
        "end",
        OpenApiTypes.DATETIME,
        description="Exclusive, ISO 8601 with an offset. Default: now.",
    ),
]


class UsageActivityApi(APIView):
    """Series, totals, breakdowns and the unpriced and unattributed usage of a range."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        parameters=[
            *_RANGE_PARAMETERS,
            OpenApiParameter("mode", str, enum=["tokens", "cost"], description="Default: tokens."),
            OpenApiParameter(
                "bucket", str, enum=["auto", *BUCKET_SIZES], description="Default: auto."
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("A day in Cost mode", value=ACTIVITY_EXAMPLE, response_only=True)],
        description="Cost figures are exact decimal strings in USD. Buckets are in the "
        "tenant's time zone; a range needing more than 2,000 buckets, or ending before it "
        "starts, is a 400 `invalid_range`.",
    )
    def get(self, request):
        start, end = _range_from(request)
        result = activity(
            tenant=request.tenant,
            start=start,
            end=end,
            mode=request.query_params.get("mode", "tokens"),
            bucket=request.query_params.get("bucket", "auto"),
        )
        return Response(activity_as_data(result))


# --- CSV export ----------------------------------------------------------------------

EXPORT_COLUMNS = [
    "occurred_at",
    "request_id",
    "model",
    "provider",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "ticket_id",
    "task_id",
    "consumer",
    "succeeded",
    "cost_usd",
    "cost_status",
]


# A spreadsheet runs a cell starting with one of these as a formula (OWASP, CSV injection).
_FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def text_cell(value: str) -> str:
    """Text from agents or administrators, made inert: a leading ' when it would be a formula."""
    return f"'{value}" if value.startswith(_FORMULA_STARTS) else value


class _Echo:
    def write(self, value: str) -> str:
        return value


def export_rows(*, tenant, start: datetime, end: datetime):
    """CSV lines of every event in `[start, end)`, oldest first, read in chunks.

    `cost_usd` is the event's exact cost under the plan in force at its time, or empty
    with `cost_status` "unattributed" (no ticket) or "unpriced" (no plan then). Text
    cells that a spreadsheet would run as a formula start with a `'`.
    """
    check_range(start, end)
    zone = tenant.zone
    models = {m.id: m for m in LlmModel.objects.filter(tenant=tenant)}
    plans = defaultdict(list)
    for plan in PricingPlan.objects.filter(model__tenant=tenant).order_by("effective_at"):
        plans[plan.model_id].append(plan)
    times = {model_id: [p.effective_at for p in items] for model_id, items in plans.items()}
    writer = csv.writer(_Echo())
    yield writer.writerow(EXPORT_COLUMNS)
    rows = (
        UsageEvent.objects.filter(tenant=tenant, occurred_at__gte=start, occurred_at__lt=end)
        .order_by("occurred_at", "id")
        .values_list(
            "occurred_at",
            "request_id",
            "model_id",
            "input_tokens",
            "output_tokens",
            "cached_tokens",
            "ticket_id",
            "task_id",
            "consumer",
            "succeeded",
        )
        .iterator(chunk_size=2000)
    )
    for at, request_id, model_id, inp, out, cached, ticket_id, task_id, consumer, ok in rows:
        model = models[model_id]
        cost, state = "", "unattributed"
        if ticket_id is not None:
            index = bisect_right(times.get(model_id, []), at)
            if index:
                plan = plans[model_id][index - 1]
                total = (
                    inp * plan.input_per_million
                    + out * plan.output_per_million
                    + cached * plan.cached_per_million
                )
                cost, state = decimal_text(total.scaleb(-6)), "priced"
            else:
                state = "unpriced"
        yield writer.writerow(
            [
                at.astimezone(zone).isoformat(),
                text_cell(request_id),
                text_cell(model.name),
                text_cell(model.provider),
                inp,
                out,
                cached,
                ticket_id or "",
                task_id or "",
                text_cell(consumer),
                "true" if ok else "false",
                cost,
                state,
            ]
        )


class UsageExportApi(APIView):
    """Every usage event of a range as CSV, streamed (constant memory)."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        parameters=_RANGE_PARAMETERS,
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
        start, end = _range_from(request)
        rows = export_rows(tenant=request.tenant, start=start, end=end)
        header = next(rows)  # checks the range before the 200 goes out
        response = StreamingHttpResponse(_chain(header, rows), content_type="text/csv")
        filename = f"usage-{start:%Y%m%dT%H%M}-{end:%Y%m%dT%H%M}.csv"
        response["Content-Disposition"] = f'attachment; filename="{filename}"'
        return response


def _chain(first, rest):
    yield first
    yield from rest


# --- models and pricing plans -----------------------------------------------------


class PricingPlanSerializer(serializers.ModelSerializer):
    class Meta:
        model = PricingPlan
        fields = [
            "id",
            "input_per_million",
            "output_per_million",
            "cached_per_million",
            "effective_at",
        ]


class LlmModelSerializer(serializers.ModelSerializer):
    pricing_plans = PricingPlanSerializer(many=True, read_only=True)

    class Meta:
        model = LlmModel
        fields = ["id", "name", "provider", "pricing_plans"]
        read_only_fields = ["id", "pricing_plans"]


class LlmModelInputSerializer(serializers.Serializer):
    name = serializers.CharField(max_length=200)
    provider = serializers.CharField(max_length=200)


class PlanTimeField(serializers.DateTimeField):
    """A plan's `effective_at` as sent: ISO 8601 with an offset, within Tally's bounds.

    DRF would read a naive time in the server's zone (so the service's own "with its
    offset" check never sees it) and say only "out of range" near year 1 or 9999.
    `default_timezone=None` is no answer: it would make aware times naive.
    """

    default_error_messages = {
        "naive": "Give the time with its offset, e.g. 2026-12-01T00:00:00+01:00.",
        "bounds": f"A plan takes effect {BOUNDS}.",
    }

    def to_internal_value(self, value):
        parsed = _iso_time(value) if isinstance(value, str) else None
        if parsed is None:
            self.fail("invalid", format="ISO 8601 with an offset")
        if parsed.tzinfo is None:
            self.fail("naive")
        if not in_bounds(parsed):
            self.fail("bounds")
        return super().to_internal_value(parsed)


def _iso_time(text: str) -> datetime | None:
    try:
        return datetime.fromisoformat(text.strip())
    except ValueError:
        return None


class PricingPlanInputSerializer(serializers.Serializer):
    input_per_million = serializers.DecimalField(max_digits=14, decimal_places=6, min_value=0)
    output_per_million = serializers.DecimalField(max_digits=14, decimal_places=6, min_value=0)
    cached_per_million = serializers.DecimalField(max_digits=14, decimal_places=6, min_value=0)
    effective_at = PlanTimeField(
        help_text="With an offset; on a quarter hour in UTC (…:00, :15, :30, :45); not "
        "before now nor at or before the model's latest recorded usage (400 "
        "`pricing_plan_in_the_past`) unless before the model's first plan."
    )


class LlmModelsApi(APIView):
    """The tenant's LLM models with their pricing plans; create one."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(responses=LlmModelSerializer(many=True))
    def get(self, request):
        models = llm_model_list(tenant=request.tenant)
        return Response(LlmModelSerializer(models, many=True).data)

    @extend_schema(
        request=LlmModelInputSerializer,
        responses={201: LlmModelSerializer},
        examples=[
            OpenApiExample(
                "A model", value={"name": "gpt-4o", "provider": "OpenAI"}, request_only=True
            )
        ],
    )
    def post(self, request):
        serializer = LlmModelInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        model = llm_model_create(tenant=request.tenant, **serializer.validated_data)
        return Response(LlmModelSerializer(model).data, status=status.HTTP_201_CREATED)


class PricingPlanCreateApi(APIView):
    """Add a pricing plan to a model; it applies from its time on, never to earlier usage."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        request=PricingPlanInputSerializer,
        responses={201: PricingPlanSerializer},
        examples=[
            OpenApiExample(
                "A price change",
                value={
                    "input_per_million": "2.50",
                    "output_per_million": "10.00",
                    "cached_per_million": "1.25",
                    "effective_at": "2026-12-01T00:00:00+01:00",
                },
                request_only=True,
            )
        ],
    )
    def post(self, request, model_id: int):
        model = get_object_or_404(LlmModel, pk=model_id, tenant=request.tenant)
        serializer = PricingPlanInputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        plan = pricing_plan_create(model=model, **serializer.validated_data)
        return Response(PricingPlanSerializer(plan).data, status=status.HTTP_201_CREATED)
