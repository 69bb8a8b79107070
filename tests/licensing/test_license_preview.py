"""Settings > License, two steps: a pasted token is previewed (each cap old → new, the validity
window, the kind, the customer; nothing changes), then **Apply License** applies the same token
and the message says what changed, pointing to the Tickets page when tickets were rejected."""

from datetime import UTC, datetime, timedelta

from licensing.models import License
from licensing.services import license_apply
from tests.factories import HostFactory, TicketFactory

URL = "/settings/license/"


def _preview(client, token):
    return client.post(URL, {"token": token, "action": "preview"})


def _cells(page: str) -> str:
    preview = page[page.index('data-testid="license-preview"') : page.index("Apply License")]
    return " ".join(preview.split())


def test_a_pasted_token_is_previewed_old_to_new_and_nothing_changes(
    vendor, admin_a, page_client_for, tenant_a
):
    license_apply(
        tenant=tenant_a, token=vendor.token(tenant_a, drop=("customer",)), acting_user=None
    )
    token = vendor.token(
        tenant_a,
        kind="trial",
        customer="Initech",
        caps={"hosts": 12, "gateways": None, "tasks": 1000},
    )
    response = _preview(page_client_for(admin_a), token)

    assert response.status_code == 200
    page = response.content.decode()
    cells = _cells(page)
    assert '<tr> <th scope="row">Hosts</th> <td>12</td> <td>12' in cells
    assert '<tr class="changed"> <th scope="row">Gateways</th> <td>5</td> <td>Unlimited' in cells
    assert "<td>500</td> <td>1,000" in cells
    assert '<th scope="row">Kind</th><td>Contract</td><td>Trial</td>' in cells
    assert '<th scope="row">Customer</th><td>—</td><td>Initech</td>' in cells
    assert f'<input type="hidden" name="token" value="{token}">' in page
    active = License.objects.get(status="active")
    assert (active.tasks_cap, active.customer, License.objects.count()) == (500, "", 1)


def test_the_preview_warns_when_a_new_cap_is_below_what_is_used(
    vendor, admin_a, page_client_for, tenant_a
):
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    HostFactory.create_batch(3, tenant=tenant_a)
    token = vendor.token(tenant_a, caps={"hosts": 2, "gateways": 5, "tasks": 500})
    cells = _cells(_preview(page_client_for(admin_a), token).content.decode())
    assert "below the 3 used: no more can be created" in cells


def test_a_refused_paste_is_explained_at_the_preview_with_nothing_to_apply(
    vendor, admin_a, page_client_for, tenant_a
):
    token = vendor.token(tenant_a)
    license_apply(tenant=tenant_a, token=token, acting_user=None)
    response = _preview(page_client_for(admin_a), token)
    assert response.status_code == 400
    page = response.content.decode()
    assert "<code>already_applied</code>" in page and "Apply License" not in page


def test_a_post_without_action_only_previews(vendor, admin_a, page_client_for, tenant_a):
    response = page_client_for(admin_a).post(URL, {"token": vendor.token(tenant_a)})
    assert response.status_code == 200 and "Apply License" in response.content.decode()
    assert not License.objects.exists()


def test_apply_says_what_changed_with_dates_in_the_tenants_zone(
    vendor, admin_a, page_client_for, tenant_a
):
    tenant_a.timezone = "Pacific/Auckland"
    tenant_a.save()
    license_apply(tenant=tenant_a, token=vendor.token(tenant_a), acting_user=None)
    now = datetime.now(UTC)
    # 20:00 UTC on the last day is the next morning in Auckland.
    ends = (now + timedelta(days=400)).replace(hour=20, minute=0, second=0, microsecond=0)
    token = vendor.token(
        tenant_a, caps={"hosts": 12, "gateways": 5, "tasks": 1000}, exp=int(ends.timestamp())
    )
    response = page_client_for(admin_a).post(URL, {"token": token, "action": "apply"}, follow=True)
    page = response.content.decode()
    local_end = ends + timedelta(days=1)
    assert f"License applied: Tasks 500 → 1,000; valid until {local_end:%Y-%m-%d}." in page
    assert "Tickets page" not in page


def test_apply_points_to_the_tickets_page_when_tickets_were_rejected(
    vendor, admin_a, page_client_for, tenant_a
):
    TicketFactory.create_batch(2, tenant=tenant_a, status="rejected")
    TicketFactory(tenant=tenant_a, status="pending")
    response = page_client_for(admin_a).post(
        URL, {"token": vendor.token(tenant_a), "action": "apply"}, follow=True
    )
    page = response.content.decode()
    assert '2 rejected tickets can be retried on the <a href="/tickets/">Tickets page</a>.' in page
