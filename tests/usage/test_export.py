"""GET /api/v1/usage/export.csv: every event of the range, streamed, with its exact cost."""

import csv
import io
import random
import tracemalloc
from datetime import UTC, datetime, timedelta
from decimal import Decimal

from django.db import connection

from tests.usage.usage_helpers import (
    EPOCH,
    event,
    model_with_plan,
    plan,
    record,
    scheduled_plan,
    ticket_for,
)
from usage.api.export import EXPORT_COLUMNS, export_rows
from usage.models import UsageEvent
from usage.selectors import activity
from usage.services import llm_model_create

AT = datetime(2026, 11, 1, 10, 0, tzinfo=UTC)


def test_the_export_streams_the_range_with_cost_or_why_there_is_none(
    admin_a, tenant_a, tenant_b, api_client_for
):
    model_with_plan(tenant_a, "gpt-4o", prices=("2.5", "10", "1.25"))
    model_with_plan(tenant_a, "local", prices=None)
    model_with_plan(tenant_b, "gpt-4o")
    ticket = ticket_for(tenant_a)
    record(
        tenant_a,
        [
            event(
                AT,
                "gpt-4o",
                request_id="priced",
                input_tokens=1,
                output_tokens=1,
                cached_tokens=1,
                ticket=ticket.id,
            ),
            event(AT + timedelta(minutes=1), "local", request_id="unpriced", ticket=ticket.id),
            event(AT + timedelta(minutes=2), "gpt-4o", request_id="unattributed", consumer="alice"),
            event(AT + timedelta(hours=2), "gpt-4o", request_id="after-the-end"),
        ],
    )
    record(tenant_b, [event(AT, "gpt-4o", request_id="other-tenant")])
    response = api_client_for(admin_a).get(
        "/api/v1/usage/export.csv",
        {"start": AT.isoformat(), "end": (AT + timedelta(hours=2)).isoformat()},
    )
    assert response.status_code == 200
    assert response.streaming
    assert response["Content-Type"] == "text/csv"
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["request_id"], r["cost_usd"], r["cost_status"]) for r in rows] == [
        ("priced", "0.00001375", "attributed"),
        ("unpriced", "", "unpriced"),
        ("unattributed", "0.004875", "unattributed"),
    ]
    assert rows[2]["consumer"] == "alice"


def test_the_export_streams_with_debug_on_as_in_the_demo(
    admin_a, tenant_a, api_client_for, settings
):
    """DEBUG=True wraps the cursor in Django's debug wrapper, whose copy() takes no parameters."""
    settings.DEBUG = True
    model_with_plan(tenant_a, "gpt-4o")
    record(tenant_a, [event(AT, "gpt-4o", request_id="in-the-demo")])
    response = api_client_for(admin_a).get(
        "/api/v1/usage/export.csv",
        {"start": AT.isoformat(), "end": (AT + timedelta(hours=1)).isoformat()},
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [r["request_id"] for r in rows] == ["in-the-demo"]


def test_an_export_range_ending_before_it_starts_is_a_400(admin_a, api_client_for):
    response = api_client_for(admin_a).get(
        "/api/v1/usage/export.csv", {"start": "2026-11-02T00:00:00Z", "end": "2026-11-01T00:00:00Z"}
    )
    assert response.status_code == 400
    assert response.json()["code"] == "invalid_range"


def test_text_cells_that_a_spreadsheet_would_run_as_formulas_are_defused(
    admin_a, tenant_a, api_client_for
):
    model_with_plan(tenant_a, '=HYPERLINK("http://x")', prices=("1", "1", "1"))
    ticket = ticket_for(tenant_a)
    name = '=HYPERLINK("http://x")'
    record(
        tenant_a,
        [
            event(AT, name, request_id="+1+2", consumer="=cmd|' /C calc'!A0", ticket=ticket.id),
            event(AT + timedelta(minutes=1), name, request_id="@SUM(1)", consumer="-2"),
            event(AT + timedelta(minutes=2), name, request_id="\tx", consumer="\rx"),
            event(AT + timedelta(minutes=3), name, request_id="plain", consumer='a,b\n"c"'),
        ],
    )
    response = api_client_for(admin_a).get(
        "/api/v1/usage/export.csv",
        {"start": AT.isoformat(), "end": (AT + timedelta(hours=1)).isoformat()},
    )
    rows = list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))
    assert [(r["request_id"], r["consumer"]) for r in rows] == [
        ("'+1+2", "'=cmd|' /C calc'!A0"),
        ("'@SUM(1)", "'-2"),
        ("'\tx", "'\rx"),
        ("plain", 'a,b\n"c"'),
    ]
    assert {r["model"] for r in rows} == {'\'=HYPERLINK("http://x")'}
    # Numbers and times are left as they are.
    assert rows[0]["occurred_at"] == "2026-11-01T10:00:00+00:00"
    assert (rows[0]["input_tokens"], rows[0]["cost_usd"]) == ("1000", "0.0015")


