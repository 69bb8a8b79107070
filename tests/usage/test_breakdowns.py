"""Breakdowns (provider, host, consumers with cost, shares) and filters, against sums of the
raw events computed here by hand, in several zones and across daylight-saving changes."""

import random
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from tasks.services import host_delete, host_register, task_create
from tests.usage.usage_helpers import event, plan, price_of, record, scheduled_plan, ticket_for
from usage.buckets import RangeRefused
from usage.selectors import activity
from usage.selectors.figures import share_of
from usage.selectors.filters import activity_filter
from usage.services import llm_model_create

EPOCH = datetime(2000, 1, 1, tzinfo=UTC)
PRICE_CHANGE = datetime(2026, 10, 25, 9, 15, tzinfo=UTC)
PLANS = {
    "gpt-4o": [(EPOCH, ("2.5", "10", "1.25")), (PRICE_CHANGE, ("3", "12", "0.3"))],
    "gpt-mini": [(EPOCH, ("0.15", "0.6", "0.075"))],
    "claude": [(EPOCH, ("3", "15", "0.3"))],
    "local-llm": [],
}
PROVIDERS = {"gpt-4o": "OpenAI", "gpt-mini": "OpenAI", "claude": "Anthropic", "local-llm": "self"}
FIRST = datetime(2026, 10, 23, tzinfo=UTC)
CONSUMERS = ["", *(f"agent-{n:02}" for n in range(14))]  # more than ten: Show more


@pytest.fixture
def world(tenant_a, tenant_b):
    """600 events over 11 days (both autumn DST changes: Europe 25 Oct, US 1 Nov), on 4
    models of 3 providers, 10 hosts (the free tier's cap) named or taken from a task, 15
    consumers, 6 tickets."""
    models = {}
    for name, plans in PLANS.items():
        models[name] = llm_model_create(tenant=tenant_a, name=name, provider=PROVIDERS[name])
        for index, (effective_at, prices) in enumerate(plans):
            (scheduled_plan if index else plan)(models[name], prices, effective_at)
    hosts = [host_register(tenant=tenant_a, name=f"host-{n:02}") for n in range(10)]
    task = task_create(tenant=tenant_a, title="Patch", source="ui", host=hosts[3])
    tickets = [ticket_for(tenant_a, f"INC-{i}", f"Subject {i}") for i in range(6)]
    rng = random.Random(15)
    events = []
    for _ in range(600):
        at = FIRST + timedelta(seconds=rng.randrange(11 * 86400))
        ticket = rng.choice([None, *tickets])
        host = rng.choice([None, "task", *(h.name for h in hosts)])
        extra = {"task": task.id} if host == "task" and ticket is None else {}
        if host not in (None, "task"):
            extra["host"] = host
        events.append(
            event(
                at,
                rng.choice(list(PLANS)),
                input_tokens=rng.randrange(5000),
                output_tokens=rng.randrange(2000),
                cached_tokens=rng.randrange(3000),
                ticket=ticket.id if ticket else None,
                consumer=rng.choice(CONSUMERS),
                succeeded=rng.random() > 0.1,
                **extra,
            )
        )
        # What the service makes of it, for the sums below: the task's host when left out.
        events[-1]["expected_host"] = (
            hosts[3].id if "task" in extra else {h.name: h.id for h in hosts}.get(host)
        )
    for first in range(0, len(events), 500):
        record(tenant_a, [_as_sent(e) for e in events[first : first + 500]])
    model_with_plan_b = llm_model_create(tenant=tenant_b, name="gpt-4o", provider="OpenAI")
    plan(model_with_plan_b, ("1", "1", "1"), EPOCH)
    record(tenant_b, [event(FIRST + timedelta(hours=30), "gpt-4o") for _ in range(5)])
    return tenant_a, events, {h.id: h for h in hosts}


def _as_sent(e: dict) -> dict:
    return {key: value for key, value in e.items() if key != "expected_host"}


def _in(events, start, end):
    return [e for e in events if start <= datetime.fromisoformat(e["occurred_at"]) < end]


def _tokens(e) -> int:
    return e["input_tokens"] + e["output_tokens"] + e["cached_tokens"]


def _by_hand(events, key) -> dict:
    """{key: (tokens, whole-bill cost, unpriced tokens)} summed event by event."""
    sums: dict = defaultdict(lambda: [0, Decimal(0), 0])
    for e in events:
        row = sums[key(e)]
        row[0] += _tokens(e)
        price = price_of(e, PLANS[e["model"]])
        if price is None:
            row[2] += _tokens(e)
        else:
            row[1] += price
    return {k: tuple(v) for k, v in sums.items()}


