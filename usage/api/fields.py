"""Strict JSON fields for the usage API's input serializers.

DRF's own fields are lenient on purpose (for HTML forms): `"12"` is an integer, `0` a
string, `"yes"` a boolean, and a naive time is read in the server's zone. Agents send
JSON; each of those is a mistake in the agent that Tally must name, not guess around.
"""

from datetime import datetime, timedelta
from typing import Any

from django.utils import timezone
from rest_framework import serializers

from usage.buckets import BOUNDS, EARLIEST, in_bounds

FUTURE_TOLERANCE = timedelta(days=1)
_MESSAGE_KEYS = ("required", "null", "blank", "invalid", "max_length", "min_value", "max_value")


def one_message(message: str) -> dict[str, Any]:
    """The same message for every way a field can be wrong (missing, null, bad, too big)."""
    return dict.fromkeys(_MESSAGE_KEYS, message)


# These fields check their bounds in `to_internal_value`, in one pass, instead of through
# DRF's validator objects: a batch is 1,000 records of ten fields, and the validators cost
# more than the rest of the checks together (`bench/activity.py`, ingestion). The bounds
# stay on the field (`max_length`, `min_value`, `max_value`) for the OpenAPI schema.


class StrictCharField(serializers.CharField):
    """A JSON string, as sent (not trimmed); a number or boolean is refused, and so is
    text PostgreSQL cannot store (a NUL character, a lone surrogate)."""

    def __init__(self, **kwargs):
        super().__init__(trim_whitespace=False, **kwargs)
        self.validators = []

    def to_internal_value(self, data):
        if not isinstance(data, str) or "\x00" in data:
            self.fail("invalid")
        if self.max_length is not None and len(data) > self.max_length:
            self.fail("max_length", max_length=self.max_length)
        try:
            data.encode()
        except UnicodeEncodeError:
            self.fail("invalid")
        return data


class StrictIntegerField(serializers.IntegerField):
    """A JSON integer; a string, a fraction or a boolean is refused."""

    def __init__(self, **kwargs):
        super().__init__(**kwargs)
        self.validators = []

    def to_internal_value(self, data):
        if isinstance(data, bool) or not isinstance(data, int):
            self.fail("invalid")
        if self.min_value is not None and data < self.min_value:
            self.fail("min_value", min_value=self.min_value)
        if self.max_value is not None and data > self.max_value:
            self.fail("max_value", max_value=self.max_value)
        return data


class StrictDecimalField(serializers.DecimalField):
    """Money as a JSON string ("2.50"), as the answers write it; a JSON number, which most
    clients hold as a binary float, is refused."""

    default_error_messages = {"not_a_string": 'A decimal string, e.g. "2.50".'}

    def to_internal_value(self, data):
        if not isinstance(data, str):
            self.fail("not_a_string")
        if data != data.strip():  # the schema's pattern: digits, nothing around them
            self.fail("invalid")
        return super().to_internal_value(data)

    def validate_empty_values(self, data):
        # DRF reads "" as null when null is allowed; the schema says null is null.
        if isinstance(data, str) and not data.strip():
            self.fail("invalid")
        return super().validate_empty_values(data)


class StrictBooleanField(serializers.BooleanField):
    """JSON true or false; "yes", 1 or "true" are refused."""

    def to_internal_value(self, data):
        if not isinstance(data, bool):
            self.fail("invalid")
        return data


def aware_time(value) -> datetime | None:
    """An ISO 8601 string (or a datetime) with its offset, else None."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
    if not isinstance(value, datetime) or timezone.is_naive(value):
        return None
    return value


class OccurredAtField(serializers.DateTimeField):
    """When usage happened: with its offset, from 2000-01-01 UTC, at most a day ahead."""

    default_error_messages = {
        **one_message("An ISO 8601 time with an offset is required."),
        "early": "Tally keeps usage from 2000-01-01 (UTC) on; this is earlier.",
        "future": "This time is more than a day in the future.",
    }

    def to_internal_value(self, value):
        parsed = aware_time(value)
        if parsed is None:
            self.fail("invalid")
        if parsed < EARLIEST:
            self.fail("early")
        if parsed > timezone.now() + FUTURE_TOLERANCE:
            self.fail("future")
        return parsed


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
