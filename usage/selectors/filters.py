"""Filtering an activity by a model, a consumer or a host (`model=`, `consumer=`, `host=`).

A model filter is served from the rollups (each is keyed by model). A consumer or host
filter is not: no rollup crosses a consumer or a host with the series' grains and tickets
(that would multiply the rollups' rows), so those read the range's raw events, through
the (tenant, consumer, occurred_at) and (tenant, host, occurred_at) indexes.
"""

from dataclasses import dataclass

from licensing.models import Tenant
from tasks.models import Host
from usage.buckets import RangeRefused
from usage.models import LlmModel


@dataclass(frozen=True)
class ActivityFilter:
    """What the activity is narrowed to; the names as asked, with the ids they resolve to."""

    model: str = ""
    consumer: str = ""
    host: str = ""
    model_id: int | None = None
    host_ids: tuple[int, ...] = ()

    @property
    def reads_raw(self) -> bool:
        """Whether the range must be read from raw events (no rollup serves the filter)."""
        return bool(self.consumer or self.host)

    @property
    def active(self) -> bool:
        return bool(self.model or self.consumer or self.host)

    def as_params(self) -> dict[str, str]:
        """The filter as query parameters (only those set)."""
        return {
            name: value
            for name, value in (
                ("model", self.model),
                ("consumer", self.consumer),
                ("host", self.host),
            )
            if value
        }


NO_FILTER = ActivityFilter()


def activity_filter(
    *, tenant: Tenant, model: str = "", consumer: str = "", host: str = ""
) -> ActivityFilter:
    """The filter for these names (empty: not filtered by it).

    Raises RangeRefused (400 `invalid_filter`) for a model or host name the tenant does
    not have: a typo would otherwise look like a range with no usage. A consumer is free
    text, never registered: an unknown one is a filter that matches nothing.
    """
    model_id = None
    if model:
        model_id = (
            LlmModel.objects.filter(tenant=tenant, name=model).values_list("id", flat=True).first()
        )
        if model_id is None:
            raise RangeRefused(f"No model named {model!r} in your tenant.", code="invalid_filter")
    host_ids: tuple[int, ...] = ()
    if host:
        # Every host of that name: the filter is by name, as usage events name hosts.
        host_ids = tuple(Host.objects.filter(tenant=tenant, name=host).values_list("id", flat=True))
        if not host_ids:
            raise RangeRefused(f"No host named {host!r} in your tenant.", code="invalid_filter")
    return ActivityFilter(model, consumer, host, model_id, host_ids)