def _export(client, start, end) -> list[dict]:
    response = client.get(
        "/api/v1/usage/export.csv", {"start": start.isoformat(), "end": end.isoformat()}
    )
    assert response.status_code == 200
    return list(csv.DictReader(io.StringIO(b"".join(response.streaming_content).decode())))


def test_the_csv_parses_and_its_totals_equal_the_activity_totals(admin_a, tenant_a, api_client_for):
    tenant_a.timezone = "America/New_York"
    tenant_a.save()
    model_with_plan(tenant_a, "gpt-4o", prices=("2.5", "10", "1.25"))
    model_with_plan(tenant_a, "local", prices=None)
    ticket = ticket_for(tenant_a)
    rng = random.Random(4)
    start = datetime(2026, 3, 8, 5, 0, tzinfo=UTC)  # midnight in New York, a 23-hour day
    end = start + timedelta(hours=23)
    record(
        tenant_a,
        [
            event(
                start + timedelta(microseconds=rng.randrange(23 * 3600 * 10**6)),
                rng.choice(["gpt-4o", "local"]),
                input_tokens=rng.randrange(10**6),
                output_tokens=rng.randrange(10**5),
                cached_tokens=rng.randrange(10**6),
                ticket=rng.choice([ticket.id, None]),
                consumer=rng.choice(["agent-1", "", "-x"]),
                succeeded=rng.random() > 0.2,
            )
            for _ in range(200)
        ],
    )
    rows = _export(api_client_for(admin_a), start, end)
    result = activity(tenant=tenant_a, start=start, end=end, mode="cost")

    assert list(rows[0]) == EXPORT_COLUMNS
    assert len(rows) == result.requests.total == 200
    times = [datetime.fromisoformat(r["occurred_at"]) for r in rows]
    assert times == sorted(times) and start <= times[0] and times[-1] < end
    assert {t.utcoffset() for t in times} == {timedelta(hours=-5), timedelta(hours=-4)}
    stored = UsageEvent.objects.filter(tenant=tenant_a).order_by("occurred_at", "id")
    assert [r["occurred_at"] for r in rows] == [
        e.occurred_at.astimezone(tenant_a.zone).isoformat() for e in stored
    ]

    def cost(status: str) -> Decimal:
        return sum((Decimal(r["cost_usd"]) for r in rows if r["cost_status"] == status), Decimal(0))

    assert cost("attributed") == result.cost.total
    assert cost("unattributed") == result.unattributed_spend.total
    assert cost("attributed") + cost("unattributed") == result.whole_bill.total
    assert {r["cost_usd"] for r in rows if r["cost_status"] == "unpriced"} == {""}
    unpriced = [r for r in rows if r["cost_status"] == "unpriced"]
    assert sum(
        int(r[f"{kind}_tokens"]) for r in unpriced for kind in ("input", "output", "cached")
    ) == sum(u.tokens.total for u in result.unpriced)
    for kind in ("input", "output", "cached"):
        assert sum(int(r[f"{kind}_tokens"]) for r in rows) == getattr(result.tokens, kind)
    assert sum(r["succeeded"] == "false" for r in rows) == result.requests.failed
    assert {r["consumer"] for r in rows} == {"agent-1", "", "'-x"}


