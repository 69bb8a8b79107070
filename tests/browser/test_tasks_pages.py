"""The tasks pages in Chromium, at a laptop's 1366 px and a phone's 390 px: nothing needs a
sideways scroll (the Delete, Remove and Retry buttons are on screen), the gateway page's Copy
buttons copy, and a delete asks first. Screenshots go to test-artifacts/ (ignored by git)."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tasks.engine import run_pass
from tasks.models import Task, Ticket
from tasks.services import host_register, task_create
from tests.factories import TenantFactory, UserFactory
from tests.tasks.ticket_helpers import gateway_for, license_with, receive

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "password"  # UserFactory's
WIDTHS = [1366, 390]
PAGES = ["/tasks/", "/tickets/", "/gateways/", "/hosts/", "/schedules/"]
# Every violation of the page's Content-Security-Policy, as the browser reports it.
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


@pytest.fixture
def tenant(transactional_db):
    """A tenant with long names, a task slot short: converted, rejected and pending tickets."""
    tenant = TenantFactory(name="Initech Operations", slug="initech", timezone="Europe/Paris")
    UserFactory(username="grace", is_staff=True, tenant=tenant)
    license_with(tenant, tasks_cap=4)
    host = host_register(tenant=tenant, name="build-runner-eu-west-1.internal.initech.example")
    host_register(tenant=tenant, name="web-1")
    for title in ("Rotate the database credentials of the billing cluster", "Patch web-1"):
        task_create(
            tenant=tenant,
            title=title,
            description="Apply the vendor's advisory and restart the service afterwards.",
            source=Task.Source.UI,
            host=host,
        )
    jira = gateway_for(tenant, name="Jira Service Management (production)")[0]
    gateway_for(tenant, name="Webhook", kind="webhook")
    receive(jira, "OPS-1041", subject="Disk almost full on build-runner-eu-west-1")
    receive(jira, "OPS-1042", subject="Renew the TLS certificate", recurrence={"every_minutes": 60})
    receive(jira, "OPS-1043", subject="Restart the stuck ingestion worker on the EU cluster")
    run_pass()  # two converted, one rejected at the cap
    receive(jira, "OPS-1044", subject="Rotate the SSH host keys")  # pending
    Ticket.objects.filter(external_id="OPS-1044").update(
        received_at=timezone.now() - timedelta(minutes=12)
    )
    assert Ticket.objects.filter(status="rejected").count() == 1
    return tenant


def _logged_in(browser, live_server, *, width: int, **context):
    page = browser.new_context(viewport={"width": width, "height": 900}, **context).new_page()
    page.set_default_timeout(10_000)
    page.add_init_script(COLLECT_VIOLATIONS)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(error))
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "grace")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/")
    return page


def _fits(page, width: int) -> None:
    """No sideways scroll, and every button and button-link of the page's table is on screen."""
    scroll_width = page.evaluate("document.scrollingElement.scrollWidth")
    assert scroll_width <= width, f"{page.url}: scrollWidth {scroll_width} > {width}"
    for button in page.locator("table .button").all():
        box = button.bounding_box()
        assert box is not None and box["x"] >= 0 and box["x"] + box["width"] <= width, (
            f"{page.url}: {button.inner_text()} at {box}"
        )
    wraps = page.evaluate(
        "[...document.querySelectorAll('.table-wrap')].map((w) => w.scrollWidth - w.clientWidth)"
    )
    assert all(overflow <= 0 for overflow in wraps), f"{page.url}: a table scrolls sideways"


@pytest.mark.parametrize("width", WIDTHS)
def test_the_tasks_pages_need_no_sideways_scroll(tenant, browser, live_server, screenshot, width):
    page = _logged_in(browser, live_server, width=width)
    for path in PAGES:
        page.goto(f"{live_server.url}{path}")
        screenshot(page, f"tasks-{path.strip('/')}-{width}")
        if width <= 640:
            _fits(page, width)
        assert page.evaluate("window.__violations") == [], path
    assert page.js_errors == []
    page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_tickets_page_shows_engine_health_and_the_retry_buttons(
    tenant, browser, live_server, width
):
    page = _logged_in(browser, live_server, width=width)
    page.goto(f"{live_server.url}/tickets/")
    health = page.locator("#engine-health").inner_text().replace("\xa0", " ")
    assert "Running" in health  # the fixture's pass was just now
    assert "1 pending; the oldest has waited 12 minutes." in health
    rejected = page.locator("tr", has_text="OPS-1043")
    assert rejected.get_by_role("button", name="Retry ticket OPS-1043").is_visible()

    page.get_by_role("button", name="Retry all rejected").click()

    assert (
        "1 rejected ticket is pending again; the engine converts it on its next pass"
        in page.locator(".messages").inner_text()
    )
    assert "2 pending" in page.locator("#engine-health").inner_text()
    page.context.close()


