"""POST /api/v1/gateways/<id>/tickets/: a gateway delivers a ticket with its secret."""

import threading

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from rest_framework.test import APIClient

from licensing.api_tokens.services import api_token_create
from tasks.api.tickets import MAX_DELIVERY_BYTES
from tasks.models import Ticket
from tasks.services import GatewayRevoked, gateway_revoke, ticket_receive
from tests.factories import TenantFactory
from tests.tasks.ticket_helpers import gateway_for


def deliver(gateway_id, secret: str | None, payload, **extra):
    client = APIClient()
    if secret is not None:
        extra["HTTP_AUTHORIZATION"] = f"Bearer {secret}"
    return client.post(f"/api/v1/gateways/{gateway_id}/tickets/", payload, format="json", **extra)


TICKET = {"external_id": "INC-1", "subject": "Disk almost full", "body": "on web-3"}


@pytest.fixture
def jira(tenant_a):
    return gateway_for(tenant_a)


def test_a_delivery_is_stored_as_pending_and_answered_with_202(jira, tenant_a):
    gateway, secret = jira
    response = deliver(gateway.pk, secret, TICKET)
    assert response.status_code == 202
    assert response.json()["status"] == "pending"
    ticket = Ticket.objects.get(pk=response.json()["id"])
    assert (ticket.tenant, ticket.gateway, ticket.external_id) == (tenant_a, gateway, "INC-1")
    assert (ticket.subject, ticket.body, ticket.recurrence) == (
        "Disk almost full",
        "on web-3",
        None,
    )


def test_a_redelivery_returns_the_same_ticket_and_changes_nothing(jira):
    gateway, secret = jira
    first = deliver(gateway.pk, secret, TICKET)
    again = deliver(gateway.pk, secret, {**TICKET, "subject": "Something else"})
    assert again.status_code == 202
    assert again.json() == first.json()
    assert again["Idempotent-Replayed"] == "true"
    assert Ticket.objects.get().subject == "Disk almost full"


def test_the_same_external_id_from_two_gateways_makes_two_tickets(jira, tenant_a):
    gateway, secret = jira
    other, other_secret = gateway_for(tenant_a, name="ServiceNow", kind="servicenow")
    deliver(gateway.pk, secret, TICKET)
    deliver(other.pk, other_secret, TICKET)
    assert Ticket.objects.count() == 2


@pytest.mark.parametrize(("asked", "effective"), [(12, 12), (7, 7), (3, 5), (1, 5)])
def test_a_recurrence_is_stored_and_answered_at_its_effective_interval(jira, asked, effective):
    gateway, secret = jira
    response = deliver(gateway.pk, secret, {**TICKET, "recurrence": {"every_minutes": asked}})
    assert response.status_code == 202
    assert response.json()["recurrence"] == {"every_minutes": effective}
    assert Ticket.objects.get().recurrence == {"every_minutes": effective}


