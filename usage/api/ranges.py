"""The `start`/`end` (and `model`/`consumer`/`host`) query parameters the activity and the
export share."""

from datetime import datetime, timedelta

from django.utils import timezone
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter

from usage.buckets import RANGE_OUT_OF_BOUNDS, RangeRefused, in_bounds
from usage.selectors.filters import ActivityFilter, activity_filter

RANGE_PARAMETERS = [
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


def range_from(request, *, default_days: int = 30) -> tuple[datetime, datetime]:
    """`start`/`end` from the query string (ISO 8601 with an offset); default: the last 30 days."""
    values = {}
    for name in ("start", "end"):
        raw = request.query_params.get(name)
        if raw is not None:  # present but empty is a bad time, not the default
            values[name] = _range_time(name, raw)
    end = values.get("end") or timezone.now()
    start = values.get("start") or end - timedelta(days=default_days)
    return start, end


def _range_time(name: str, raw: str) -> datetime:
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
    return value


FILTER_PARAMETERS = [
    OpenApiParameter(
        "model",
        str,
        description="Narrow every figure to the model of this name; one you do not have is "
        "a 400 `invalid_filter`. Served from the rollups.",
    ),
    OpenApiParameter(
        "consumer",
        str,
        description="Narrow every figure to this consumer (agent or user). Consumers are free "
        "text: one with no usage gives empty figures. Read from the raw events.",
    ),
    OpenApiParameter(
        "host",
        str,
        description="Narrow every figure to the host(s) of this name; one you do not have is "
        "a 400 `invalid_filter`. Read from the raw events.",
    ),
]


def filter_from(request) -> ActivityFilter:
    """`model`/`consumer`/`host` from the query string; empty or left out: not filtered."""
    params = request.query_params
    return activity_filter(
        tenant=request.tenant,
        model=params.get("model", "").strip(),
        consumer=params.get("consumer", ""),
        host=params.get("host", "").strip(),
    )
