"""Settings > License (`/settings/license/`): who may open it, applying, refusals, history."""

import pytest

from licensing.models import License
from licensing.services import license_apply

URL = "/settings/license/"


@pytest.mark.parametrize(
    "who, status",
    [("admin_a", 200), ("admin_b", 200), ("member_a", 403), ("operator", 403), ("anonymous", 302)],
)
def test_who_may_open_the_license_page(cast, page_client_for, who, status):
    response = page_client_for(cast[who]).get(URL)
    assert response.status_code == status
    if who == "anonymous":
        assert response["Location"] == f"/accounts/login/?next={URL}"


@pytest.mark.parametrize("who", ["member_a", "operator", "anonymous"])
def test_nobody_but_an_administrator_can_apply_a_license(
    vendor, cast, page_client_for, tenant_a, who
):
    response = page_client_for(cast[who]).post(URL, {"token": vendor.token(tenant_a)})
    assert response.status_code in (302, 403)
    assert not License.objects.exists()


def test_the_page_shows_the_free_tier_and_the_license_id_with_a_copy_button(
    admin_a, page_client_for, tenant_a
):
    page = page_client_for(admin_a).get(URL).content.decode()
    assert str(tenant_a.license_subject) in page
    assert 'data-copy-target="license-subject"' in page and "js/copy.js" in page
    assert "Free tier" in page and "No license has been applied yet" in page
    assert 'name="action" value="preview"' in page and "Apply License" not in page


def test_an_administrator_of_b_sees_b_and_nothing_of_a(vendor, admin_b, page_client_for, tenant_a):
    license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, jti="secret-jti-of-a"), acting_user=None
    )
    page = page_client_for(admin_b).get(URL).content.decode()
    assert str(admin_b.membership.tenant.license_subject) in page
    assert str(tenant_a.license_subject) not in page
    assert "secret-jti-of-a" not in page


def test_pasting_a_good_token_applies_it_and_shows_it_active(
    vendor, admin_a, page_client_for, tenant_a
):
    client = page_client_for(admin_a)
    token = vendor.token(tenant_a, caps={"hosts": 12, "gateways": None, "tasks": 500})
    response = client.post(URL, {"token": token, "action": "apply"}, follow=True)

    assert response.redirect_chain == [(URL, 302)]
    page = response.content.decode()
    assert "License applied: Hosts 10 → 12; Tasks 50 → 500; Free tier → Contract;" in page
    assert "Acme Robotics" in page and "Unlimited" in page and "30 days" in page
    license = License.objects.get()
    assert license.applied_by == admin_a and license.status == "active"


def test_a_refused_token_shows_its_sentence_and_code_keeps_the_paste_and_changes_nothing(
    vendor, admin_a, page_client_for, tenant_a
):
    active = license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    bad = vendor.token(tenant_a, iss="evil-corp")
    response = page_client_for(admin_a).post(URL, {"token": bad})

    assert response.status_code == 400
    page = response.content.decode()
    assert "The license was not applied." in page
    assert "The license was issued by &#x27;evil-corp&#x27;, not by &#x27;tally&#x27;." in page
    assert "<code>wrong_issuer</code>" in page
    assert bad in page  # the paste is kept to fix or copy
    assert list(License.objects.values_list("pk", "status")) == [(active.pk, "active")]


def test_an_empty_form_asks_for_the_token(admin_a, page_client_for):
    response = page_client_for(admin_a).post(URL, {"token": "  "})
    assert response.status_code == 400
    assert "Paste the license token you received from the vendor." in response.content.decode()


def test_history_lists_every_license_newest_first_with_who_applied_it(
    vendor, admin_a, page_client_for, tenant_a
):
    from datetime import UTC, datetime, timedelta

    yesterday = int((datetime.now(UTC) - timedelta(days=1)).timestamp())
    license_apply(
        tenant=tenant_a,
        token=vendor.token(tenant_a, iat=yesterday, kind="trial", drop=("exp",)),
        acting_user=None,
    )
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=admin_a)
    page = page_client_for(admin_a).get(URL).content.decode()
    history = page[page.index("License history") :]
    assert history.index("Active") < history.index("Archived")
    assert history.index("Contract") < history.index("Trial")
    assert "Perpetual" in history and "admin-a" in history


def test_an_expired_license_is_shown_as_such(vendor, admin_a, page_client_for, tenant_a):
    from datetime import UTC, datetime, timedelta

    import time_machine

    license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    with time_machine.travel(datetime.now(UTC) + timedelta(days=40)):
        page = page_client_for(admin_a).get(URL).content.decode()
    assert "Contract · Expired" in page and "Active · expired" in page
    assert "No new hosts, gateways or tasks can be created" in page


def test_times_are_shown_in_the_tenants_time_zone(vendor, admin_a, page_client_for, tenant_a):
    from datetime import UTC, datetime

    tenant_a.timezone = "Europe/Paris"
    tenant_a.save()
    start = int(datetime(2026, 1, 15, 8, 0, tzinfo=UTC).timestamp())
    token = vendor.token(tenant_a, iat=start, nbf=start, drop=("exp",))
    license_apply(tenant=tenant_a, token=token, acting_user=None)
    page = page_client_for(admin_a).get(URL).content.decode()
    assert "15 Jan 2026, 09:00 CET" in page and "Perpetual" in page