def test_a_stopped_engine_is_said_on_the_tickets_page(tenant, browser, live_server, screenshot):
    from tasks.models import EngineHeartbeat

    EngineHeartbeat.objects.update(last_pass_at=timezone.now() - timedelta(hours=3))
    for width in WIDTHS:
        page = _logged_in(browser, live_server, width=width)
        page.goto(f"{live_server.url}/tickets/")
        alert = page.locator("#engine-health [role=alert]")
        assert "The engine is not running" in alert.inner_text()
        assert "bin/engine" in alert.inner_text()
        screenshot(page, f"tasks-tickets-engine-stopped-{width}")
        if width <= 640:
            _fits(page, width)
        page.context.close()


@pytest.mark.parametrize("width", WIDTHS)
def test_a_task_is_deleted_only_once_the_confirmation_is_answered(
    tenant, browser, live_server, screenshot, width
):
    page = _logged_in(browser, live_server, width=width)
    page.goto(f"{live_server.url}/tasks/")
    page.get_by_role("link", name="Delete task Patch web-1").click()
    assert page.locator("h1").inner_text() == "Delete the task “Patch web-1”?"
    screenshot(page, f"tasks-confirm-delete-{width}")
    assert page.evaluate("window.__violations") == []
    if width <= 640:
        _fits(page, width)
    assert Task.objects.filter(title="Patch web-1").exists()  # opening the page deleted nothing

    page.get_by_role("button", name="Delete task").click()

    page.wait_for_url(f"{live_server.url}/tasks/")
    assert "Task “Patch web-1” deleted." in page.locator(".messages").inner_text()
    assert not Task.objects.filter(title="Patch web-1").exists()
    page.context.close()


def _create_gateway(page, live_server) -> str:
    page.goto(f"{live_server.url}/gateways/")
    page.fill("#id_name", "ServiceNow EU")
    page.select_option("#id_kind", "servicenow")
    page.get_by_role("button", name="Create gateway").click()
    page.wait_for_selector("#gateway-secret")
    return page.locator("#gateway-secret-value").inner_text()


@pytest.mark.parametrize("width", WIDTHS)
def test_the_copy_buttons_copy_the_secret_and_the_curl_line(
    tenant, browser, live_server, screenshot, width
):
    page = _logged_in(
        browser, live_server, width=width, permissions=["clipboard-read", "clipboard-write"]
    )
    secret = _create_gateway(page, live_server)
    screenshot(page, f"tasks-gateway-created-{width}")
    if width <= 640:
        _fits(page, width)

    page.get_by_role("button", name="Copy secret").click()
    # By selector, not wait_for_function: its polling evaluates a string, which the CSP refuses.
    page.locator(".copy-status", has_text="Copied").first.wait_for()
    assert page.evaluate("navigator.clipboard.readText()") == secret

    page.get_by_role("button", name="Copy command").click()
    # The copy is asynchronous: read the clipboard once the command's own status says so.
    page.locator(".copy-status", has_text="Copied").nth(1).wait_for()
    copied = page.evaluate("navigator.clipboard.readText()")
    assert copied.startswith(f"curl -sS -X POST {live_server.url}/api/v1/gateways/")
    assert f"Authorization: Bearer {secret}" in copied
    assert page.evaluate("window.__violations") == [] and page.js_errors == []
    page.context.close()


def test_without_the_clipboard_api_the_copy_button_selects_the_secret(tenant, browser, live_server):
    page = _logged_in(browser, live_server, width=1366)
    # As on plain http: no navigator.clipboard at all.
    page.add_init_script("Object.defineProperty(navigator, 'clipboard', {value: undefined})")
    secret = _create_gateway(page, live_server)
    assert page.evaluate("navigator.clipboard") is None

    page.get_by_role("button", name="Copy secret").click()

    assert page.evaluate("window.getSelection().toString()") == secret
    status = page.locator("#gateway-secret .copy-status").first.inner_text()
    assert status in ("Copied", "Selected: press Ctrl+C to copy")
    assert page.js_errors == []
    page.context.close()
