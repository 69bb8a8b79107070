"""Writes about LLM usage: models, pricing plans, usage events and their rollups."""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal

from licensing.errors import DomainError
from licensing.models import Tenant
from usage.models import LlmModel, PricingPlan

MAX_BATCH = 1000


class UsageRefused(DomainError):
    """A model, plan or batch of events that will not be stored (400); nothing was written.

    `errors` maps a field (or, for a batch, `events` -> {index: {field: [messages]}})
    to messages, like a validation error.
    """

    code = "invalid"

    def __init__(self, detail: str, *, errors: dict | None = None, code: str | None = None):
        super().__init__(detail, code=code)
        self.errors = errors or {}

    def extra(self) -> dict:
        return {"errors": self.errors} if self.errors else {}


@dataclass(frozen=True)
class EventsRecorded:
    """What a batch did: `created` new events; `duplicates` request_ids already stored."""

    received: int
    created: int
    duplicates: int


def llm_model_create(*, tenant: Tenant, name: str, provider: str) -> LlmModel:
    """Create a model for `tenant`. Raises UsageRefused (code `model_exists`) if the
    tenant already has a model of that name, or `invalid` for an empty name/provider."""
    raise NotImplementedError


def pricing_plan_create(
    *,
    model: LlmModel,
    input_per_million: Decimal,
    output_per_million: Decimal,
    cached_per_million: Decimal,
    effective_at: datetime,
) -> PricingPlan:
    """Add a plan for `model`, in force from `effective_at` until the model's next plan.

    Prices are non-negative Decimal USD per million tokens (6 decimal places at most).
    `effective_at` must be aware and on a 15-minute UTC boundary (…:00, :15, :30, :45,
    seconds zero), so that cost computed from the 15-minute rollups is exact; a second
    plan at the same time for the same model is refused. Refusals raise UsageRefused
    naming the field. Earlier usage keeps the price it had.
    """
    raise NotImplementedError


def usage_events_record(*, tenant: Tenant, events: Sequence[Mapping]) -> EventsRecorded:
    """Store a batch (at most 1,000) of usage records, whole or not at all.

    Each record: `request_id` (str, idempotency key per tenant), `occurred_at` (aware
    datetime or ISO 8601 string with offset, at most a day ahead), `model` (the name of
    one of the tenant's models), `input_tokens`, `output_tokens`, `cached_tokens`
    (ints, 0 <= n < 2^31, default 0), optional `ticket` and `task` (ids of the tenant's),
    `consumer` (str), `succeeded` (bool, default true). A bad record raises
    UsageRefused naming its index and field; a request_id already stored is skipped
    (counted in `duplicates`), also when two batches race.
    """
    raise NotImplementedError
