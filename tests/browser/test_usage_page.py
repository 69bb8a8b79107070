"""The Usage page in Chromium: the demo administrator switches Cost/Tokens and ranges in place.

Screenshots of each state go to test-artifacts/ (ignored by git).
"""

import io
import math

import pytest
from django.core.management import call_command

from licensing.models import Tenant
from tasks.services import task_create
from tests.usage.activity_helpers import record_usage
from usage.demo import DEMO_LOGINS, DEMO_SLUG
from usage.models import UsageEvent
from usage.plan import plan_usage

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ADMIN = next(login for login in DEMO_LOGINS if login.role == "administrator")


@pytest.fixture
def demo(transactional_db) -> Tenant:
    """The README's demo; a month of usage is added if the demo seed has none."""
    call_command("seed_demo", stdout=io.StringIO())
    tenant = Tenant.objects.get(slug=DEMO_SLUG)
    if not UsageEvent.objects.filter(tenant=tenant).exists():
        record_usage(tenant, events=2000)
    return tenant


def _logged_in_page(browser, live_server, *, width: int = 1440):
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(error))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", ADMIN.username)
    page.fill("#id_password", ADMIN.password)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _chart(page) -> dict:
    """What Chart.js holds now: the mode it drew, its datasets and its bucket count."""
    return page.evaluate(
        """() => {
            const canvas = document.getElementById("activity-chart");
            const chart = Chart.getChart(canvas);
            return {
                mode: canvas.dataset.drawnMode,
                datasets: chart.data.datasets.map((set) => set.label),
                buckets: chart.data.labels.length,
                draws: window.__usageChartDraws,
            };
        }"""
    )


CHART_DRAWN = """() => {
    const canvas = document.getElementById("activity-chart");
    return canvas !== null && Chart.getChart(canvas) !== undefined;
}"""


def _switch(page, selector: str, *, to: str) -> None:
    """Click a control and wait for the URL `to` and a chart drawn on the new canvas."""
    page.click(selector)
    _wait_for_view(page, to)


def _wait_for_view(page, query: str) -> None:
    page.wait_for_url(f"**/usage/?{query}")
    page.wait_for_function(CHART_DRAWN)


def test_the_administrator_switches_cost_tokens_and_ranges_without_a_page_load(
    demo, browser, live_server, screenshot
):
    page = _logged_in_page(browser, live_server)
    page.goto(f"{live_server.url}/usage/")
    page.wait_for_function("window.__usageChartDraws === 1")
    page.evaluate("window.__marker = 'still the same page'")
    assert _chart(page)["mode"] == "cost" and _chart(page)["datasets"] == ["Cost (USD)"]
    assert page.locator("[data-testid=total-tokens]").count() == 0  # a Tokens-mode card
    screenshot(page, "usage-30d-cost")

    _switch(page, "#mode-tokens", to="range=30d&mode=tokens")
    month_tokens = page.text_content("[data-testid=total-tokens]")
    assert page.locator("[data-testid=uncosted]").count() == 0  # Cost-mode warnings
    chart = _chart(page)
    assert chart["mode"] == "tokens" and chart["datasets"] == ["Input", "Cached", "Output"]
    assert page.url.endswith("/usage/?range=30d&mode=tokens")
    assert page.get_attribute("#mode-tokens", "aria-current") == "true"
    screenshot(page, "usage-30d-tokens")

    _switch(page, "#range-7d", to="range=7d&mode=tokens")
    week = _chart(page)
    assert week["mode"] == "tokens" and week["buckets"] in (168, 169)  # hourly
    assert page.url.endswith("/usage/?range=7d&mode=tokens")
    week_tokens = page.text_content("[data-testid=total-tokens]")
    assert week_tokens != month_tokens
    screenshot(page, "usage-7d-tokens")

    _switch(page, "#range-24h", to="range=24h&mode=tokens")
    assert _chart(page)["buckets"] in (288, 289)  # 5-minute buckets
    assert page.text_content("[data-testid=total-tokens]") not in (week_tokens, month_tokens)
    _switch(page, "#mode-cost", to="range=24h&mode=cost")
    assert _chart(page)["datasets"] == ["Cost (USD)"]
    assert page.url.endswith("/usage/?range=24h&mode=cost")
    screenshot(page, "usage-24h-cost")

    page.go_back()  # htmx restores the previous view from its history
    _wait_for_view(page, "range=24h&mode=tokens")
    assert _chart(page)["mode"] == "tokens"

    page.focus("#range-7d")  # the controls work from the keyboard, and keep the focus
    page.keyboard.press("Enter")
    _wait_for_view(page, "range=7d&mode=tokens")
    assert page.evaluate("document.activeElement.id") == "range-7d"

    page.fill("#range-start", "2020-01-01")
    page.fill("#range-end", "2020-01-01")
    page.click("#range-apply")
    _wait_for_view(page, "range=custom&mode=tokens&start=2020-01-01&end=2020-01-01")
    assert page.text_content("[data-testid=total-tokens]").strip() == "0"

    assert page.evaluate("window.__marker") == "still the same page"
    assert page.js_errors == []


