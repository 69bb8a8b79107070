"""Settings > License in Chromium: a new administrator applies a token made with the vendor's tools.

Every step goes through the commands a vendor and an operator use (`license_keygen`,
`issue_license`, `create_tenant`, `add_user`). Screenshots go to test-artifacts/.
"""

import io
import json
import uuid

import pytest
from django.core.management import call_command

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PASSWORD = "a-long-browser-password"


def _command(*args) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue().strip()


@pytest.fixture
def vendor_keys(tmp_path, settings):
    """A vendor key pair from `license_keygen`; Tally trusts its public half."""
    _command("license_keygen", "--out", str(tmp_path))
    settings.LICENSE_PUBLIC_KEYS = str(tmp_path / "public.pem")
    settings.LICENSE_ISSUER = "tally"
    return tmp_path / "private.pem"


@pytest.fixture
def new_tenant(transactional_db) -> dict:
    tenant = json.loads(_command("create_tenant", "Globex", "--timezone", "America/New_York"))
    _command("add_user", tenant["slug"], "grace", "--admin", "--password", PASSWORD)
    return tenant


def _issue(private_key, subject, *caps_and_days) -> str:
    return _command(
        "issue_license", "--private-key", str(private_key), "--subject", str(subject),
        "--kind", "contract", *caps_and_days,
    )  # fmt: skip


COLLECT_VIOLATIONS = """
window.__violations = [];
document.addEventListener("securitypolicyviolation", (event) => {
  window.__violations.push(`${event.violatedDirective} ${event.blockedURI}`);
});
"""


def _open_license_page(browser, live_server, *, width: int):
    page = browser.new_context(viewport={"width": width, "height": 900}).new_page()
    page.set_default_timeout(10_000)
    page.add_init_script(COLLECT_VIOLATIONS)
    page.js_errors = []
    page.on("pageerror", lambda error: page.js_errors.append(error))
    page.goto(f"{live_server.url}/settings/license/")  # the gate sends us to log in first
    page.fill("#id_username", "grace")
    page.fill("#id_password", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(f"{live_server.url}/settings/license/")
    return page


def _paste_and_preview(page, token: str) -> None:
    page.fill("textarea[name=token]", token)
    with page.expect_navigation():
        page.click("button:has-text('Preview')")


def _apply_previewed(page) -> None:
    with page.expect_navigation():
        page.click("[data-testid=license-preview] button:has-text('Apply License')")


def _paste_and_apply(page, token: str) -> None:
    _paste_and_preview(page, token)
    _apply_previewed(page)


def _preview_rows(page) -> list[str]:
    rows = page.locator("[data-testid=license-preview] tbody tr")
    cells = (rows.nth(i).locator("th, td").all_text_contents() for i in range(rows.count()))
    return [" ".join(" ".join(row).split()) for row in cells]


def test_a_new_administrator_applies_a_vendor_token_and_sees_it_active(
    vendor_keys, new_tenant, browser, live_server, screenshot
):
    page = _open_license_page(browser, live_server, width=1280)
    current = page.locator("[data-testid=license-current]")
    assert "Free tier" in current.text_content()
    assert (
        page.text_content("[data-testid=license-subject]").strip() == new_tenant["license_subject"]
    )
    screenshot(page, "license-free-tier")

    caps = ("--hosts", "5", "--gateways", "2", "--tasks", "100")
    other_tenant = _issue(vendor_keys, uuid.uuid4(), *caps)
    _paste_and_preview(page, other_tenant)
    assert page.locator("[data-testid=license-preview]").count() == 0
    refusal = page.text_content("[data-testid=license-refusal]")
    assert "wrong_tenant" in refusal and "Free tier" in current.text_content()
    assert page.input_value("textarea[name=token]") == other_tenant  # the paste is kept
    screenshot(page, "license-refused-wrong-tenant")

    token = _issue(
        vendor_keys, new_tenant["license_subject"],
        "--hosts", "25", "--gateways", "unlimited", "--tasks", "5000", "--days", "365",
    )  # fmt: skip
    _paste_and_apply(page, token)
    assert "License applied" in page.text_content("body")
    current_text = " ".join(current.text_content().split())
    assert "Contract" in current_text and "365 days" in current_text
    assert "Hosts 0 25" in current_text and "Gateways 0 Unlimited" in current_text
    assert "Tasks (lifetime) 0 5,000" in current_text
    history_rows = page.locator("[data-testid=license-history] tbody tr")
    assert history_rows.count() == 1 and "grace" in history_rows.first.text_content()
    screenshot(page, "license-applied")

    _paste_and_preview(page, token)  # the same token again: refused at the preview
    assert "already_applied" in page.text_content("[data-testid=license-refusal]")
    assert history_rows.count() == 1
    assert page.js_errors == [] and page.evaluate("window.__violations") == []


def test_paste_preview_apply_says_what_changed_at_desktop_and_phone_width(
    vendor_keys, new_tenant, browser, live_server, screenshot
):
    subject = new_tenant["license_subject"]
    first = _issue(vendor_keys, subject, "--hosts", "12", "--gateways", "5",
                   "--tasks", "500", "--days", "30")  # fmt: skip
    # (width, tasks before, tasks after, gateways row, licenses in the history before apply)
    steps = [(1366, "500", "1000", "Gateways 5 Unlimited", 1), (390, "1,000", "2000",
             "Gateways Unlimited Unlimited", 2)]  # fmt: skip
    for width, before, after, gateways_row, licenses in steps:
        page = _open_license_page(browser, live_server, width=width)
        if width == 1366:
            _paste_and_apply(page, first)
        renewal = _issue(
            vendor_keys, subject, "--hosts", "12", "--gateways", "unlimited", "--tasks", after,
            "--days", "365", "--customer", f"Globex {width}",
        )  # fmt: skip
        _paste_and_preview(page, renewal)
        rows = _preview_rows(page)
        assert rows[0] == "Hosts 12 12" and rows[1] == gateways_row
        assert rows[2] == f"Tasks (lifetime) {before} {int(after):,}"
        assert rows[3] == "Kind Contract Contract" and rows[5].endswith(f"Globex {width}")
        history = page.locator("[data-testid=license-history] tbody tr")
        assert history.count() == licenses  # the preview changed nothing
        overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
        assert overflow <= 0, f"the preview scrolls sideways at {width} px"
        screenshot(page, f"license-preview-{width}")

        _apply_previewed(page)
        message = " ".join(page.text_content(".messages").split())
        assert f"Tasks {before} → {int(after):,};" in message
        assert f"customer Globex {width}; valid until " in message
        assert f"Globex {width}" in page.text_content("[data-testid=license-current]")
        assert history.count() == licenses + 1
        screenshot(page, f"license-applied-{width}")
        assert page.js_errors == [] and page.evaluate("window.__violations") == []
        page.context.close()


def test_the_license_page_reads_on_a_phone(
    vendor_keys, new_tenant, browser, live_server, screenshot
):
    token = _issue(
        vendor_keys, new_tenant["license_subject"],
        "--hosts", "3", "--gateways", "1", "--tasks", "10", "--days", "30",
    )  # fmt: skip
    page = _open_license_page(browser, live_server, width=390)
    _paste_and_apply(page, token)
    assert "License applied" in page.text_content("body")
    overflow = page.evaluate("document.documentElement.scrollWidth - window.innerWidth")
    assert overflow <= 0, "the page scrolls sideways on a phone"
    screenshot(page, "license-applied-phone")
