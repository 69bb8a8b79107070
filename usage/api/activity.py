"""`GET /api/v1/usage/activity/`: series, totals and breakdowns of a range (SPEC §6.1)."""

from dataclasses import fields, is_dataclass
from datetime import datetime
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.tenancy import IsTenantAdmin
from usage.api.ranges import RANGE_PARAMETERS, range_from
from usage.buckets import BUCKET_SIZES
from usage.pricing import decimal_text
from usage.selectors import Activity, Cost, Requests, Tokens, activity


def _plain(value):
    """Figures to JSON-ready data, field by field: Decimal as an exact string, times in
    ISO 8601, and tokens, cost and requests with their `total`."""
    if is_dataclass(value):
        data = {field.name: _plain(getattr(value, field.name)) for field in fields(value)}
        if isinstance(value, Tokens | Cost | Requests):
            data["total"] = _plain(value.total)
        return data
    if isinstance(value, Decimal):
        return decimal_text(value)
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(item) for item in value]
    return value


def activity_as_data(result: Activity) -> dict:
    """The API's JSON for an activity: every figure, field by field (SPEC §6.1)."""
    share = result.cached_share
    data = {
        "start": result.start,
        "end": result.end,
        "zone": result.zone,
        "mode": result.mode,
        "bucket": result.bucket,
        "bucket_seconds": result.bucket_seconds,
        "totals": {
            "tokens": result.tokens,
            "cached_share": None if share is None else round(float(share), 4),
            "cost": result.cost,
            "unattributed_spend": result.unattributed_spend,
            "whole_bill": result.whole_bill,
            "requests": result.requests,
        },
        "series": result.series,
        "by_model": result.by_model,
        "top_consumers": result.top_consumers,
        "top_tickets": result.top_tickets,
        "unpriced": result.unpriced,
        "unattributed": result.unattributed,
    }
    return _plain(data)


_TOKENS_EXAMPLE = {"input": 1200, "output": 350, "cached": 800, "total": 2350}
_COST_EXAMPLE = {"input": "0.0036", "output": "0.0042", "cached": "0.00024", "total": "0.01004"}
_REQUESTS_EXAMPLE = {"succeeded": 1, "failed": 0, "total": 1}
_NO_TOKENS = {"input": 0, "output": 0, "cached": 0, "total": 0}
_UNATTRIBUTED_TOKENS_EXAMPLE = {"input": 100, "output": 0, "cached": 0, "total": 100}
_UNATTRIBUTED_COST_EXAMPLE = {"input": "0.00025", "output": "0", "cached": "0", "total": "0.00025"}
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
        "unattributed_spend": _UNATTRIBUTED_COST_EXAMPLE,
        "whole_bill": {
            "input": "0.00385",
            "output": "0.0042",
            "cached": "0.00024",
            "total": "0.01029",
        },
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
            "unpriced_tokens": _NO_TOKENS,
            "unattributed_tokens": _UNATTRIBUTED_TOKENS_EXAMPLE,
            "unattributed_cost": _UNATTRIBUTED_COST_EXAMPLE,
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
    "unattributed": [
        {
            "model_id": 1,
            "name": "gpt-4o",
            "tokens": _UNATTRIBUTED_TOKENS_EXAMPLE,
            "requests": _REQUESTS_EXAMPLE,
            "cost": _UNATTRIBUTED_COST_EXAMPLE,
        }
    ],
}


class UsageActivityApi(APIView):
    """Series, totals, breakdowns and the unpriced and unattributed usage of a range."""

    permission_classes = [IsTenantAdmin]

    @extend_schema(
        parameters=[
            *RANGE_PARAMETERS,
            OpenApiParameter("mode", str, enum=["tokens", "cost"], description="Default: tokens."),
            OpenApiParameter(
                "bucket", str, enum=["auto", *BUCKET_SIZES], description="Default: auto."
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("A day in Cost mode", value=ACTIVITY_EXAMPLE, response_only=True)],
        description="Cost figures are exact decimal strings in USD. `totals.cost` (and "
        "each bucket's and ticket's `cost`, and `by_model[].cost`) is priced usage linked to a "
        "ticket; `totals.unattributed_spend` (by model in `unattributed` and "
        "`by_model[].unattributed_cost`) is priced usage linked to no ticket; "
        "`totals.whole_bill` is the two together; `unpriced` names, by model, the tokens no "
        "pricing plan prices, on a ticket or not (never $0). Buckets are in the "
        "tenant's time zone; a range needing more than 2,000 buckets, or ending before it "
        "starts, is a 400 `invalid_range`.",
    )
    def get(self, request):
        start, end = range_from(request)
        result = activity(
            tenant=request.tenant,
            start=start,
            end=end,
            mode=request.query_params.get("mode", "tokens"),
            bucket=request.query_params.get("bucket", "auto"),
        )
        return Response(activity_as_data(result))
