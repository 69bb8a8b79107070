"""`GET /api/v1/usage/cycles/` and `GET /api/v1/usage/cycles/<YYYY-MM>/export.csv` (SPEC §5.5):
the history's cycles as data, and one cycle's summary as CSV for finance."""

import csv
import io

from django.http import HttpResponse
from django.urls import reverse
from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import (
    OpenApiExample,
    OpenApiParameter,
    extend_schema,
    extend_schema_field,
)
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.tenancy import IsTenantAdmin
from usage.api.export import inert_text
from usage.pricing import decimal_text
from usage.selectors.cycle_summary import CycleSummary, SummaryRow, cycle_summary
from usage.selectors.history import CycleRow, cycle_of, usage_history

DECIMAL_TEXT_PATTERN = r"^-?\d+(\.\d+)?$"


@extend_schema_field({"type": "string", "pattern": DECIMAL_TEXT_PATTERN, "example": "12.5"})
class DecimalTextField(serializers.Field):
    """An exact decimal as a string, trailing zeros dropped (`decimal_text`): money in the API."""

    def to_representation(self, value) -> str:
        return decimal_text(value)


class LocalTimeField(serializers.DateTimeField):
    """A time as the selector gave it, in the tenant's zone with its offset (as the
    activity API shows times), not converted to the server's zone."""

    def to_representation(self, value) -> str:
        return value.isoformat()


class TokensSerializer(serializers.Serializer):
    input = serializers.IntegerField(help_text="Uncached input tokens.")
    cached = serializers.IntegerField(help_text="Input tokens served from cache.")
    output = serializers.IntegerField()
    total = serializers.IntegerField()


class CostSerializer(serializers.Serializer):
    input = DecimalTextField()
    cached = DecimalTextField()
    output = DecimalTextField()
    total = DecimalTextField()


class RequestsSerializer(serializers.Serializer):
    succeeded = serializers.IntegerField()
    failed = serializers.IntegerField()
    total = serializers.IntegerField()


_LABEL_HELP = '"+12.5 %", "new" (none the cycle before), or "—" (none in either, or unknown).'


class CountChangeSerializer(serializers.Serializer):
    difference = serializers.IntegerField(allow_null=True, help_text="null: unknown.")
    percent = DecimalTextField(allow_null=True, help_text="null when the previous is 0.")
    # A field named like Field.label (DRF takes declared fields out of the class).
    label = serializers.CharField(help_text=_LABEL_HELP)  # type: ignore[assignment]


class MoneyChangeSerializer(serializers.Serializer):
    difference = DecimalTextField(help_text="USD.")
    percent = DecimalTextField(allow_null=True, help_text="null when the previous is 0.")
    # A field named like Field.label (DRF takes declared fields out of the class).
    label = serializers.CharField(help_text=_LABEL_HELP)  # type: ignore[assignment]


class ChangesSerializer(serializers.Serializer):
    """Each figure's change from the previous cycle."""

    input_tokens = CountChangeSerializer()
    cached_tokens = CountChangeSerializer()
    output_tokens = CountChangeSerializer()
    cost = MoneyChangeSerializer()
    unattributed_spend = MoneyChangeSerializer()
    unpriced_tokens = CountChangeSerializer()
    succeeded_requests = CountChangeSerializer()
    failed_requests = CountChangeSerializer()
    tasks_created = CountChangeSerializer()


class CycleSerializer(serializers.Serializer):
    """A `usage.selectors.history.CycleRow`: a cycle's figures and their changes."""

    month = serializers.CharField(source="cycle.month", help_text="YYYY-MM.")
    start = LocalTimeField(source="cycle.start")
    end = LocalTimeField(source="cycle.end", help_text="Exclusive; now for the current cycle.")
    current = serializers.BooleanField(source="cycle.current", help_text="The cycle so far.")
    tokens = TokensSerializer(source="cycle.tokens", help_text="All usage.")
    cost = CostSerializer(source="cycle.cost", help_text="Priced usage linked to a ticket.")
    unattributed_spend = CostSerializer(
        source="cycle.unattributed_spend", help_text="Priced usage linked to no ticket."
    )
    whole_bill = CostSerializer(source="cycle.whole_bill", help_text="cost + unattributed_spend.")
    unpriced_tokens = TokensSerializer(
        source="cycle.unpriced_tokens", help_text="Usage no pricing plan prices (never $0)."
    )
    requests = RequestsSerializer(source="cycle.requests")
    tasks_created = serializers.IntegerField(
        source="cycle.tasks_created",
        allow_null=True,
        help_text="Tasks ever created in the cycle (deleted ones too); null when the daily "
        "snapshots of the tasks counter do not cover the whole cycle.",
    )
    changes = ChangesSerializer()
    export_url = serializers.SerializerMethodField()

    def get_export_url(self, row: CycleRow) -> str:
        return reverse("api-usage-cycle-export", args=[row.cycle.month])


class HistorySerializer(serializers.Serializer):
    zone = serializers.CharField(help_text="The tenant's time zone: cycles are its months.")
    cycles = CycleSerializer(many=True, source="rows", help_text="Newest first.")


