"""`/gateways/`: every user of the tenant sees its gateways; administrators create them and
see the ingest secret, once."""

import hashlib
import re

import pytest

from tasks.models import Gateway
from tasks.services import gateway_create
from tasks.views import NEW_GATEWAY_COOKIE
from tests.factories import active_license

pytestmark = pytest.mark.django_db


def test_creating_a_gateway_redirects_and_shows_its_secret_once(page_client_for, admin_a, tenant_a):
    client = page_client_for(admin_a)

    response = client.post("/gateways/", {"name": "Jira", "kind": "jira"})

    assert response.status_code == 303
    assert response["Location"] == "/gateways/"
    assert "data-secret" not in response.content.decode()
    shown = client.get("/gateways/")
    page = shown.content.decode()
    secret = re.search(r"data-secret>([^<]+)</code>", page).group(1)
    gateway = Gateway.objects.get(tenant=tenant_a)
    assert gateway.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert "shown only this once" in page
    assert "no-store" in shown["Cache-Control"]
    refreshed = client.get("/gateways/")
    assert secret not in refreshed.content.decode()
    assert "no-store" in refreshed["Cache-Control"]
    assert Gateway.objects.filter(tenant=tenant_a).count() == 1


def test_the_secret_rides_to_the_page_in_a_short_lived_cookie_never_in_a_server_store(
    page_client_for, admin_a
):
    from django.contrib.sessions.models import Session

    client = page_client_for(admin_a)
    created = client.post("/gateways/", {"name": "Jira", "kind": "jira"})
    cookie = created.cookies[NEW_GATEWAY_COOKIE]
    assert cookie["httponly"] and cookie["samesite"] == "Strict"
    assert cookie["path"] == "/gateways/" and cookie["max-age"] == 60

    shown = client.get("/gateways/")
    secret = re.search(r"data-secret>([^<]+)<", shown.content.decode()).group(1)

    assert shown.cookies[NEW_GATEWAY_COOKIE]["max-age"] == 0  # deleted once shown
    assert all(secret not in str(s.get_decoded()) for s in Session.objects.all())
    assert secret not in str(dict(client.session))


def test_the_secret_cookie_shows_nothing_to_another_login_or_a_member(
    page_client_for, admin_a, member_a, tenant_a
):
    from tests.factories import UserFactory

    created = page_client_for(admin_a).post("/gateways/", {"name": "Jira", "kind": "jira"})
    cookie = created.cookies[NEW_GATEWAY_COOKIE].value
    other_admin = UserFactory(tenant=tenant_a, is_staff=True)
    for user in (other_admin, member_a):
        client = page_client_for(user)
        client.cookies[NEW_GATEWAY_COOKIE] = cookie
        assert "data-secret" not in client.get("/gateways/").content.decode()


def test_a_tampered_secret_cookie_is_ignored(page_client_for, admin_a, tenant_a):
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    client = page_client_for(admin_a)
    client.cookies[NEW_GATEWAY_COOKIE] = f"{admin_a.pk}:{gateway.pk}:forged"

    assert "data-secret" not in client.get("/gateways/").content.decode()


def test_at_the_cap_creating_shows_the_refusal_with_the_numbers(page_client_for, admin_a, tenant_a):
    active_license(tenant_a, gateways=1)
    gateway_create(tenant=tenant_a, name="Jira", kind="jira")

    response = page_client_for(admin_a).post("/gateways/", {"name": "Hook", "kind": "webhook"})

    page = response.content.decode()
    assert response.status_code == 403
    assert 'data-code="gateway_cap_reached"' in page
    assert "1 of 1 gateways used" in page
    assert "data-secret" not in page
    assert Gateway.objects.filter(tenant=tenant_a).count() == 1


def test_the_gateways_page_lists_only_the_tenants_gateways(
    page_client_for, admin_a, tenant_a, tenant_b
):
    gateway_create(tenant=tenant_a, name="Our Jira", kind="jira")
    gateway_create(tenant=tenant_b, name="Their Jira", kind="jira")

    page = page_client_for(admin_a).get("/gateways/").content.decode()

    assert "Our Jira" in page
    assert "Their Jira" not in page


def test_a_member_sees_the_tenants_gateways_read_only_and_no_secret(
    page_client_for, member_a, tenant_a, tenant_b
):
    gateway_create(tenant=tenant_a, name="Our Jira", kind="jira")
    gateway_create(tenant=tenant_b, name="Their Jira", kind="jira")

    response = page_client_for(member_a).get("/gateways/")

    page = response.content.decode()
    assert response.status_code == 200
    assert "Our Jira" in page
    assert "Their Jira" not in page
    assert "Create gateway" not in page
    assert "data-secret" not in page
    assert "<form" not in page.split("<main", 1)[1]


