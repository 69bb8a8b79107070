"""The history's cycles (SPEC §5.5) against sums computed by hand from the raw events."""

from collections import defaultdict
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

import pytest
import time_machine

from tasks.models import TaskCounter
from tests.factories import TenantFactory
from tests.usage.usage_helpers import (
    event,
    model_with_plan,
    price_of,
    record,
    scheduled_plan,
    ticket_for,
)
from usage.selectors.history import change_between, usage_history
from usage.task_counts import TaskCountSnapshot

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 15, 10, 7, 30, tzinfo=UTC)
PRICES = ("3", "15", "0.3")
EARLY = datetime(2020, 1, 1, tzinfo=UTC)
# The price change, inside August 2026 (on a quarter hour).
CHANGE_AT = datetime(2026, 8, 14, 13, 45, tzinfo=UTC)
NEW_PRICES = ("6", "30", "0.15")


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _instants(zone: ZoneInfo) -> list[datetime]:
    """Times that test the month edges in `zone`: just either side of each local midnight
    that opens a month, the DST change of 25 October 2026 (Europe), a quiet month
    (June 2026 has nothing), the price change, and a minute before now (a raw edge)."""
    instants = []
    for month in (1, 2, 3, 4, 5, 7, 8, 9, 10, 11):
        midnight = datetime(2026, month, 1, tzinfo=zone).astimezone(UTC)
        if month != 7:  # nothing in the last hours of June: June stays empty
            instants += [midnight - timedelta(seconds=1), midnight - timedelta(minutes=50)]
        instants += [
            midnight,
            midnight + timedelta(minutes=7),
            midnight + timedelta(days=9, hours=5),
        ]
    instants = [
        i
        for i in instants
        if not datetime(2026, 6, 1, tzinfo=zone) <= i < datetime(2026, 7, 1, tzinfo=zone)
    ]
    instants += [
        datetime(2026, 10, 25, 0, 59, 59, tzinfo=UTC),  # before the European change
        datetime(2026, 10, 25, 1, 0, tzinfo=UTC),
        datetime(2026, 10, 25, 1, 30, tzinfo=UTC),
        CHANGE_AT - timedelta(seconds=1),
        CHANGE_AT,
        CHANGE_AT + timedelta(hours=3, minutes=20),
        NOW - timedelta(minutes=1),
        NOW - timedelta(seconds=10),
    ]
    return sorted(instants)


def _load(tenant) -> tuple[list[dict], dict[str, list]]:
    """Events on a priced model (with a price change in August), on a model priced only from
    September, and on one never priced; on a ticket or not, some failed."""
    priced = model_with_plan(tenant, "gpt-4o", PRICES, EARLY)
    scheduled_plan(priced, NEW_PRICES, CHANGE_AT)
    late = model_with_plan(tenant, "claude", ("1", "2", "0.5"), datetime(2026, 9, 1, tzinfo=UTC))
    model_with_plan(tenant, "llama", prices=None)
    plans = {
        priced.name: [(EARLY, PRICES), (CHANGE_AT, NEW_PRICES)],
        late.name: [(datetime(2026, 9, 1, tzinfo=UTC), ("1", "2", "0.5"))],
        "llama": [],
    }
    ticket = ticket_for(tenant)
    events = []
    for n, at in enumerate(_instants(tenant.zone)):
        events.append(
            event(
                at,
                ("gpt-4o", "claude", "llama")[n % 3],
                input_tokens=1000 + 7 * n,
                output_tokens=300 + n,
                cached_tokens=50 * (n % 4),
                ticket=ticket.id if n % 2 else None,
                consumer=f"agent-{n % 3}",
                succeeded=n % 5 != 0,
            )
        )
    record(tenant, events)
    return events, plans


def _by_hand(events: list[dict], plans: dict, zone: ZoneInfo) -> dict[str, dict]:
    """Each local month's figures, from the raw events."""
    months: dict[str, dict] = defaultdict(
        lambda: {
            "input": 0,
            "cached": 0,
            "output": 0,
            "cost": Decimal(0),
            "unattributed": Decimal(0),
            "unpriced": 0,
            "succeeded": 0,
            "failed": 0,
        }
    )
    for record_ in events:
        at = datetime.fromisoformat(record_["occurred_at"])
        month = months[at.astimezone(zone).strftime("%Y-%m")]
        month["input"] += record_["input_tokens"]
        month["cached"] += record_["cached_tokens"]
        month["output"] += record_["output_tokens"]
        month["succeeded" if record_["succeeded"] else "failed"] += 1
        cost = price_of(record_, plans[record_["model"]])
        tokens = record_["input_tokens"] + record_["cached_tokens"] + record_["output_tokens"]
        if cost is None:
            month["unpriced"] += tokens
        elif record_.get("ticket") is not None:
            month["cost"] += cost
        else:
            month["unattributed"] += cost
    return months


