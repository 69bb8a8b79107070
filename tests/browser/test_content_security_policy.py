"""In Chromium, the pages Tally serves break no rule of their own Content-Security-Policy:
every `securitypolicyviolation` the browser reports is collected and must be none."""

import io

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-password"
COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI} ${event.sample}`);
});
"""


@pytest.fixture
def administrator(transactional_db):
    call_command("create_tenant", "Globex", "--slug", "globex", stdout=io.StringIO())
    call_command(
        "add_user", "globex", "grace", "--admin", "--password", PASSWORD, stdout=io.StringIO()
    )


def violations_on(browser, live_server, path: str) -> list[str]:
    page = browser.new_context().new_page()
    page.set_default_timeout(10_000)
    page.add_init_script(COLLECT_VIOLATIONS)
    page.goto(f"{live_server.url}/accounts/login/")
    page.fill("#id_username", "grace")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_load_state("networkidle")
    page.goto(f"{live_server.url}{path}")
    page.wait_for_load_state("networkidle")
    found = page.evaluate("window.__violations")
    page.context.close()
    return found


@pytest.mark.parametrize(
    "path", ["/accounts/login/", "/settings/license/", "/settings/api-tokens/", "/tasks/"]
)
def test_the_page_breaks_none_of_its_own_policy(administrator, browser, live_server, path):
    assert violations_on(browser, live_server, path) == []
