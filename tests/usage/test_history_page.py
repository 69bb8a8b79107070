"""The history page (`/usage/history/`, SPEC §5.5): who opens it, what a cycle row shows."""

import re
from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from tests.usage.usage_helpers import event, model_with_plan, record, ticket_for

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 15, 10, 7, 30, tzinfo=UTC)


@pytest.fixture(autouse=True)
def frozen():
    with time_machine.travel(NOW, tick=False):
        yield


@pytest.mark.parametrize(
    "who, status", [("admin_a", 200), ("member_a", 403), ("operator", 403), ("admin_b", 200)]
)
def test_only_tenant_administrators_open_the_history_page(cast, page_client_for, who, status):
    assert page_client_for(cast[who]).get("/usage/history/").status_code == status


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get("/usage/history/")
    assert response.status_code == 302
    assert response["Location"].startswith("/accounts/login/")


def test_the_usage_page_links_to_the_history(admin_a, page_client_for):
    html = page_client_for(admin_a).get("/usage/").content.decode()
    assert 'href="/usage/history/"' in html


def test_the_page_shows_twelve_cycles_newest_first_with_changes_and_csv_links(
    tenant_a, admin_a, page_client_for
):
    model_with_plan(tenant_a, "gpt-4o", ("1000", "1000", "1000"))
    ticket = ticket_for(tenant_a)
    october = datetime(2026, 10, 10, tzinfo=UTC)
    record(
        tenant_a,
        [event(october, "gpt-4o", ticket=ticket.id), event(NOW - timedelta(hours=1), "gpt-4o")]
        + [event(NOW - timedelta(hours=2), "gpt-4o", ticket=ticket.id)],
    )
    html = page_client_for(admin_a).get("/usage/history/").content.decode()

    months = re.findall(r'<tr data-month="(\d{4}-\d{2})"', html)
    assert months == [f"2026-{m:02d}" for m in range(11, 0, -1)] + ["2025-12"]
    november = html.split('data-month="2026-11"')[1].split("</tr>")[0]
    assert "November 2026" in november and "so far" in november
    assert "$1.50" in november  # ticket-linked: 1,500 tokens at $1,000 per million
    assert "+0.0 %" in november  # the same ticket-linked cost as October
    assert "new" in november  # unattributed spend: none in October
    assert 'href="/api/v1/usage/cycles/2026-11/export.csv"' in november
    september = html.split('data-month="2026-09"')[1].split("</tr>")[0]
    assert "—" in september and "$0" in september