def test_a_range_the_server_refuses_shows_its_message_in_place(demo, browser, live_server):
    page = _logged_in_page(browser, live_server)
    page.goto(f"{live_server.url}/usage/")
    page.wait_for_function("window.__usageChartDraws === 1")
    page.evaluate("window.__marker = 1")

    page.fill("#range-start", "2026-03-10")
    page.fill("#range-end", "2026-03-01")
    page.click("#range-apply")
    page.wait_for_selector("[data-testid=activity-error]")

    assert "ends before it starts" in page.text_content("[data-testid=activity-error]")
    assert page.evaluate("window.__marker") == 1
    assert page.is_visible("#range-30d")


def test_the_page_without_javascript_still_switches_by_plain_links(
    demo, browser, live_server, screenshot
):
    context = browser.new_context(java_script_enabled=False)
    page = context.new_page()
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", ADMIN.username)
    page.fill("#id_password", ADMIN.password)
    page.click("button[type=submit]")
    page.goto(f"{live_server.url}/usage/")

    page.click("#mode-tokens")
    page.wait_for_url("**/usage/?range=30d&mode=tokens")
    page.click("#range-7d")
    page.wait_for_url("**/usage/?range=7d&mode=tokens")

    assert page.get_attribute("#range-7d", "aria-current") == "true"
    assert page.is_visible("[data-testid=plan-card]")  # a whole page, not a section
    assert not page.is_visible("#activity-chart")  # no empty chart box: the table is the chart
    page.click(".chart-table summary")
    assert page.is_visible("[data-testid=series-table]")
    screenshot(page, "usage-7d-tokens-no-javascript")
    context.close()


def test_the_banner_appears_once_tasks_reach_90_percent(demo, browser, live_server, screenshot):
    tasks = plan_usage(demo).dimension("tasks")
    threshold = math.ceil(tasks.cap * 0.9)
    while tasks.used < threshold - 1:
        task_create(tenant=demo, title=f"Backup {tasks.used}", source="api")
        tasks = plan_usage(demo).dimension("tasks")
    page = _logged_in_page(browser, live_server)
    before = page.query_selector("[data-testid=usage-banner]")  # hosts may have one already
    assert before is None or "tasks" not in before.text_content()  # one task short of 90 %

    task_create(tenant=demo, title="The one that reaches 90 %", source="api")
    page.goto(f"{live_server.url}/")

    banner = page.locator("[data-testid=usage-banner]")
    assert banner.is_visible()
    assert f"tasks {threshold} of {tasks.cap}" in banner.text_content()
    screenshot(page, "usage-banner", full_page=False)
    banner.locator("a").click()
    page.wait_for_url(f"{live_server.url}/usage/")
    page.wait_for_function("window.__usageChartDraws === 1")
    screenshot(page, "usage-banner-on-usage-page")
    assert page.locator("[data-testid=plan-tasks] .meter.warning").is_visible()


@pytest.mark.parametrize("width, name", [(390, "phone"), (1440, "wide")])
def test_the_page_fits_a_phone_and_a_wide_screen(
    demo, browser, live_server, screenshot, width, name
):
    page = _logged_in_page(browser, live_server, width=width)
    page.goto(f"{live_server.url}/usage/?range=7d&mode=tokens")
    page.wait_for_function("window.__usageChartDraws === 1")

    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0
    assert page.locator("#activity-chart").bounding_box()["width"] <= width
    screenshot(page, f"usage-7d-tokens-{name}")
    page.goto(f"{live_server.url}/usage/models/")
    screenshot(page, f"usage-models-{name}")


