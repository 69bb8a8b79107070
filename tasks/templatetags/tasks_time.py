"""`{{ delta|age }}`: a duration as a person reads it ("under a minute", "3 hours, 5 minutes")."""

from datetime import UTC, datetime, timedelta

from django import template
from django.utils.timesince import timesince

register = template.Library()

# Any fixed instant: timesince measures between two datetimes, and only their difference counts.
_ORIGIN = datetime(2000, 1, 1, tzinfo=UTC)


@register.filter
def age(delta: timedelta | None) -> str:
    if delta is None:
        return ""
    if delta < timedelta(minutes=1):  # timesince would say "0 minutes"
        return "under a minute"
    return timesince(_ORIGIN, _ORIGIN + delta)
