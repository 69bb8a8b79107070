"""A month of LLM usage for the page, banner and browser tests, through the usage services."""

from datetime import datetime, timedelta
from decimal import Decimal

from django.utils import timezone

from tasks.models import Gateway, Ticket
from usage.models import LlmModel
from usage.services import llm_model_create, pricing_plan_create, usage_events_record

BATCH = 1000


def usage_models(tenant) -> tuple[LlmModel, LlmModel]:
    """A priced model (plan from a year ago) and one with no pricing plan."""
    priced = llm_model_create(tenant=tenant, name="claude-sonnet", provider="Anthropic")
    pricing_plan_create(
        model=priced,
        input_per_million=Decimal("3"),
        output_per_million=Decimal("15"),
        cached_per_million=Decimal("0.30"),
        effective_at=datetime(2020, 1, 1, tzinfo=timezone.get_current_timezone()),
    )
    unpriced = llm_model_create(tenant=tenant, name="gpt-mini", provider="OpenAI")
    return priced, unpriced


def record_usage(tenant, *, events: int, days: int = 30, now: datetime | None = None) -> None:
    """`events` requests spread evenly over the last `days`, busier in the daytime.

    Every third is off-ticket (unattributed), every seventh uses the unpriced model,
    every eleventh failed; request ids are unique per call site and tenant.
    """
    now = now or timezone.now()
    priced, unpriced = usage_models(tenant)
    gateway = Gateway.objects.create(tenant=tenant, name="Jira", kind="jira", secret_hash="x")
    tickets = [
        Ticket.objects.create(
            tenant=tenant, gateway=gateway, external_id=f"OPS-{n}", subject=f"Incident {n}"
        )
        for n in range(1, 6)
    ]
    step = timedelta(days=days) / events
    records = []
    for n in range(events):
        occurred_at = now - timedelta(days=days) + step * n + step / 2
        daytime = 8 <= occurred_at.hour < 20
        records.append(
            {
                "request_id": f"req-{n}",
                "occurred_at": occurred_at,
                "model": unpriced.name if n % 7 == 0 else priced.name,
                "input_tokens": 1200 if daytime else 300,
                "output_tokens": 400 if daytime else 100,
                "cached_tokens": 800 if daytime else 150,
                "ticket": None if n % 3 == 0 else tickets[n % len(tickets)].pk,
                "consumer": f"agent-{n % 4}",
                "succeeded": n % 11 != 0,
            }
        )
    for first in range(0, len(records), BATCH):
        usage_events_record(tenant=tenant, events=records[first : first + BATCH])