def _insert_events(tenant, model, count: int) -> None:
    """`count` events a second apart from AT, inserted in bulk (the service is slower)."""
    rows = [
        (tenant.id, f"r{i}", AT + timedelta(seconds=i), model.id, 1000, 200, 300, f"agent-{i}")
        for i in range(count)
    ]
    with connection.cursor() as cursor:
        cursor.executemany(
            "INSERT INTO usage_usageevent (tenant_id, request_id, occurred_at, model_id, "
            "input_tokens, output_tokens, cached_tokens, consumer, succeeded, received_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, true, now())",
            rows,
        )


def test_the_export_streams_many_events_in_bounded_memory(admin_a, tenant_a):
    _insert_events(tenant_a, model_with_plan(tenant_a, "gpt-4o"), 20_000)
    tracemalloc.start()
    size = lines = 0
    for block in export_rows(tenant=tenant_a, start=AT, end=AT + timedelta(days=1)):
        size += len(block)
        lines += block.count(b"\n")
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()

    assert lines == 20_001
    assert size > 1_000_000
    assert peak < 1_000_000  # the CSV is over a megabyte; the export holds a block at a time


def _export_bytes(tenant, start: datetime, end: datetime) -> bytes:
    return b"".join(export_rows(tenant=tenant, start=start, end=end))


def test_the_export_writes_exactly_these_bytes(tenant_a):
    """Pins the whole CSV, so a faster form of the SQL cannot change a byte: times across
    New York's fall-back hour (and at +05:45), with and without microseconds, formulas in
    every text column, an empty consumer, a price change, an unpriced model, a zero cost."""
    tenant_a.timezone = "America/New_York"
    tenant_a.save()
    gpt = model_with_plan(tenant_a, "gpt-4o", prices=("2.5", "10", "1.25"))
    change = datetime(2026, 11, 1, 6, 15, tzinfo=UTC)
    scheduled_plan(gpt, ("5", "20", "0.625"), change)
    formula = llm_model_create(tenant=tenant_a, name="+SUM(A1)", provider="@vendor")
    plan(formula, ("1", "1", "1"), EPOCH)
    llm_model_create(tenant=tenant_a, name="local", provider="self-hosted")
    ticket = ticket_for(tenant_a)
    dst_end = datetime(2026, 11, 1, 6, 0, tzinfo=UTC)  # 02:00 EDT becomes 01:00 EST
    tokens = {"input_tokens": 1000, "output_tokens": 200, "cached_tokens": 300}
    record(
        tenant_a,
        [
            event(
                dst_end - timedelta(minutes=30),
                "gpt-4o",
                request_id="r1",
                **tokens,
                ticket=ticket.id,
                consumer="=cmd|' /C calc'!A0",
            ),
            event(
                dst_end - timedelta(microseconds=1),
                "gpt-4o",
                request_id="r,2",
                **tokens,
                consumer="",
            ),
            event(
                dst_end,
                "gpt-4o",
                request_id='say "hi"',
                **tokens,
                consumer="agent-1",
                succeeded=False,
            ),
            event(
                dst_end + timedelta(minutes=30, microseconds=500000),
                "gpt-4o",
                request_id="-r4",
                **tokens,
                ticket=ticket.id,
            ),
            event(
                change + timedelta(seconds=1),
                "gpt-4o",
                request_id="r5",
                **tokens,
                consumer='a,b\n"c"',
            ),
            event(
                change + timedelta(seconds=2, microseconds=123456),
                "+SUM(A1)",
                request_id="r6",
                input_tokens=0,
                output_tokens=0,
                cached_tokens=0,
            ),
            event(
                change + timedelta(seconds=3), "local", request_id="r7", **tokens, ticket=ticket.id
            ),
            event(change + timedelta(seconds=4), "local", request_id="r8", **tokens),
        ],
    )
    start, end = dst_end - timedelta(hours=1), dst_end + timedelta(hours=1)
    t = ticket.id
    header = ",".join(EXPORT_COLUMNS) + "\n"
    rows_new_york = (
        f"2026-11-01T01:30:00-04:00,r1,gpt-4o,OpenAI,1000,200,300,{t},,'=cmd|' /C calc'!A0,"
        "true,0.004875,attributed\n"
        '2026-11-01T01:59:59.999999-04:00,"r,2",gpt-4o,OpenAI,1000,200,300,,,,'
        "true,0.004875,unattributed\n"
        '2026-11-01T01:00:00-05:00,"say ""hi""",gpt-4o,OpenAI,1000,200,300,,,agent-1,'
        "false,0.004875,unattributed\n"
        '2026-11-01T01:15:01-05:00,r5,gpt-4o,OpenAI,1000,200,300,,,"a,b\n""c""",'
        "true,0.0091875,unattributed\n"
        "2026-11-01T01:15:02.123456-05:00,r6,'+SUM(A1),'@vendor,0,0,0,,,,"
        "true,0,unattributed\n"
        f"2026-11-01T01:15:03-05:00,r7,local,self-hosted,1000,200,300,{t},,,"
        "true,,unpriced\n"
        "2026-11-01T01:15:04-05:00,r8,local,self-hosted,1000,200,300,,,,"
        "true,,unpriced\n"
        f"2026-11-01T01:30:00.500000-05:00,'-r4,gpt-4o,OpenAI,1000,200,300,{t},,,"
        "true,0.0091875,attributed\n"
    )
    assert _export_bytes(tenant_a, start, end) == (header + rows_new_york).encode()

    tenant_a.timezone = "Asia/Kathmandu"  # +05:45, no daylight saving time
    tenant_a.save()
    first = _export_bytes(tenant_a, start, dst_end).decode().splitlines()[1]
    assert first.startswith("2026-11-01T11:15:00+05:45,r1,")


