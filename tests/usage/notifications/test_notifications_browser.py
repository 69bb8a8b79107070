"""Settings > Notifications in Chromium: add an endpoint, see its secret once, send a test
event, see it arrive (signed) and in the log. Screenshots go to test-artifacts/."""

import pytest

from tests.factories import UserFactory
from usage.notifications.models import Delivery

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-password"


def test_an_administrator_adds_an_endpoint_and_sends_a_test_event(
    tenant_a,
    browser,
    live_server,
    screenshot,
    fast_retries,
    receiver,
    worker,  # noqa: F811
):
    UserFactory(username="grace", password=PASSWORD, is_staff=True, tenant=tenant_a)
    hook = receiver()
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    errors = []
    page.on("pageerror", lambda error: errors.append(error))
    page.goto(f"{live_server.url}/settings/notifications/")
    page.fill("#id_username", "grace")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/settings/notifications/")
    assert page.locator("nav a[aria-current=page]").last.text_content() == "Notifications"

    page.fill("#id_url", hook.url)
    with page.expect_navigation():
        page.click("button:has-text('Add endpoint')")
    secret = page.text_content("[data-secret]").strip()
    assert secret.startswith("whsec_")
    screenshot(page, "notifications-secret-once")
    hook.secret = secret

    with page.expect_navigation():
        page.click("button:has-text('Send test event')")
    assert "Test event queued" in page.text_content(".messages")
    assert page.locator("[data-secret]").count() == 0  # the secret was shown once
    worker(lambda: Delivery.objects.get().status == Delivery.Status.DELIVERED)
    assert len(hook.accepted()) == 1 and hook.accepted()[0].verified

    page.reload()
    log = page.locator("#alert-log")
    assert "test" in log.text_content()
    assert "Succeeded · HTTP 200" in log.text_content()
    screenshot(page, "notifications-log-after-test-event")

    page.click("summary:has-text('Remove')")
    assert page.locator("button:has-text('Yes, remove')").is_visible()
    screenshot(page, "notifications-remove-confirmation", full_page=False)
    with page.expect_navigation():
        page.click("button:has-text('Yes, remove')")
    assert "No webhook or Slack endpoint yet." in page.text_content("body")
    assert errors == []
