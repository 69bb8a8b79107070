"""GET /api/v1/usage/export.csv: every event of the range, streamed, with its exact cost."""

import csv
import io
from datetime import UTC, datetime, timedelta

from tests.usage.usage_helpers import event, model_with_plan, record, ticket_for

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
