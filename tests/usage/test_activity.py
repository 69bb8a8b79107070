"""activity(): exact totals in both modes against sums computed here, event by event."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest

from tests.usage.usage_helpers import (
    event,
    model_with_plan,
    price_of,
    record,
    scheduled_plan,
    ticket_for,
)
from usage.buckets import RangeRefused
from usage.selectors import activity

PARIS = ZoneInfo("Europe/Paris")
# The autumn DST change in Paris: 2026-10-25 03:00 CEST -> 02:00 CET.
DAY_START = datetime(2026, 10, 23, tzinfo=PARIS)
PRICE_CHANGE = datetime(2026, 10, 25, 9, 15, tzinfo=UTC)
GPT_PLANS = [
    (datetime(2000, 1, 1, tzinfo=UTC), ("2.5", "10", "1.25")),
    (PRICE_CHANGE, ("3", "12", "0.3")),
]
CLAUDE_PLANS = [(datetime(2000, 1, 1, tzinfo=UTC), ("3", "15", "0.3"))]


@pytest.fixture
def world(tenant_a, tenant_b):
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    gpt = model_with_plan(tenant_a, "gpt-4o", prices=GPT_PLANS[0][1])
    scheduled_plan(gpt, GPT_PLANS[1][1], PRICE_CHANGE)
    model_with_plan(tenant_a, "claude", prices=CLAUDE_PLANS[0][1])
    model_with_plan(tenant_a, "local-llm", prices=None)
    tickets = [ticket_for(tenant_a, f"INC-{i}", f"Subject {i}") for i in range(6)]
    rng = random.Random(6)
    events = []
    for _ in range(400):
        at = DAY_START + timedelta(seconds=rng.randrange(4 * 86400))
        ticket = rng.choice([None, *tickets])
        events.append(
            event(
                at.astimezone(UTC),
                rng.choice(["gpt-4o", "claude", "local-llm"]),
                input_tokens=rng.randrange(5000),
                output_tokens=rng.randrange(2000),
                cached_tokens=rng.randrange(3000),
                ticket=ticket.id if ticket else None,
                consumer=rng.choice(["agent-1", "agent-2", "alice", ""]),
                succeeded=rng.random() > 0.1,
            )
        )
    record(tenant_a, events)
    # Another tenant's usage never shows.
    model_with_plan(tenant_b, "gpt-4o")
    record(tenant_b, [event(DAY_START + timedelta(hours=30), "gpt-4o") for _ in range(5)])
    return tenant_a, events, {t.id: t for t in tickets}


PLANS = {"gpt-4o": GPT_PLANS, "claude": CLAUDE_PLANS, "local-llm": []}


def _in(events, start, end):
    return [e for e in events if start <= datetime.fromisoformat(e["occurred_at"]) < end]


def _expected(events):
    """Tokens, ticket-linked cost, unattributed spend, unpriced and unattributed tokens by
    model, summed event by event with each event's plan computed by hand."""
    tokens = [sum(e[f] for e in events) for f in ("input_tokens", "output_tokens", "cached_tokens")]
    cost, spend = Decimal(0), Decimal(0)
    unpriced, unattributed = defaultdict(int), defaultdict(int)
    for e in events:
        total = e["input_tokens"] + e["output_tokens"] + e["cached_tokens"]
        price = price_of(e, PLANS[e["model"]])
        if price is None:
            unpriced[e["model"]] += total
        elif e["ticket"] is None:
            unattributed[e["model"]] += total
            spend += price
        else:
            cost += price
    return tokens, cost, spend, dict(unpriced), dict(unattributed)


# Grain-aligned, off-grain (raw edges), inside one grain, and across the DST change.
RANGES = [
    (DAY_START, DAY_START + timedelta(days=4), "auto"),
    (
        DAY_START + timedelta(hours=5, minutes=7, seconds=13),
        DAY_START + timedelta(days=3, minutes=52),
        "1h",
    ),
    (DAY_START + timedelta(hours=30, minutes=2), DAY_START + timedelta(hours=30, minutes=11), "5m"),
    (datetime(2026, 10, 24, 22, 3, tzinfo=UTC), datetime(2026, 10, 26, 1, 1, tzinfo=UTC), "15m"),
    (DAY_START + timedelta(days=1), DAY_START + timedelta(days=2), "auto"),
]


