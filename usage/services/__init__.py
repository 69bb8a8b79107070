"""Writes about LLM usage, by sub-domain.

- `events.py`: recording batches of usage events;
- `rollups.py`: keeping the rollups in step (added per batch, rebuilt on demand);
- `models.py`: LLM models and their pricing plans;
- `array_insert.py`: many rows in one INSERT as one array per column (events and rollups).
"""

from usage.errors import UsageRefused
from usage.services.events import (
    MAX_BATCH,
    EventsRecorded,
    UsageEventData,
    usage_events_insert,
    usage_events_record,
)
from usage.services.models import (
    earliest_plan_time,
    llm_model_create,
    pricing_plan_create,
    quarter_hour_after,
)
from usage.services.rollups import rollups_rebuild, rollups_rebuild_within

__all__ = [
    "MAX_BATCH",
    "EventsRecorded",
    "UsageEventData",
    "UsageRefused",
    "earliest_plan_time",
    "llm_model_create",
    "pricing_plan_create",
    "quarter_hour_after",
    "rollups_rebuild",
    "rollups_rebuild_within",
    "usage_events_insert",
    "usage_events_record",
]
