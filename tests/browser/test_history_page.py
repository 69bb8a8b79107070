"""The history page in Chromium: an administrator goes from Usage to History, reads 12 cycles
(one with a price change, one with no usage, the current one so far) and downloads a cycle's
CSV; at 1366 and 390 px wide. Screenshots go to test-artifacts/ (ignored by git)."""

import csv
import io
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from tests.factories import TenantFactory, UserFactory
from tests.usage.usage_helpers import event, model_with_plan, record, scheduled_plan, ticket_for
from usage.projections import month_of

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-password"


def _months_back(now: datetime, zone, count: int):
    """The month `count` months before the current one."""
    month = month_of(now, zone)
    for _ in range(count):
        month = month_of(month.starts_at - timedelta(microseconds=1), zone)
    return month


@pytest.fixture
def history_tenant(transactional_db):
    """Ten months of usage in Europe/Paris: busier each month, the month 3 back empty, a
    price change in the middle of last month, off-ticket and unpriced usage every month."""
    tenant = TenantFactory(name="Initech", slug="initech", timezone="Europe/Paris")
    UserFactory(username="grace", password=PASSWORD, is_staff=True, tenant=tenant)
    now = timezone.now()
    gpt = model_with_plan(tenant, "gpt-4o", ("2.5", "10", "1.25"), datetime(2020, 1, 1, tzinfo=UTC))
    model_with_plan(tenant, "llama-local", prices=None)
    last = _months_back(now, tenant.zone, 1)
    middle = last.starts_at + (last.ends_at - last.starts_at) / 2
    scheduled_plan(gpt, ("5", "20", "0.6"), middle.replace(minute=0, second=0, microsecond=0))
    tickets = [ticket_for(tenant, f"OPS-{n}", f"Incident {n}") for n in range(4)]
    events = []
    for back in range(10):
        if back == 3:
            continue  # a month with no usage
        month = _months_back(now, tenant.zone, back)
        end = min(month.ends_at, now - timedelta(minutes=5))
        step = (end - month.starts_at) / (20 + 4 * (10 - back))
        at, n = month.starts_at + step / 2, 0
        while at < end:
            events.append(
                event(
                    at,
                    "llama-local" if n % 6 == 0 else "gpt-4o",
                    input_tokens=2000 + 100 * (10 - back),
                    output_tokens=400,
                    cached_tokens=900,
                    ticket=None if n % 3 == 0 else tickets[n % 4].id,
                    consumer=f"agent-{n % 3}",
                    succeeded=n % 9 != 0,
                )
            )
            at, n = at + step, n + 1
    record(tenant, events)
    return tenant


def _open(browser, live_server, *, width: int):
    page = browser.new_context(
        viewport={"width": width, "height": 900}, accept_downloads=True
    ).new_page()
    page.set_default_timeout(10_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(error))
    page.goto(f"{live_server.url}/usage/")
    page.fill("#id_username", "grace")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/usage/")
    return page


def test_the_administrator_reads_twelve_cycles_and_downloads_one_as_csv(
    browser, live_server, history_tenant, screenshot
):
    page = _open(browser, live_server, width=1366)
    page.click("text=History")
    page.wait_for_url(f"{live_server.url}/usage/history/")

    rows = page.locator("[data-testid=cycles] tbody tr")
    assert rows.count() == 12
    current = rows.nth(0)
    assert "so far" in current.inner_text()
    empty = rows.nth(3)
    assert empty.locator("td").nth(0).inner_text().startswith("0")
    assert "new" in rows.nth(2).inner_text()  # the month after the empty one
    assert page.js_errors == []
    path = screenshot(page, "history-1366")
    assert path.stat().st_size > 10_000

    month = current.get_attribute("data-month")
    with page.expect_download() as download_info:
        current.get_by_role("link", name="Download the CSV of").click()
    text = download_info.value.path().read_text()
    lines = list(csv.DictReader(io.StringIO(text)))
    total = next(line for line in lines if line["dimension"] == "total")
    assert total["cycle"] == month
    shown = current.locator("td").nth(0).locator(".figure").inner_text()
    assert int(shown.replace(",", "")) == int(total["input_tokens"])
    assert Decimal(total["whole_bill_usd"]) > 0


def test_on_a_phone_the_cycles_scroll_inside_their_card_not_the_page(
    browser, live_server, history_tenant, screenshot
):
    page = _open(browser, live_server, width=390)
    page.goto(f"{live_server.url}/usage/history/")
    widths = page.evaluate(
        """() => ({
            page: document.documentElement.scrollWidth,
            view: window.innerWidth,
            wrap: document.querySelector(".history-wrap").scrollWidth,
            wrapView: document.querySelector(".history-wrap").clientWidth,
        })"""
    )
    assert widths["page"] <= widths["view"]  # no sideways scroll of the whole page
    assert widths["wrap"] > widths["wrapView"]  # the table scrolls within its card
    screenshot(page, "history-390")
    # The cycle's name stays in view while the figures scroll.
    page.locator(".history-wrap").evaluate("(wrap) => { wrap.scrollLeft = 400; }")
    first_cell = page.locator("[data-testid=cycles] tbody th").first.bounding_box()
    assert first_cell is not None and first_cell["x"] >= 0
    screenshot(page, "history-390-scrolled")
    assert page.js_errors == []