@pytest.mark.parametrize(
    "authorization",
    [None, "", "Bearer", "Bearer wrong-secret", "Token {secret}", "Basic {secret}"],
)
def test_a_missing_or_wrong_secret_is_401_and_stores_nothing(jira, authorization):
    gateway, secret = jira
    extra = {}
    if authorization is not None:
        extra["HTTP_AUTHORIZATION"] = authorization.format(secret=secret)
    response = APIClient().post(
        f"/api/v1/gateways/{gateway.pk}/tickets/", TICKET, format="json", **extra
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Bearer")
    assert response.json()["code"] in {"not_authenticated", "authentication_failed"}
    assert not Ticket.objects.exists()


def test_a_revoked_gateway_is_refused_with_401_gateway_revoked_and_stores_nothing(jira):
    gateway, secret = jira
    deliver(gateway.pk, secret, TICKET)
    gateway_revoke(gateway=gateway)

    fresh = deliver(gateway.pk, secret, {**TICKET, "external_id": "INC-2"})
    again = deliver(gateway.pk, secret, TICKET)

    for response in (fresh, again):
        assert response.status_code == 401
        assert response.json()["code"] == "gateway_revoked"
        assert "revoked" in response.json()["detail"]
    assert list(Ticket.objects.values_list("external_id", flat=True)) == ["INC-1"]


def test_a_delivery_that_races_the_revocation_stores_nothing(jira):
    gateway, _secret = jira
    gateway_revoke(gateway=gateway)  # after the delivery was authenticated with `gateway`

    with pytest.raises(GatewayRevoked):
        ticket_receive(gateway=gateway, external_id="INC-1", subject="Late")

    assert not Ticket.objects.exists()


def test_a_logged_in_user_or_an_api_token_is_not_a_gateway(jira, admin_a):
    gateway, _secret = jira
    session = APIClient()
    session.force_login(admin_a)
    assert session.post(f"/api/v1/gateways/{gateway.pk}/tickets/", TICKET).status_code == 401
    token = api_token_create(user=admin_a, name="agent").secret
    response = APIClient().post(
        f"/api/v1/gateways/{gateway.pk}/tickets/",
        TICKET,
        format="json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )
    assert response.status_code == 401
    assert not Ticket.objects.exists()


def test_another_tenants_gateway_id_is_404_with_your_own_secret(jira):
    _gateway, secret = jira
    theirs, _their_secret = gateway_for(TenantFactory())
    response = deliver(theirs.pk, secret, TICKET)
    assert response.status_code == 404
    assert not Ticket.objects.exists()


def test_an_unknown_gateway_id_is_404_for_a_gateway_and_401_for_a_stranger(jira):
    gateway, secret = jira
    assert deliver(gateway.pk + 1000, secret, TICKET).status_code == 404
    assert deliver(gateway.pk + 1000, "guessing", TICKET).status_code == 401


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"subject": "No id"}, "external_id"),
        ({"external_id": "", "subject": "Blank id"}, "external_id"),
        ({"external_id": "x" * 256, "subject": "Long id"}, "external_id"),
        ({"external_id": "INC-2"}, "subject"),
        ({"external_id": "INC-2", "subject": "   "}, "subject"),
        (
            {"external_id": "INC-2", "subject": "s", "recurrence": {"every_minutes": 0}},
            "recurrence",
        ),
        ({"external_id": "INC-2", "subject": "s", "recurrence": {"every": 5}}, "recurrence"),
        ({"external_id": "INC-2", "subject": "s", "recurrence": "hourly"}, "recurrence"),
        (
            {"external_id": "INC-2", "subject": "s", "recurrence": {"every_minutes": 5, "at": 1}},
            "recurrence",
        ),
    ],
)
def test_an_invalid_body_is_a_400_naming_the_field(jira, payload, field):
    gateway, secret = jira
    response = deliver(gateway.pk, secret, payload)
    assert response.status_code == 400
    assert response.json()["code"] == "invalid"
    assert field in response.json()["errors"]
    assert field in response.json()["detail"]
    assert not Ticket.objects.exists()


def test_a_body_that_is_not_a_json_object_is_a_400(jira):
    gateway, secret = jira
    assert deliver(gateway.pk, secret, ["INC-1"]).status_code == 400
    broken = APIClient().post(
        f"/api/v1/gateways/{gateway.pk}/tickets/",
        "{not json",
        content_type="application/json",
        HTTP_AUTHORIZATION=f"Bearer {secret}",
    )
    assert broken.status_code == 400
    assert broken.json()["code"] == "parse_error"


def test_an_oversized_body_is_a_400_too_large_and_stores_nothing(jira):
    gateway, secret = jira
    response = deliver(gateway.pk, secret, {**TICKET, "body": "x" * MAX_DELIVERY_BYTES})
    assert response.status_code == 400
    assert response.json()["code"] == "too_large"
    assert "64 KiB" in response.json()["detail"]
    assert not Ticket.objects.exists()


def test_a_body_just_under_the_limit_is_accepted(jira):
    gateway, secret = jira
    response = deliver(gateway.pk, secret, {**TICKET, "body": "x" * (MAX_DELIVERY_BYTES - 200)})
    assert response.status_code == 202


@pytest.mark.django_db(transaction=True)
def test_two_deliveries_of_the_same_ticket_at_once_store_one_ticket(tenant_a):
    gateway, secret = gateway_for(tenant_a)
    start = threading.Barrier(4)
    answers = []

    def deliver_in_thread(index: int):
        try:
            start.wait()
            answers.append(deliver(gateway.pk, secret, {**TICKET, "body": f"copy {index}"}))
        finally:
            connection.close()

    threads = [threading.Thread(target=deliver_in_thread, args=(i,)) for i in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert [answer.status_code for answer in answers] == [202] * 4
    assert len({answer.json()["id"] for answer in answers}) == 1
    assert Ticket.objects.count() == 1
    assert sum(answer.has_header("Idempotent-Replayed") for answer in answers) == 3


@pytest.mark.parametrize(
    "recurrence", [{"every_minutes": "5"}, {"every_minutes": True}, {"every": 5}, [5], {}]
)
def test_the_receive_service_refuses_a_recurrence_the_engine_could_not_schedule(jira, recurrence):
    gateway, _secret = jira
    with pytest.raises(ValidationError) as refused:
        ticket_receive(gateway=gateway, external_id="INC-1", subject="s", recurrence=recurrence)
    assert "recurrence" in refused.value.message_dict
    assert not Ticket.objects.exists()