def test_a_member_cannot_create_a_gateway(page_client_for, member_a, tenant_a):
    response = page_client_for(member_a).post("/gateways/", {"name": "Jira", "kind": "jira"})

    assert response.status_code == 403
    assert not Gateway.objects.filter(tenant=tenant_a).exists()


@pytest.mark.parametrize(
    "who, status", [("admin_a", 200), ("member_a", 200), ("operator", 403), ("anonymous", 302)]
)
def test_every_user_of_the_tenant_opens_the_gateways_page(page_client_for, cast, who, status):
    assert page_client_for(cast[who]).get("/gateways/").status_code == status


def test_an_administrator_removes_a_gateway_and_it_shows_as_revoked(
    page_client_for, admin_a, tenant_a
):
    active_license(tenant_a, gateways=1)
    gateway, _secret = gateway_create(tenant=tenant_a, name="Old Jira", kind="jira")
    client = page_client_for(admin_a)
    assert f'href="/gateways/{gateway.pk}/remove/"' in client.get("/gateways/").content.decode()

    response = client.post(f"/gateways/{gateway.pk}/remove/")

    assert response.status_code == 302
    gateway.refresh_from_db()
    assert gateway.revoked_at is not None
    page = client.get(response["Location"]).content.decode()
    row = page.split(f'id="gateway-{gateway.pk}"')[1].split("</tr>")[0]
    assert "Revoked" in row
    assert "/remove/" not in row
    assert "0 of 1" in page


def test_a_member_sees_no_remove_button_and_cannot_remove(page_client_for, member_a, tenant_a):
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    client = page_client_for(member_a)

    assert "/remove/" not in client.get("/gateways/").content.decode()
    assert client.post(f"/gateways/{gateway.pk}/remove/").status_code == 403
    gateway.refresh_from_db()
    assert gateway.revoked_at is None


def test_another_tenants_gateway_cannot_be_removed(page_client_for, admin_a, tenant_b):
    theirs, _secret = gateway_create(tenant=tenant_b, name="Theirs", kind="jira")

    assert page_client_for(admin_a).post(f"/gateways/{theirs.pk}/remove/").status_code == 404
    theirs.refresh_from_db()
    assert theirs.revoked_at is None


def _curl_of_the_new_gateway(client) -> list[str]:
    """The page's curl command for the gateway just created, split as a shell would."""
    import html
    import shlex

    client.post("/gateways/", {"name": "Jira", "kind": "jira"})
    page = client.get("/gateways/").content.decode()
    command = html.unescape(re.search(r"<pre [^>]*data-curl>(.*?)</pre>", page, re.S).group(1))
    return shlex.split(command.replace("\\\n", " "))


def test_the_new_gateway_has_a_ready_curl_line_that_delivers_a_ticket(
    page_client_for, admin_a, tenant_a
):
    import json

    from tasks.models import Ticket

    client = page_client_for(admin_a)
    words = _curl_of_the_new_gateway(client)
    gateway = Gateway.objects.get(tenant=tenant_a)
    url = f"http://testserver/api/v1/gateways/{gateway.pk}/tickets/"  # absolute
    assert words[:4] == ["curl", "-sS", "-X", "POST"] and words[4] == url
    headers = [words[i + 1] for i, word in enumerate(words) if word == "-H"]
    authorization = next(h for h in headers if h.startswith("Authorization: Bearer "))
    secret = authorization.removeprefix("Authorization: Bearer ")
    assert gateway.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert "Content-Type: application/json" in headers
    body = words[words.index("-d") + 1]

    # What the sender would do: POST that body with that header to that URL.
    response = client.post(
        url.removeprefix("http://testserver"),
        data=body,
        content_type="application/json",
        HTTP_AUTHORIZATION=authorization.removeprefix("Authorization: "),
    )

    assert response.status_code == 202, response.content
    ticket = Ticket.objects.get(gateway=gateway)
    assert (ticket.external_id, ticket.subject) == (
        json.loads(body)["external_id"],
        json.loads(body)["subject"],
    )


def test_the_secret_and_the_curl_line_have_copy_buttons_from_a_static_script(
    page_client_for, admin_a
):
    client = page_client_for(admin_a)
    client.post("/gateways/", {"name": "Jira", "kind": "jira"})
    page = client.get("/gateways/").content.decode()
    assert 'data-copy-target="gateway-secret-value"' in page
    assert 'data-copy-target="gateway-curl"' in page
    assert '<script src="/static/js/copy.js" defer></script>' in page
    assert "<script>" not in page  # nothing inline: the CSP would refuse it


def test_the_gateway_list_shows_absolute_delivery_urls_to_administrators(
    page_client_for, admin_a, member_a, tenant_a
):
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    url = f"http://testserver/api/v1/gateways/{gateway.pk}/tickets/"
    assert url in page_client_for(admin_a).get("/gateways/").content.decode()
    assert "/tickets/</code>" not in page_client_for(member_a).get("/gateways/").content.decode()
