"""`GET /api/v1/usage/activity/`: series, totals and breakdowns of a range (SPEC §6.1)."""

from dataclasses import fields, is_dataclass
from datetime import datetime
from decimal import Decimal

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiExample, OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from licensing.tenancy import IsTenantAdmin
from usage.api.ranges import FILTER_PARAMETERS, RANGE_PARAMETERS, filter_from, range_from
from usage.buckets import BUCKET_SIZES, RangeRefused
from usage.pricing import decimal_text
from usage.selectors import TOP, Activity, Cost, Requests, Tokens, activity
from usage.selectors.activity import MAX_ROWS


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
        "by_provider": result.by_provider,
        "by_host": result.by_host,
        "top_consumers": result.top_consumers,
        "top_tickets": result.top_tickets,
        "more": list(result.more),
        "filters": result.narrowed.as_params(),
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
_WHOLE_BILL_EXAMPLE = {
    "input": "0.00385",
    "output": "0.0042",
    "cached": "0.00024",
    "total": "0.01029",
}
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
        "whole_bill": _WHOLE_BILL_EXAMPLE,
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
            "share": "1.0000",
        }
    ],
    "by_provider": [
        {
            "provider": "OpenAI",
            "tokens": _TOKENS_EXAMPLE,
            "requests": _REQUESTS_EXAMPLE,
            "cost": _WHOLE_BILL_EXAMPLE,
            "unpriced_tokens": _NO_TOKENS,
            "share": "1.0000",
        }
    ],
    "by_host": [
        {
            "host_id": 7,
            "name": "web-01",
            "tokens": _TOKENS_EXAMPLE,
            "requests": _REQUESTS_EXAMPLE,
            "cost": _WHOLE_BILL_EXAMPLE,
            "unpriced_tokens": _NO_TOKENS,
            "share": "1.0000",
        }
    ],
    "top_consumers": [
        {
            "consumer": "agent-disk-cleaner",
            "tokens": _TOKENS_EXAMPLE,
            "requests": _REQUESTS_EXAMPLE,
            "cost": _WHOLE_BILL_EXAMPLE,
            "unpriced_tokens": _NO_TOKENS,
            "share": "1.0000",
        }
    ],
    "top_tickets": [
        {
            "ticket_id": 42,
            "external_id": "INC-0042",
            "subject": "Disk almost full",
            "tokens": _TOKENS_EXAMPLE,
            "cost": _COST_EXAMPLE,
            "share": "0.9757",
        }
    ],
    "more": [],
    "filters": {"host": "web-01"},
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


def _rows(raw: str | None) -> int:
    """`rows`: a whole number from 1 to MAX_ROWS; left out: TOP."""
    if raw is None:
        return TOP
    if not (raw.isascii() and raw.isdigit() and len(raw) <= 4 and 1 <= int(raw) <= MAX_ROWS):
        raise RangeRefused(f"rows must be a whole number, 1 to {MAX_ROWS}.", code="invalid_rows")
    return int(raw)


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
            *FILTER_PARAMETERS,
            OpenApiParameter(
                "rows",
                int,
                description=f"Rows of each breakdown (by_model, by_provider, by_host, "
                f"top_consumers, top_tickets), 1 to {MAX_ROWS}. Default: 10. `more` names "
                "the breakdowns that have more rows.",
            ),
        ],
        responses={200: OpenApiTypes.OBJECT},
        examples=[OpenApiExample("A day in Cost mode", value=ACTIVITY_EXAMPLE, response_only=True)],
        description="Cost figures are exact decimal strings in USD. `totals.cost` (and "
        "each bucket's and ticket's `cost`, and `by_model[].cost`) is priced usage linked to a "
        "ticket; `totals.unattributed_spend` (by model in `unattributed` and "
        "`by_model[].unattributed_cost`) is priced usage linked to no ticket; "
        "`totals.whole_bill` is the two together; `unpriced` names, by model, the tokens no "
        "pricing plan prices, on a ticket or not (never $0). `by_provider[].cost`, "
        "`by_host[].cost` and `top_consumers[].cost` are their whole bill (priced usage on "
        "a ticket or not). Each breakdown row's `share` is a fraction (4 places) of the "
        "range's tokens in Tokens mode, of its whole bill in Cost mode; null when that "
        "total is 0. `model`, `consumer` and `host` narrow every figure; `filters` echoes "
        "them. Buckets are in the tenant's time zone; a range needing more than 2,000 "
        "buckets, or ending before it starts, is a 400 `invalid_range`; an unknown model "
        "or host is a 400 `invalid_filter`; a bad `rows` a 400 `invalid_rows`.",
    )
    def get(self, request):
        start, end = range_from(request)
        params = request.query_params
        result = activity(
            tenant=request.tenant,
            start=start,
            end=end,
            mode=params.get("mode", "tokens"),
            bucket=params.get("bucket", "auto"),
            narrowed=filter_from(request),
            rows=_rows(params.get("rows")),
        )
        return Response(activity_as_data(result))