def test_a_zone_named_like_an_abbreviation_keeps_its_summer_time(tenant_a):
    """ "CET" is a zone with daylight saving time to zoneinfo (the tenant's zone) and the
    session's TimeZone, but a fixed +01:00 abbreviation to AT TIME ZONE."""
    tenant_a.timezone = "CET"
    tenant_a.save()
    model_with_plan(tenant_a, "gpt-4o")
    july = datetime(2026, 7, 1, 12, 0, tzinfo=UTC)
    record(tenant_a, [event(july, "gpt-4o", request_id="summer")])
    lines = _export_bytes(tenant_a, july, july + timedelta(hours=1)).decode().splitlines()
    assert lines[1].startswith("2026-07-01T14:00:00+02:00,summer,")
    assert july.astimezone(tenant_a.zone).isoformat() == "2026-07-01T14:00:00+02:00"


def _session_time_zone() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW TimeZone")
        return cursor.fetchone()[0]


def test_the_export_leaves_the_session_time_zone_as_it_was(tenant_a):
    """The export sets the tenant's zone for its COPY alone: the caller's transaction (each
    test runs in one) reads on in its own zone, after a whole export or an abandoned one."""
    tenant_a.timezone = "Asia/Kathmandu"
    tenant_a.save()
    _insert_events(tenant_a, model_with_plan(tenant_a, "gpt-4o"), 5_000)
    before = _session_time_zone()
    assert before != "Asia/Kathmandu"

    whole = _export_bytes(tenant_a, AT, AT + timedelta(days=1))
    assert whole.count(b"+05:45,") == 5_000
    assert _session_time_zone() == before

    abandoned = export_rows(tenant=tenant_a, start=AT, end=AT + timedelta(days=1))
    next(abandoned), next(abandoned)  # the header and the first block of many
    abandoned.close()  # as when the client goes away mid-download
    assert _session_time_zone() == before
    assert UsageEvent.objects.filter(tenant=tenant_a).count() == 5_000
