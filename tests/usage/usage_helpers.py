"""Shared by the usage events, activity, pricing and export tests: models, tickets, events."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import time_machine

from tasks.models import Gateway, Ticket
from usage.api.events import validated_events
from usage.models import ConsumerRollup, HostRollup, ModelRollup, TicketRollup
from usage.services import llm_model_create, pricing_plan_create, usage_events_record

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)


def ticket_for(tenant, external_id: str = "INC-1", subject: str = "Disk almost full") -> Ticket:
    gateway, _ = Gateway.objects.get_or_create(
        tenant=tenant, name="Jira", defaults={"kind": Gateway.Kind.JIRA, "secret_hash": "x"}
    )
    return Ticket.objects.create(
        tenant=tenant, gateway=gateway, external_id=external_id, subject=subject
    )


def model_with_plan(tenant, name: str, prices=("1", "2", "0.5"), effective_at=EPOCH):
    model = llm_model_create(tenant=tenant, name=name, provider="OpenAI")
    if prices is not None:
        plan(model, prices, effective_at)
    return model


def plan(model, prices, effective_at):
    return pricing_plan_create(
        model=model,
        input_per_million=Decimal(prices[0]),
        output_per_million=Decimal(prices[1]),
        cached_per_million=Decimal(prices[2]),
        effective_at=effective_at,
    )


def post_plan(client, model, effective_at: str, price: str = "1"):
    """POST /api/v1/models/<id>/pricing/ with one price for every kind of token."""
    prices = dict.fromkeys(("input_per_million", "output_per_million", "cached_per_million"), price)
    return client.post(
        f"/api/v1/models/{model.id}/pricing/",
        {**prices, "effective_at": effective_at},
        format="json",
    )


def scheduled_plan(model, prices, effective_at):
    """A price change created a day before it takes effect, as the service requires of a
    plan that follows the model's first one (a plan never takes effect in the past)."""
    with time_machine.travel(effective_at - timedelta(days=1)):
        return plan(model, prices, effective_at)


_counter = iter(range(10**9))


def event(at: datetime, model: str, **fields) -> dict:
    record = {
        "request_id": fields.pop("request_id", f"req-{next(_counter)}"),
        "occurred_at": at.isoformat(),
        "model": model,
        "input_tokens": 1000,
        "output_tokens": 200,
        "cached_tokens": 300,
    }
    record.update(fields)
    return record


def mixed_events(at: datetime, model: str, ticket, *, count: int, minutes: int) -> list[dict]:
    """`count` events `minutes` apart: every other one on `ticket`, three consumers, and
    every fifth one failed."""
    return [
        event(
            at + timedelta(minutes=minutes * i),
            model,
            input_tokens=i,
            ticket=ticket.id if i % 2 else None,
            consumer=f"c{i % 3}",
            succeeded=i % 5 != 0,
        )
        for i in range(count)
    ]


def rollup_rows() -> list[tuple]:
    """Every rollup row of every tenant, comparable across a rebuild (ids left out)."""
    return sorted(
        (rollup.__name__, *map(str, row))
        for rollup in (ModelRollup, ConsumerRollup, TicketRollup, HostRollup)
        for row in rollup.objects.values_list(
            *[f.attname for f in rollup._meta.concrete_fields if f.attname != "id"]
        )
    )


def record(tenant, events: list[dict]):
    """Record JSON-like events as the API does: its input serializer, then the service."""
    return usage_events_record(tenant=tenant, events=validated_events(events))


def price_of(event_record: dict, plans: list[tuple[datetime, tuple]]) -> Decimal | None:
    """The cost of one event under the plan in force at its time, computed by hand."""
    at = datetime.fromisoformat(event_record["occurred_at"])
    in_force = [prices for effective_at, prices in plans if effective_at <= at]
    if not in_force:
        return None
    prices = [Decimal(p) for p in in_force[-1]]
    return (
        event_record["input_tokens"] * prices[0]
        + event_record["output_tokens"] * prices[1]
        + event_record["cached_tokens"] * prices[2]
    ) / Decimal(1_000_000)