def _as_figures(cycle) -> dict:
    return {
        "input": cycle.tokens.input,
        "cached": cycle.tokens.cached,
        "output": cycle.tokens.output,
        "cost": cycle.cost.total,
        "unattributed": cycle.unattributed_spend.total,
        "unpriced": cycle.unpriced_tokens.total,
        "succeeded": cycle.requests.succeeded,
        "failed": cycle.requests.failed,
    }


@pytest.mark.parametrize("zone", ["Europe/Paris", "Asia/Kolkata", "America/New_York"])
def test_each_cycle_holds_exactly_the_raw_events_of_its_local_month(zone):
    tenant = TenantFactory(timezone=zone)
    events, plans = _load(tenant)
    expected = _by_hand(events, plans, tenant.zone)

    history = usage_history(tenant=tenant, now=NOW)

    months = [row.cycle.month for row in history.rows]
    assert months == [f"2026-{m:02d}" for m in range(11, 0, -1)] + ["2025-12"]
    for row in history.rows:
        empty = _by_hand([], plans, tenant.zone)["-"]
        assert _as_figures(row.cycle) == expected.get(row.cycle.month, empty), row.cycle.month
    # Every event is in one cycle: none lost or counted twice at the month edges.
    total = sum(row.cycle.requests.total for row in history.rows)
    assert total == len(events)


def test_the_cycle_of_the_dst_change_is_the_local_month_of_31_days_and_one_hour():
    tenant = TenantFactory(timezone="Europe/Paris")
    history = usage_history(tenant=tenant, now=NOW)
    october = next(row.cycle for row in history.rows if row.cycle.month == "2026-10")
    assert october.start.isoformat() == "2026-10-01T00:00:00+02:00"
    assert october.end.isoformat() == "2026-11-01T00:00:00+01:00"
    assert october.end.astimezone(UTC) - october.start.astimezone(UTC) == timedelta(
        days=31, hours=1
    )


def test_the_month_of_a_price_change_is_priced_exactly_on_either_side_of_it():
    tenant = TenantFactory(timezone="UTC")
    model = model_with_plan(tenant, "gpt-4o", ("1", "1", "1"), EARLY)
    scheduled_plan(model, ("3", "3", "3"), CHANGE_AT)
    ticket = ticket_for(tenant)
    record(
        tenant,
        [
            event(CHANGE_AT - timedelta(microseconds=1), "gpt-4o", input_tokens=1,
                  output_tokens=0, cached_tokens=0, ticket=ticket.id),
            event(CHANGE_AT, "gpt-4o", input_tokens=1, output_tokens=0, cached_tokens=0,
                  ticket=ticket.id),
            event(CHANGE_AT + timedelta(days=3), "gpt-4o", input_tokens=7, output_tokens=0,
                  cached_tokens=0),
        ],
    )  # fmt: skip
    august = next(
        row.cycle
        for row in usage_history(tenant=tenant, now=NOW).rows
        if row.cycle.month == "2026-08"
    )
    assert august.cost.total == Decimal("0.000004")  # 1 token at $1/M + 1 at $3/M
    assert august.unattributed_spend.total == Decimal("0.000021")
    assert august.whole_bill.total == Decimal("0.000025")


def test_a_month_with_no_usage_shows_zeros_and_no_change_or_new():
    tenant = TenantFactory(timezone="UTC")
    model_with_plan(tenant, "gpt-4o", PRICES, EARLY)
    record(tenant, [event(datetime(2026, 7, 3, tzinfo=UTC), "gpt-4o")])
    rows = {row.cycle.month: row for row in usage_history(tenant=tenant, now=NOW).rows}

    june, july, august = rows["2026-06"], rows["2026-07"], rows["2026-08"]
    assert june.cycle.tokens.total == 0 and june.cycle.requests.total == 0
    assert june.cycle.cost.total == 0 and june.cycle.whole_bill.total == 0
    assert june.changes["input_tokens"].label == "—"  # none in May either
    assert july.changes["input_tokens"].label == "new"  # none in June
    assert july.changes["input_tokens"].difference == 1000
    assert august.changes["input_tokens"].label == "-100.0 %"