def _whole_bill(events) -> Decimal:
    prices = (price_of(e, PLANS[e["model"]]) for e in events)
    return sum((p for p in prices if p is not None), Decimal(0))


def _shares(expected: dict, events, mode: str) -> dict:
    total_tokens, bill = sum(_tokens(e) for e in events), _whole_bill(events)
    return {
        key: share_of(cost, bill) if mode == "cost" else share_of(tokens, total_tokens)
        for key, (tokens, cost, _) in expected.items()
    }


# (zone, start, end): local midnights on DST days, off-grain edges, a quarter-hour zone.
RANGES = [
    ("Europe/Paris", datetime(2026, 10, 25), datetime(2026, 10, 26)),  # a 25-hour day
    ("America/New_York", datetime(2026, 11, 1), datetime(2026, 11, 2)),  # its 25-hour day
    ("America/New_York", datetime(2026, 10, 24, 5, 7, 13), datetime(2026, 11, 2, 17, 52)),
    ("Asia/Kathmandu", datetime(2026, 10, 24, 0, 0), datetime(2026, 10, 31, 0, 0)),
]


@pytest.mark.parametrize(("zone", "start", "end"), RANGES)
def test_provider_host_and_consumer_breakdowns_equal_the_events_summed_by_hand(
    world, zone, start, end
):
    tenant, events, hosts = world
    tenant.timezone = zone
    tenant.save()
    start, end = start.replace(tzinfo=ZoneInfo(zone)), end.replace(tzinfo=ZoneInfo(zone))
    chosen = _in(events, start, end)
    keys = {
        "by_provider": (lambda e: PROVIDERS[e["model"]], lambda r: r.provider),
        "by_host": (lambda e: e["expected_host"], lambda r: r.host_id),
        "top_consumers": (lambda e: e["consumer"], lambda r: r.consumer),
        "by_model": (lambda e: e["model"], lambda r: r.name),
    }
    for mode in ("tokens", "cost"):
        result = activity(tenant=tenant, start=start, end=end, mode=mode, rows=1000)
        assert result.whole_bill.total == _whole_bill(chosen)
        for name, (event_key, row_key) in keys.items():
            expected = _by_hand(chosen, event_key)
            rows = getattr(result, name)
            if name != "by_model":  # the model rows keep their own cost columns
                assert {
                    row_key(r): (r.tokens.total, r.cost.total, r.unpriced_tokens.total)
                    for r in rows
                } == expected, (mode, name)
            assert {row_key(r): r.share for r in rows} == _shares(expected, chosen, mode)
        host_names = {r.host_id: r.name for r in result.by_host}
        assert host_names == {h: hosts[h].name if h else "" for h in host_names}
        assert result.more == ()


def test_a_host_row_is_the_task_host_when_the_event_named_none(world):
    tenant, events, hosts = world
    by_task = [e for e in events if "task" in e]
    assert by_task and all(e["expected_host"] for e in by_task)
    result = activity(tenant=tenant, start=FIRST, end=FIRST + timedelta(days=11), mode="tokens")
    [host_3] = [r for r in result.by_host if r.name == "host-03"]
    assert host_3.tokens.total == sum(
        _tokens(e) for e in events if e["expected_host"] == host_3.host_id
    )


def test_the_hosts_are_named_in_the_activitys_one_batch(world):
    tenant, _, hosts = world
    with CaptureQueriesContext(connection) as captured:
        result = activity(
            tenant=tenant, start=FIRST, end=FIRST + timedelta(days=11), mode="cost", rows=100
        )
    # The models and their plans, then every statement (around them, the test's savepoint).
    reads = [q["sql"] for q in captured if "SAVEPOINT" not in q["sql"]]
    assert len(reads) == 2
    named = {r.host_id: r.name for r in result.by_host if r.host_id is not None}
    assert len(named) == 10 and named == {h: hosts[h].name for h in named}


def test_rows_rank_by_tokens_or_whole_bill_and_more_names_the_longer_tables(world):
    tenant, events, _ = world
    start, end = FIRST, FIRST + timedelta(days=11)
    for mode in ("tokens", "cost"):
        ten = activity(tenant=tenant, start=start, end=end, mode=mode)
        twenty = activity(tenant=tenant, start=start, end=end, mode=mode, rows=20)
        assert len(ten.top_consumers) == 10 and len(twenty.top_consumers) == 15
        assert set(ten.more) == {"by_host", "top_consumers"}  # 11 host rows, 15 consumers
        assert twenty.more == ()
        assert twenty.top_consumers[:10] == ten.top_consumers  # the next ten follow on
        rank = [r.cost.total if mode == "cost" else r.tokens.total for r in twenty.top_consumers]
        assert rank == sorted(rank, reverse=True)
        shares = [r.share for r in twenty.by_host]
        assert abs(sum(shares) - 1) <= Decimal("0.0001") * len(shares)