def _breakdown_usage(tenant) -> None:
    """In the last day: 25 consumers, on the demo's hosts, on one priced model."""
    from datetime import timedelta

    from django.utils import timezone

    from tasks.models import Host
    from usage.models import LlmModel
    from usage.services import usage_events_record

    model = LlmModel.objects.filter(tenant=tenant, pricing_plans__isnull=False).first()
    hosts = list(Host.objects.filter(tenant=tenant).values_list("name", flat=True))
    now = timezone.now()
    usage_events_record(
        tenant=tenant,
        events=[
            {
                "request_id": f"breakdown-{n}",
                "occurred_at": now - timedelta(minutes=5 + n),
                "model": model.name,
                "input_tokens": 900_000 - n * 1000,
                "output_tokens": 1000,
                "cached_tokens": 0,
                "consumer": f"zz-agent-{n:02}",
                "host": hosts[n % len(hosts)],
            }
            for n in range(25)
        ],
    )


def _rows(page, name: str) -> int:
    return page.locator(f"[data-testid={name}-row]").count()


def _wait_for_rows(page, name: str, *, more_than: int) -> None:
    # A function, not a string: the page's CSP refuses the eval a string predicate needs.
    page.wait_for_function(
        "([name, count]) => document.querySelectorAll(`[data-testid=${name}-row]`).length > count",
        arg=[name, more_than],
    )


@pytest.mark.parametrize("width, name", [(1366, "wide"), (390, "phone")])
def test_show_more_and_a_host_filter_work_in_place_and_the_chip_clears_it(
    demo, browser, live_server, screenshot, width, name
):
    _breakdown_usage(demo)
    page = _logged_in_page(browser, live_server, width=width)
    page.goto(f"{live_server.url}/usage/?range=24h&mode=tokens")
    page.wait_for_function("window.__usageChartDraws === 1")
    page.evaluate("window.__marker = 'same page'")
    consumers = _rows(page, "top_consumers")
    assert consumers == 10

    page.click("[data-testid=top_consumers-more]")
    _wait_for_rows(page, "top_consumers", more_than=10)
    assert _rows(page, "top_consumers") == 20
    assert page.url.endswith("/usage/?range=24h&mode=tokens")  # rows added; the view is the same
    page.locator("[data-testid=top-consumers]").scroll_into_view_if_needed()
    screenshot(page, f"usage-show-more-{name}")
    while page.locator("[data-testid=top_consumers-more]").count():
        before = _rows(page, "top_consumers")
        page.click("[data-testid=top_consumers-more]")
        _wait_for_rows(page, "top_consumers", more_than=before)
    assert _rows(page, "top_consumers") >= 25

    tokens = page.text_content("[data-testid=total-tokens]")
    host = page.locator("[data-testid=by-host] a").first
    host_name = host.text_content().strip()
    host.click()
    page.wait_for_selector("[data-testid=filter-chip]")
    page.wait_for_function(CHART_DRAWN)
    assert f"host={host_name}" in page.url
    assert page.text_content("[data-testid=filter-chip]").split() == ["Host:", host_name, "×"]
    assert page.text_content("[data-testid=total-tokens]") != tokens
    assert _rows(page, "by_host") == 1
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    screenshot(page, f"usage-host-filter-{name}")

    page.click("[data-testid=filter-chip] a")
    _wait_for_view(page, "range=24h&mode=tokens")
    assert page.locator("[data-testid=filter-chip]").count() == 0
    assert page.text_content("[data-testid=total-tokens]") == tokens
    assert page.evaluate("window.__marker") == "same page"
    assert page.js_errors == []


def test_at_phone_width_every_breakdowns_cost_is_on_screen_without_a_sideways_scroll(
    demo, browser, live_server, screenshot
):
    _breakdown_usage(demo)
    page = _logged_in_page(browser, live_server, width=390)
    page.goto(f"{live_server.url}/usage/?range=24h&mode=cost")
    page.wait_for_function(CHART_DRAWN)
    costs = page.locator(".breakdown [data-testid$='-cost']")
    assert costs.count() > 0
    past_the_edge = page.evaluate(
        """() => [...document.querySelectorAll(".breakdown [data-testid$='-cost']")]
             .filter(cell => cell.getBoundingClientRect().right > window.innerWidth)
             .map(cell => cell.dataset.testid)"""
    )
    assert past_the_edge == []
    assert page.evaluate("document.documentElement.scrollWidth - window.innerWidth") <= 0
    page.locator("[data-testid=top-consumers]").scroll_into_view_if_needed()
    screenshot(page, "usage-breakdowns-cost-phone")
    assert page.js_errors == []