def test_the_current_cycle_runs_to_now_and_counts_the_last_minutes():
    tenant = TenantFactory(timezone="Europe/Paris")
    model_with_plan(tenant, "gpt-4o", PRICES, EARLY)
    record(tenant, [event(NOW - timedelta(seconds=5), "gpt-4o", ticket=ticket_for(tenant).id)])
    current = usage_history(tenant=tenant, now=NOW).rows[0].cycle

    assert current.current and current.month == "2026-11"
    assert current.start.isoformat() == "2026-11-01T00:00:00+01:00"
    assert current.end == NOW
    assert current.tokens.total == 1500
    assert current.cost.total == Decimal("0.00609")  # 1000 * 3 + 200 * 15 + 300 * 0.3, per M


def test_a_change_is_a_percent_of_the_previous_cycle_and_never_divides_by_zero():
    assert change_between(1500, 1000).label == "+50.0 %"
    assert change_between(1, 3).label == "-66.7 %"
    assert change_between(Decimal("0.5"), Decimal("0.25")).label == "+100.0 %"
    assert change_between(7, 0).label == "new"
    assert change_between(7, 0).percent is None
    assert change_between(0, 0).label == "—"
    assert change_between(None, 4).label == "—"
    assert change_between(4, 4).label == "+0.0 %"


def _snapshot(tenant, day: date, used: int) -> None:
    TaskCountSnapshot.objects.create(
        tenant=tenant,
        day=day,
        tasks_used=used,
        schedule_ticks_created=0,
        taken_at=datetime.combine(day, datetime.min.time(), tzinfo=UTC),
    )


def test_tasks_created_come_from_the_daily_snapshots_of_the_lifetime_counter():
    tenant = TenantFactory(timezone="Europe/Paris")
    _snapshot(tenant, date(2026, 9, 20), 100)  # before: unknown (the counter was already 100)
    _snapshot(tenant, date(2026, 10, 1), 130)
    _snapshot(tenant, date(2026, 10, 11), 150)
    # None from 21 October to 10 November: its 20 tasks are spread over those 20 days.
    _snapshot(tenant, date(2026, 10, 21), 170)
    _snapshot(tenant, date(2026, 11, 10), 190)
    TaskCounter.objects.filter(tenant=tenant).update(used=197)
    rows = {row.cycle.month: row for row in usage_history(tenant=tenant, now=NOW).rows}

    assert rows["2026-09"].cycle.tasks_created is None  # the snapshots start on the 20th
    assert rows["2026-10"].cycle.tasks_created == 40 + 11  # 11 of the 20 spread over 20 days
    assert rows["2026-11"].cycle.tasks_created == 9 + 7  # the rest, and today so far
    assert rows["2026-10"].changes["tasks_created"].label == "—"  # September unknown
    assert rows["2026-11"].changes["tasks_created"].label == "-68.6 %"


def test_a_tenant_whose_first_snapshot_is_zero_created_no_task_before_it():
    tenant = TenantFactory(timezone="UTC")
    _snapshot(tenant, date(2026, 11, 3), 0)
    TaskCounter.objects.filter(tenant=tenant).update(used=4)
    rows = {row.cycle.month: row for row in usage_history(tenant=tenant, now=NOW).rows}
    assert rows["2026-11"].cycle.tasks_created == 4
    assert rows["2026-01"].cycle.tasks_created == 0
    assert rows["2026-11"].changes["tasks_created"].label == "new"


def test_the_history_reads_whole_months_from_the_rollups_not_the_events():
    from usage.models import UsageEvent

    tenant = TenantFactory(timezone="Europe/Paris")
    events, plans = _load(tenant)
    before = [_as_figures(row.cycle) for row in usage_history(tenant=tenant, now=NOW).rows]
    # Only the partial grains before now are read raw: every other event may go.
    UsageEvent.objects.filter(occurred_at__lt=NOW - timedelta(minutes=10)).delete()

    after = [_as_figures(row.cycle) for row in usage_history(tenant=tenant, now=NOW).rows]
    assert after == before
    assert before[1]["input"] > 0  # October had usage