FILTERS = [
    {"model": "gpt-4o"},
    {"consumer": "agent-03"},
    {"host": "host-03"},
    {"model": "claude", "host": "host-07"},
    {"consumer": "agent-05", "model": "local-llm"},
]


def _matches(e: dict, filters: dict, hosts: dict) -> bool:
    return (
        e["model"] == filters.get("model", e["model"])
        and e["consumer"] == filters.get("consumer", e["consumer"])
        and (
            "host" not in filters
            or (e["expected_host"] and hosts[e["expected_host"]].name == filters["host"])
        )
    )


@pytest.mark.parametrize("filters", FILTERS)
@pytest.mark.parametrize(
    ("zone", "start", "end"), [RANGES[0], ("America/New_York", *RANGES[2][1:])]
)
def test_a_filter_narrows_every_figure_to_the_matching_events(world, filters, zone, start, end):
    tenant, events, hosts = world
    tenant.timezone = zone
    tenant.save()
    start, end = start.replace(tzinfo=ZoneInfo(zone)), end.replace(tzinfo=ZoneInfo(zone))
    chosen = [e for e in _in(events, start, end) if _matches(e, filters, hosts)]
    narrowed = activity_filter(tenant=tenant, **filters)
    for mode in ("tokens", "cost"):
        result = activity(
            tenant=tenant, start=start, end=end, mode=mode, narrowed=narrowed, rows=100
        )
        assert result.tokens.total == sum(_tokens(e) for e in chosen)
        assert sum(p.tokens.total for p in result.series) == result.tokens.total
        assert result.requests.total == len(chosen)
        on_ticket = [e for e in chosen if e["ticket"]]
        assert result.cost.total == _whole_bill(on_ticket)
        assert result.whole_bill.total == _whole_bill(chosen)
        assert {r.consumer: r.tokens.total for r in result.top_consumers} == {
            k: v[0] for k, v in _by_hand(chosen, lambda e: e["consumer"]).items()
        }
        assert {r.host_id: r.cost.total for r in result.by_host} == {
            k: v[1] for k, v in _by_hand(chosen, lambda e: e["expected_host"]).items()
        }
        expected_tickets = _by_hand(on_ticket, lambda e: e["ticket"])
        assert {t.ticket_id: t.cost.total for t in result.top_tickets} == {
            k: v[1] for k, v in expected_tickets.items() if v[1] or not v[2]
        }
        assert result.narrowed.as_params() == filters


def test_an_unknown_model_or_host_is_refused_and_an_unknown_consumer_matches_nothing(world):
    tenant, _, _ = world
    with pytest.raises(RangeRefused, match="No model named 'gpt-9'"):
        activity_filter(tenant=tenant, model="gpt-9")
    with pytest.raises(RangeRefused, match="No host named 'nowhere'") as refused:
        activity_filter(tenant=tenant, host="nowhere")
    assert refused.value.code == "invalid_filter"
    narrowed = activity_filter(tenant=tenant, consumer="nobody")
    result = activity(
        tenant=tenant, start=FIRST, end=FIRST + timedelta(days=11), mode="cost", narrowed=narrowed
    )
    assert result.tokens.total == 0 and result.top_consumers == () and result.by_host == ()


def test_a_deleted_hosts_usage_moves_to_no_host_in_the_breakdown(world):
    tenant, events, hosts = world
    start, end = FIRST, FIRST + timedelta(days=11)
    before = activity(tenant=tenant, start=start, end=end, mode="tokens", rows=100)
    gone = next(h for h in hosts.values() if h.name == "host-05")
    gone_id = gone.id
    moved = next(r for r in before.by_host if r.host_id == gone_id).tokens.total
    no_host = next(r for r in before.by_host if r.host_id is None).tokens.total

    host_delete(host=gone)

    after = activity(tenant=tenant, start=start, end=end, mode="tokens", rows=100)
    assert gone_id not in {r.host_id for r in after.by_host}
    assert next(r for r in after.by_host if r.host_id is None).tokens.total == no_host + moved
    assert after.tokens == before.tokens