_TOKENS = {"input": 1200, "cached": 800, "output": 350, "total": 2350}
_COST = {"input": "0.0036", "cached": "0.00024", "output": "0.00525", "total": "0.00909"}
_NONE = {"input": "0", "cached": "0", "output": "0", "total": "0"}
_COUNT_CHANGE = {"difference": 0, "percent": None, "label": "new"}
CYCLES_EXAMPLE = {
    "zone": "Europe/Paris",
    "cycles": [
        {
            "month": "2026-12",
            "start": "2026-12-01T00:00:00+01:00",
            "end": "2026-12-02T09:30:00+01:00",
            "current": True,
            "tokens": _TOKENS,
            "cost": _COST,
            "unattributed_spend": _NONE,
            "whole_bill": _COST,
            "unpriced_tokens": {"input": 0, "cached": 0, "output": 0, "total": 0},
            "requests": {"succeeded": 1, "failed": 0, "total": 1},
            "tasks_created": 4,
            "changes": {
                **dict.fromkeys(
                    ("input_tokens", "cached_tokens", "output_tokens", "succeeded_requests"),
                    {**_COUNT_CHANGE, "difference": 1},
                ),
                "cost": {"difference": "0.00909", "percent": None, "label": "new"},
                "unattributed_spend": {"difference": "0", "percent": None, "label": "—"},
                "unpriced_tokens": {"difference": 0, "percent": None, "label": "—"},
                "failed_requests": {"difference": 0, "percent": None, "label": "—"},
                "tasks_created": {"difference": -2, "percent": "-33.3", "label": "-33.3 %"},
            },
            "export_url": "/api/v1/usage/cycles/2026-12/export.csv",
        }
    ],
}


class UsageCyclesApi(APIView):
    """The last 12 cycles (calendar months in the tenant's zone, the current one so far),
    each figure with its change from the previous cycle."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        responses=HistorySerializer,
        examples=[OpenApiExample("The current cycle", value=CYCLES_EXAMPLE)],
        description="Money is exact decimal strings in USD. The oldest cycle's change is "
        "from the month before it. Read from the rollups: the cost of a 12-month view does "
        "not grow with the events.",
    )
    def get(self, request):
        history = usage_history(tenant=request.tenant, now=timezone.now())
        return Response(HistorySerializer(history).data)


CSV_COLUMNS = [
    "cycle",
    "dimension",
    "key",
    "name",
    "detail",
    "input_tokens",
    "cached_tokens",
    "output_tokens",
    "total_tokens",
    "succeeded_requests",
    "failed_requests",
    "ticket_cost_usd",
    "unattributed_spend_usd",
    "whole_bill_usd",
    "unpriced_tokens",
]


def _money(cost) -> str:
    return "" if cost is None else decimal_text(cost.total)


def _csv_line(month: str, row: SummaryRow) -> list:
    return [
        month,
        row.dimension,
        inert_text(row.key),
        inert_text(row.name),
        inert_text(row.detail),
        row.tokens.input,
        row.tokens.cached,
        row.tokens.output,
        row.tokens.total,
        row.requests.succeeded,
        row.requests.failed,
        _money(row.cost),
        _money(row.unattributed_spend),
        _money(row.whole_bill),
        row.unpriced_tokens.total,
    ]


def summary_csv(summary: CycleSummary) -> str:
    """The cycle's summary as CSV: the total row, then per dimension; text cells inert."""
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    writer.writerows(_csv_line(summary.month, row) for row in summary.rows)
    return out.getvalue()


class UsageCycleExportApi(APIView):
    """One cycle summarised by model, provider, host, consumer and ticket, as CSV."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        parameters=[
            OpenApiParameter(
                "month",
                str,
                OpenApiParameter.PATH,
                pattern=r"^\d{4}-\d{2}$",
                description="The cycle, YYYY-MM, in the tenant's zone: from 2000-01 to the "
                "current month.",
            )
        ],
        responses={(200, "text/csv"): OpenApiTypes.STR},
        examples=[
            OpenApiExample(
                "A small cycle",
                value=",".join(CSV_COLUMNS)
                + "\n2026-11,total,,,,1200,800,350,2350,1,0,0.00909,0,0.00909,0"
                "\n2026-11,model,1,gpt-4o,OpenAI,1200,800,350,2350,1,0,0.00909,0,0.00909,0\n",
                response_only=True,
            )
        ],
        description="`dimension` is total, model, provider, host, consumer or ticket; within "
        "a dimension the rows add up to the total row (tickets end with `(no ticket)`, hosts "
        "may have `(no host)`). Hosts and consumers have a whole bill but no split into "
        "ticket-linked cost and unattributed spend (those cells are empty). A month not shaped "
        "YYYY-MM is a 400 `invalid_month`; one before 2000-01 or after the current month a "
        "404 `cycle_not_found`.",
    )
    def get(self, request, month: str):
        tenant, now = request.tenant, timezone.now()
        summary = cycle_summary(
            tenant=tenant, month=cycle_of(month, tenant=tenant, now=now), now=now
        )
        response = HttpResponse(summary_csv(summary), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="usage-cycle-{summary.month}.csv"'
        return response