@pytest.mark.parametrize(("start", "end", "bucket"), RANGES)
def test_totals_in_both_modes_equal_the_sums_of_the_events_in_the_range(world, start, end, bucket):
    tenant, events, _ = world
    chosen = _in(events, start, end)
    tokens, cost, spend, unpriced, unattributed = _expected(chosen)
    for mode in ("tokens", "cost"):
        result = activity(tenant=tenant, start=start, end=end, mode=mode, bucket=bucket)
        assert [result.tokens.input, result.tokens.output, result.tokens.cached] == tokens
        assert result.cost.total == cost
        assert result.unattributed_spend.total == spend
        assert result.whole_bill.total == cost + spend
        assert sum(u.cost.total for u in result.unattributed) == spend
        assert sum(m.unattributed_cost.total for m in result.by_model) == spend
        assert result.requests.total == len(chosen)
        assert result.requests.failed == sum(1 for e in chosen if not e["succeeded"])
        assert {u.name: u.tokens.total for u in result.unpriced} == unpriced
        assert {u.name: u.tokens.total for u in result.unattributed} == unattributed
        assert sum(p.tokens.total for p in result.series) == sum(tokens)
        assert sum(p.cost.total for p in result.series) == cost
        assert sum(m.cost.total for m in result.by_model) == cost


def test_cost_is_exact_decimal_and_a_price_change_never_rewrites_earlier_cost(world):
    tenant, events, _ = world
    before_start, change = DAY_START, PRICE_CHANGE
    before = activity(tenant=tenant, start=before_start, end=change, mode="cost")
    after = activity(tenant=tenant, start=change, end=DAY_START + timedelta(days=4), mode="cost")
    whole = activity(
        tenant=tenant, start=before_start, end=DAY_START + timedelta(days=4), mode="cost"
    )
    assert isinstance(whole.cost.total, Decimal)
    assert before.cost.total + after.cost.total == whole.cost.total
    gpt_before = [
        e for e in _in(events, before_start, change) if e["model"] == "gpt-4o" and e["ticket"]
    ]
    expected = sum(
        (
            e["input_tokens"] * Decimal("2.5")
            + e["output_tokens"] * 10
            + e["cached_tokens"] * Decimal("1.25")
        )
        / 1_000_000
        for e in gpt_before
    )
    assert next(m for m in before.by_model if m.name == "gpt-4o").cost.total == expected


def test_day_buckets_follow_the_paris_calendar_with_a_25_hour_day(world):
    tenant, events, _ = world
    result = activity(
        tenant=tenant,
        start=DAY_START,
        end=DAY_START + timedelta(days=4),
        mode="tokens",
        bucket="1d",
    )
    assert [p.start.date().isoformat() for p in result.series] == [
        "2026-10-23",
        "2026-10-24",
        "2026-10-25",
        "2026-10-26",
    ]
    lengths = [p.end.astimezone(UTC) - p.start.astimezone(UTC) for p in result.series]
    assert lengths == [
        timedelta(hours=24),
        timedelta(hours=24),
        timedelta(hours=25),
        timedelta(hours=24),
    ]
    by_day = defaultdict(int)
    for e in events:
        by_day[datetime.fromisoformat(e["occurred_at"]).astimezone(PARIS).date().isoformat()] += (
            e["input_tokens"] + e["output_tokens"] + e["cached_tokens"]
        )
    assert {p.start.date().isoformat(): p.tokens.total for p in result.series} == by_day


def test_hour_buckets_split_the_repeated_autumn_hour_and_empty_buckets_are_zeros(world):
    tenant, events, _ = world
    start = datetime(2026, 10, 25, tzinfo=PARIS)
    end = datetime(2026, 10, 26, tzinfo=PARIS)
    result = activity(tenant=tenant, start=start, end=end, mode="tokens", bucket="1h")
    assert len(result.series) == 25
    expected = defaultdict(int)
    for e in _in(events, start, end):
        at = datetime.fromisoformat(e["occurred_at"])
        expected[at.replace(minute=0, second=0, microsecond=0)] += e["input_tokens"]
    assert {
        p.start.astimezone(UTC): p.tokens.input for p in result.series if p.tokens.input
    } == expected
    assert all(
        p.tokens.total == 0 for p in result.series if p.start.astimezone(UTC) not in expected
    )


