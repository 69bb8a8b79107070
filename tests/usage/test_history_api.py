"""`GET /api/v1/usage/cycles/` and a cycle's CSV: the figures, who may see them, bad months,
and a query count that does not grow with the months of data."""

import csv
import io
from collections import defaultdict
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
import time_machine
from rest_framework.test import APIClient

from tests.factories import HostFactory
from tests.usage.usage_helpers import event, model_with_plan, record, scheduled_plan, ticket_for
from usage.selectors.history import usage_history

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 15, 10, 7, 30, tzinfo=UTC)
EARLY = datetime(2020, 1, 1, tzinfo=UTC)
CHANGE_AT = datetime(2026, 10, 14, 13, 45, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


def _client(user=None) -> APIClient:
    client = APIClient()
    if user is not None:
        client.force_authenticate(user)
    return client


@pytest.fixture
def usage_a(tenant_a):
    """Tenant A (Europe/Paris): October and November usage on two providers' models, three
    tickets and off-ticket usage, a price change in October, an unpriced model."""
    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    gpt = model_with_plan(tenant_a, "gpt-4o", ("2.5", "10", "1.25"), EARLY)
    scheduled_plan(gpt, ("5", "20", "0.625"), CHANGE_AT)
    claude = model_with_plan(tenant_a, "claude", ("3", "15", "0.3"), EARLY)
    claude.provider = "Anthropic"
    claude.save()
    model_with_plan(tenant_a, "llama", prices=None)
    tickets = [ticket_for(tenant_a, f"INC-{n}", f"Incident {n}") for n in range(3)]
    tickets.append(ticket_for(tenant_a, '=HYPERLINK("http://x")', "+cmd|' /C calc'!A0"))
    hosts = [HostFactory(tenant=tenant_a, name=name) for name in ("web-1", "db-1", "-rm")]
    start = datetime(2026, 9, 30, 22, 0, tzinfo=UTC)  # 1 October 00:00 in Paris
    events = [
        event(
            start + timedelta(hours=7 * n, minutes=n % 60, seconds=n),
            ("gpt-4o", "claude", "llama")[n % 3],
            input_tokens=100 + n,
            output_tokens=10 * (n % 7),
            cached_tokens=n % 5,
            ticket=None if n % 4 == 0 else tickets[n % len(tickets)].id,
            consumer=("agent-a", "agent-b", "@evil", "")[n % 4],
            **({} if n % 5 == 0 else {"host": hosts[n % 3].name}),
            succeeded=n % 6 != 0,
        )
        for n in range(150)
        if start + timedelta(hours=7 * n) < NOW - timedelta(minutes=30)
    ]
    events.append(event(NOW - timedelta(seconds=30), "gpt-4o", ticket=tickets[0].id))
    record(tenant_a, events)
    return tenant_a


def test_the_cycles_api_gives_the_history_figures_with_money_as_decimal_strings(usage_a, admin_a):
    response = _client(admin_a).get("/api/v1/usage/cycles/")

    assert response.status_code == 200
    body = response.json()
    assert body["zone"] == "Europe/Paris"
    assert [c["month"] for c in body["cycles"]][:3] == ["2026-11", "2026-10", "2026-09"]
    assert len(body["cycles"]) == 12
    history = usage_history(tenant=usage_a, now=NOW)
    for data, row in zip(body["cycles"], history.rows, strict=True):
        cycle = row.cycle
        assert data["tokens"]["total"] == cycle.tokens.total
        assert Decimal(data["cost"]["total"]) == cycle.cost.total
        assert Decimal(data["unattributed_spend"]["total"]) == cycle.unattributed_spend.total
        assert Decimal(data["whole_bill"]["total"]) == cycle.whole_bill.total
        assert data["unpriced_tokens"]["total"] == cycle.unpriced_tokens.total
        assert data["requests"]["failed"] == cycle.requests.failed
        assert data["changes"]["input_tokens"]["label"] == row.changes["input_tokens"].label
        assert data["export_url"] == f"/api/v1/usage/cycles/{cycle.month}/export.csv"
    november = body["cycles"][0]
    assert november["current"] is True
    assert november["end"] == "2026-11-15T11:07:30+01:00"
    assert isinstance(november["cost"]["total"], str) and november["cost"]["total"] != "0"
    assert body["cycles"][1]["changes"]["cost"]["label"] == "new"  # nothing in September


def test_members_get_403_and_anonymous_visitors_401(usage_a, member_a):
    for path in ("/api/v1/usage/cycles/", "/api/v1/usage/cycles/2026-10/export.csv"):
        assert _client(member_a).get(path).status_code == 403
        assert _client().get(path).status_code == 401


def test_an_administrator_of_another_tenant_sees_only_their_own_empty_cycles(usage_a, admin_b):
    body = _client(admin_b).get("/api/v1/usage/cycles/").json()
    assert all(c["tokens"]["total"] == 0 and c["requests"]["total"] == 0 for c in body["cycles"])
    csv_text = _client(admin_b).get("/api/v1/usage/cycles/2026-10/export.csv").content.decode()
    assert "gpt-4o" not in csv_text and "INC-" not in csv_text


@pytest.mark.parametrize(
    ("month", "status", "code"),
    [
        ("2026-13", 400, "invalid_month"),
        ("2026-00", 400, "invalid_month"),
        ("26-10", 400, "invalid_month"),
        ("2026-1", 400, "invalid_month"),
        ("october", 400, "invalid_month"),
        ("2026-12", 404, "cycle_not_found"),  # not begun
        ("1999-12", 404, "cycle_not_found"),
    ],
)
def test_a_bad_or_out_of_range_month_is_a_clear_json_error(usage_a, admin_a, month, status, code):
    response = _client(admin_a).get(f"/api/v1/usage/cycles/{month}/export.csv")
    assert response.status_code == status
    assert response.json()["code"] == code
    assert month in response.json()["detail"]


def _csv(client, month: str) -> list[dict]:
    response = client.get(f"/api/v1/usage/cycles/{month}/export.csv")
    assert response.status_code == 200
    assert response["Content-Type"] == "text/csv"
    assert f'filename="usage-cycle-{month}.csv"' in response["Content-Disposition"]
    return list(csv.DictReader(io.StringIO(response.content.decode())))


NUMBERS = ("input_tokens", "cached_tokens", "output_tokens", "total_tokens", "succeeded_requests",
           "failed_requests", "unpriced_tokens")  # fmt: skip
MONEY = ("ticket_cost_usd", "unattributed_spend_usd", "whole_bill_usd")


@pytest.mark.parametrize("month", ["2026-10", "2026-11"])
def test_the_cycle_csv_parses_and_every_dimension_adds_up_to_the_cycle(usage_a, admin_a, month):
    rows = _csv(_client(admin_a), month)
    cycle = next(
        r.cycle for r in usage_history(tenant=usage_a, now=NOW).rows if r.cycle.month == month
    )

    total = next(row for row in rows if row["dimension"] == "total")
    assert int(total["total_tokens"]) == cycle.tokens.total
    assert int(total["input_tokens"]) == cycle.tokens.input
    assert int(total["succeeded_requests"]) == cycle.requests.succeeded
    assert int(total["failed_requests"]) == cycle.requests.failed
    assert Decimal(total["ticket_cost_usd"]) == cycle.cost.total
    assert Decimal(total["unattributed_spend_usd"]) == cycle.unattributed_spend.total
    assert Decimal(total["whole_bill_usd"]) == cycle.whole_bill.total
    assert int(total["unpriced_tokens"]) == cycle.unpriced_tokens.total
    assert cycle.cost.total > 0 and cycle.unattributed_spend.total > 0
    assert cycle.unpriced_tokens.total > 0

    sums: dict[str, dict[str, Decimal]] = defaultdict(lambda: defaultdict(Decimal))
    for row in rows:
        for column in (*NUMBERS, *MONEY):
            if row[column] != "":
                sums[row["dimension"]][column] += Decimal(row[column])
    assert set(sums) == {"total", "model", "provider", "host", "consumer", "ticket"}
    for dimension, columns in sums.items():
        for column in (*NUMBERS, "whole_bill_usd"):
            assert columns[column] == Decimal(total[column]), (dimension, column)
        if dimension in ("host", "consumer"):  # no split of the bill: empty cells
            assert "ticket_cost_usd" not in columns and "unattributed_spend_usd" not in columns
        else:
            for column in MONEY:
                assert columns[column] == Decimal(total[column]), (dimension, column)
    hosts = {row["name"] for row in rows if row["dimension"] == "host"}
    assert hosts == {"web-1", "db-1", "'-rm", "(no host)"}
    consumers = {row["name"] for row in rows if row["dimension"] == "consumer"}
    assert consumers == {"agent-a", "agent-b", "'@evil", "(no consumer)"}
    providers = {row["name"] for row in rows if row["dimension"] == "provider"}
    assert providers == {"OpenAI", "Anthropic"}
    assert [row["name"] for row in rows if row["dimension"] == "ticket"][-1] == "(no ticket)"


def test_the_cycle_csv_neutralises_formulas_in_text_cells(usage_a, admin_a):
    rows = _csv(_client(admin_a), "2026-10")
    names = {row["name"] for row in rows}
    assert "'@evil" in names and "@evil" not in names
    assert '\'=HYPERLINK("http://x")' in names
    assert "'+cmd|' /C calc'!A0" in {row["detail"] for row in rows}


def test_the_cycle_csv_of_a_month_with_a_price_change_prices_each_side_exactly(usage_a, admin_a):
    rows = _csv(_client(admin_a), "2026-10")
    gpt = next(row for row in rows if row["dimension"] == "model" and row["name"] == "gpt-4o")
    october = next(
        r.cycle for r in usage_history(tenant=usage_a, now=NOW).rows if r.cycle.month == "2026-10"
    )
    assert Decimal(gpt["whole_bill_usd"]) > 0
    # By hand from the raw events of October in Paris, at the plan in force at each one.
    from usage.models import UsageEvent

    expected = Decimal(0)
    october_start, october_end = october.start, october.end
    for e in UsageEvent.objects.filter(
        tenant=usage_a,
        model__name="gpt-4o",
        occurred_at__gte=october_start,
        occurred_at__lt=october_end,
    ):
        prices = ("5", "20", "0.625") if e.occurred_at >= CHANGE_AT else ("2.5", "10", "1.25")
        p = [Decimal(x) for x in prices]
        expected += (
            e.input_tokens * p[0] + e.output_tokens * p[1] + e.cached_tokens * p[2]
        ) / 10**6
    assert Decimal(gpt["whole_bill_usd"]) == expected


def _spread_usage(tenant, *, months: int, last: datetime) -> None:
    """Usage in each of `months` months up to the one starting at `last`."""
    model_with_plan(tenant, "gpt-4o", ("1", "2", "0.5"), EARLY)
    ticket = ticket_for(tenant)
    first = last
    records = []
    for back in range(months):
        month_start = (first - timedelta(days=31 * back)).replace(day=1)
        records += [
            event(
                month_start + timedelta(days=d, hours=d),
                "gpt-4o",
                ticket=ticket.id if d % 2 else None,
            )
            for d in range(0, 28, 3)
            if month_start + timedelta(days=d, hours=d) < NOW - timedelta(hours=1)
        ]
    record(tenant, records)


@pytest.mark.parametrize(
    "path", ["/api/v1/usage/cycles/", "/api/v1/usage/cycles/2026-10/export.csv", "/usage/history/"]
)
def test_the_history_makes_as_many_queries_for_12_months_of_data_as_for_1(
    tenant_a, tenant_b, admin_a, admin_b, django_assert_num_queries, path
):
    _spread_usage(tenant_a, months=1, last=datetime(2026, 10, 1, tzinfo=UTC))
    _spread_usage(tenant_b, months=12, last=datetime(2026, 11, 1, tzinfo=UTC))
    client_a, client_b = APIClient(), APIClient()
    client_a.force_login(admin_a)
    client_b.force_login(admin_b)
    client_a.get(path)  # sessions, caches warmed alike
    client_b.get(path)
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as one:
        assert client_a.get(path).status_code == 200
    with django_assert_num_queries(len(one.captured_queries)):
        assert client_b.get(path).status_code == 200
