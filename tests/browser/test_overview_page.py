"""The operators' Overview in Chromium at 1366 px: logged in through the admin's own form."""

from datetime import timedelta

import pytest
from django.utils import timezone

from tests.factories import HostFactory, LicenseFactory, TenantFactory, UserFactory, active_license
from tests.usage.overview.helpers import activity, alert, endpoint, spend, tasks_used

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-operator-password"


@pytest.fixture
def tenants():
    now = timezone.now()
    acme = TenantFactory(name="Acme", timezone="Europe/Paris")
    LicenseFactory(tenant=acme, hosts_cap=10, tasks_cap=500, expires_at=now + timedelta(days=12))
    tasks_used(acme, 460)
    spend(acme, spent="86.40", limit="100")
    alert(acme, days_ago=1)
    endpoint(acme, failing=True)
    activity(acme, now - timedelta(minutes=20))
    globex = TenantFactory(name="Globex", timezone="America/New_York")
    active_license(globex, hosts=2)
    HostFactory.create_batch(2, tenant=globex)
    initech = TenantFactory(name="Initech", timezone="Asia/Tokyo")
    active_license(initech, expired=True)
    TenantFactory(name="Hooli")  # free tier, nothing yet


def test_an_operator_reads_the_overview_riskiest_first(browser, live_server, screenshot, tenants):
    UserFactory(username="ops", is_staff=True, is_superuser=True, password=PASSWORD)
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    problems = []
    page.on("pageerror", lambda error: problems.append(str(error)))
    # Every stylesheet and script found (a browser asks for /favicon.ico on its own).
    page.on(
        "response",
        lambda r: problems.append(r.url) if r.status >= 400 and "favicon" not in r.url else None,
    )
    page.on("console", lambda m: problems.append(m.text) if "Content Security" in m.text else None)
    page.goto(f"{live_server.url}/admin/overview/")
    page.fill("#id_username", "ops")
    page.fill("#id_password", PASSWORD)
    with page.expect_navigation():
        page.click("input[type=submit]")
    assert page.url == f"{live_server.url}/admin/overview/"

    names = page.locator(".overview-table tbody th a").all_text_contents()
    assert names == ["Initech", "Globex", "Acme", "Hooli"]
    acme = " ".join(page.locator(".overview-table tbody tr").nth(2).inner_text().split())
    assert "460 / 500 92 %" in acme and "$86.40 of $100.00 86 %" in acme
    assert "Europe/Paris" in acme and "1 failing" in acme
    # The stylesheet applied (a CSP that refused it would leave the table unstyled).
    align = page.locator(".overview-table td.num").first.evaluate(
        "e => getComputedStyle(e).textAlign"
    )
    assert align == "right"
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the overview scrolls sideways at 1366 px"
    screenshot(page, "admin-overview-1366")

    with page.expect_navigation():
        page.click("text=Expired")
    assert page.locator(".overview-table tbody th a").all_text_contents() == ["Initech"]
    assert problems == []