def test_top_tickets_are_ranked_by_cost_and_top_consumers_by_tokens(world):
    tenant, events, tickets = world
    start, end = DAY_START, DAY_START + timedelta(days=4)
    result = activity(tenant=tenant, start=start, end=end, mode="cost")
    per_ticket = defaultdict(Decimal)
    per_consumer = defaultdict(int)
    for e in events:
        per_consumer[e["consumer"]] += e["input_tokens"] + e["output_tokens"] + e["cached_tokens"]
        price = price_of(e, PLANS[e["model"]]) if e["ticket"] else None
        if price is not None:
            per_ticket[e["ticket"]] += price
    assert [(t.ticket_id, t.cost.total) for t in result.top_tickets] == sorted(
        per_ticket.items(), key=lambda item: -item[1]
    )
    assert result.top_tickets[0].subject == tickets[result.top_tickets[0].ticket_id].subject
    assert {c.consumer: c.tokens.total for c in result.top_consumers} == per_consumer


def test_unpriced_usage_is_named_with_what_to_do(world):
    tenant, _, _ = world
    result = activity(
        tenant=tenant, start=DAY_START, end=DAY_START + timedelta(days=4), mode="cost"
    )
    assert [u.message for u in result.unpriced] == [
        "Model local-llm has no pricing plan: define one."
    ]
    assert [u.name for u in result.unattributed] == ["claude", "gpt-4o"]  # local-llm: unpriced


# New York springs forward on 2026-03-08 (a 23-hour day); Kolkata is UTC+05:30.
@pytest.mark.parametrize(
    ("zone", "day"),
    [("America/New_York", datetime(2026, 3, 8)), ("Asia/Kolkata", datetime(2026, 3, 8))],
)
def test_the_whole_bill_is_ticket_cost_plus_unattributed_spend_summed_by_hand(tenant_a, zone, day):
    tenant_a.timezone = zone
    tenant_a.save()
    local = ZoneInfo(zone)
    start, end = day.replace(tzinfo=local), (day + timedelta(days=1)).replace(tzinfo=local)
    change = datetime(2026, 3, 8, 12, 45, tzinfo=UTC)
    plans = [(datetime(2000, 1, 1, tzinfo=UTC), ("2.5", "10", "1.25")), (change, ("3", "7", "0"))]
    gpt = model_with_plan(tenant_a, "gpt-4o", prices=plans[0][1])
    scheduled_plan(gpt, plans[1][1], change)
    model_with_plan(tenant_a, "local-llm", prices=None)
    ticket = ticket_for(tenant_a)
    rng = random.Random(zone)
    events = [
        event(
            (start - timedelta(hours=2) + timedelta(seconds=rng.randrange(28 * 3600))).astimezone(
                UTC
            ),
            rng.choice(["gpt-4o", "gpt-4o", "local-llm"]),
            input_tokens=rng.randrange(10**6),
            output_tokens=rng.randrange(10**5),
            cached_tokens=rng.randrange(10**6),
            ticket=rng.choice([ticket.id, None]),
        )
        for _ in range(300)
    ]
    record(tenant_a, events)
    ticket_cost = spend = Decimal(0)
    unpriced = 0
    for e in _in(events, start, end):
        price = price_of(e, plans if e["model"] == "gpt-4o" else [])
        if price is None:
            unpriced += e["input_tokens"] + e["output_tokens"] + e["cached_tokens"]
        elif e["ticket"] is None:
            spend += price
        else:
            ticket_cost += price

    result = activity(tenant=tenant_a, start=start, end=end, mode="cost")

    assert spend > 0 and ticket_cost > 0 and unpriced > 0
    assert result.cost.total == ticket_cost
    assert result.unattributed_spend.total == spend
    assert result.whole_bill.total == ticket_cost + spend
    assert sum(u.tokens.total for u in result.unpriced) == unpriced
    assert len(result.series) == (23 * 12 if zone == "America/New_York" else 24 * 12)


def test_cached_share_is_cached_over_all_input(world):
    tenant, events, _ = world
    result = activity(
        tenant=tenant, start=DAY_START, end=DAY_START + timedelta(days=4), mode="tokens"
    )
    cached = sum(e["cached_tokens"] for e in events)
    assert result.cached_share == Decimal(cached) / Decimal(
        cached + sum(e["input_tokens"] for e in events)
    )


def test_an_event_at_start_is_in_and_an_event_at_end_is_out(tenant_a):
    model_with_plan(tenant_a, "gpt-4o")
    start = datetime(2026, 5, 1, 10, 7, tzinfo=UTC)
    end = start + timedelta(hours=1)
    record(
        tenant_a, [event(start, "gpt-4o", input_tokens=7), event(end, "gpt-4o", input_tokens=11)]
    )
    result = activity(tenant=tenant_a, start=start, end=end, mode="tokens")
    assert result.tokens.input == 7


def test_another_tenants_usage_is_never_counted(world, tenant_b):
    result = activity(
        tenant=tenant_b, start=DAY_START, end=DAY_START + timedelta(days=4), mode="tokens"
    )
    assert result.requests.total == 5


def test_an_unknown_mode_is_refused():
    with pytest.raises(RangeRefused):
        activity(tenant=None, start=DAY_START, end=DAY_START + timedelta(days=1), mode="euros")


def test_day_buckets_in_a_quarter_hour_zone_are_exact(world):
    tenant, events, _ = world
    tenant.timezone = "Asia/Kathmandu"  # +05:45: no hour-grain rollups fit its days
    tenant.save()
    zone = ZoneInfo("Asia/Kathmandu")
    start = datetime(2026, 10, 23, 7, 30, tzinfo=zone)
    end = datetime(2026, 10, 26, 17, 0, tzinfo=zone)
    result = activity(tenant=tenant, start=start, end=end, mode="tokens", bucket="1d")
    expected = defaultdict(int)
    for e in _in(events, start, end):
        day = datetime.fromisoformat(e["occurred_at"]).astimezone(zone).date().isoformat()
        expected[day] += e["output_tokens"]
    assert {p.start.date().isoformat(): p.tokens.output for p in result.series} == expected


def test_the_top_ticket_asked_alone_is_the_one_of_highest_exact_cost(world):
    tenant, events, _ = world
    start, end = DAY_START + timedelta(hours=3), DAY_START + timedelta(days=3, hours=5)
    per_ticket = defaultdict(Decimal)
    for e in _in(events, start, end):
        price = price_of(e, PLANS[e["model"]]) if e["ticket"] else None
        if price is not None:
            per_ticket[e["ticket"]] += price
    best = max(per_ticket.items(), key=lambda item: item[1])
    result = activity(tenant=tenant, start=start, end=end, mode="cost", rows=1)
    assert [(t.ticket_id, t.cost.total) for t in result.top_tickets] == [best]
    assert "top_tickets" in result.more


def test_costs_beyond_a_bigint_of_picodollars_stay_exact(tenant_a):
    """A price near the highest allowed (99,999,999 USD per million tokens) times a few
    million tokens is more than 2^63 picodollars: summed again in numeric, still exact
    (here in the test's transaction: rolled back to a savepoint, and read again)."""
    _costs_beyond_a_bigint_stay_exact(tenant_a)


@pytest.mark.django_db(transaction=True)
def test_costs_beyond_a_bigint_stay_exact_outside_a_transaction_too(tenant_a):
    _costs_beyond_a_bigint_stay_exact(tenant_a)


def _costs_beyond_a_bigint_stay_exact(tenant_a):
    prices = ("99999999.999999", "1", "0.000001")
    model_with_plan(tenant_a, "gpt-huge", prices=prices)
    ticket = ticket_for(tenant_a)
    start = datetime(2026, 5, 1, 10, 7, tzinfo=UTC)
    events = [
        event(start + timedelta(minutes=5 * i), "gpt-huge", input_tokens=10**6 + i, ticket=t)
        for i, t in enumerate([ticket.id, None] * 30)
    ]
    record(tenant_a, events)
    plans = [(datetime(2000, 1, 1, tzinfo=UTC), prices)]
    on_ticket = sum(price_of(e, plans) for e in events if e["ticket"])
    unattributed = sum(price_of(e, plans) for e in events if not e["ticket"])
    assert on_ticket * 10**12 > 2**63

    result = activity(tenant=tenant_a, start=start, end=start + timedelta(days=1), mode="cost")

    assert result.cost.total == on_ticket
    assert result.unattributed_spend.total == unattributed
    assert sum(point.cost.total for point in result.series) == on_ticket
    assert [(t.ticket_id, t.cost.total) for t in result.top_tickets] == [(ticket.id, on_ticket)]
