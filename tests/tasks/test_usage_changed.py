"""`tasks.signals.usage_changed`: sent by the guard inside the transaction of every change.

A receiver sees the change already made in its transaction, with the numbers before and
after, the cap and the license; a receiver that fails takes the change back with it.
"""

from collections.abc import Iterator

import pytest
from django.db import connection

from licensing.models import License
from tasks.engine import run_pass
from tasks.models import Gateway, Host, Task
from tasks.selectors import tenant_usage
from tasks.services import gateway_create, gateway_revoke, host_delete, host_register, task_create
from tasks.signals import usage_changed
from tests.factories import active_license
from tests.tasks.ticket_helpers import receive

pytestmark = [pytest.mark.django_db(transaction=True)]


@pytest.fixture
def sent() -> Iterator[list[dict]]:
    """Every usage_changed sent, with whether it came inside a transaction and the usage
    the receiver could read at that moment."""
    seen: list[dict] = []

    def record(sender, **kwargs) -> None:
        tenant_id = kwargs["tenant_id"]
        kwargs.pop("signal")
        seen.append(
            {
                **kwargs,
                "sender": sender,
                "in_transaction": connection.in_atomic_block,
                "visible": tenant_usage(License(tenant_id=tenant_id).tenant)[kwargs["dimension"]],
            }
        )

    usage_changed.connect(record)
    yield seen
    usage_changed.disconnect(record)


def _expected(tenant, license, dimension: str, before: int, after: int, cap) -> dict:
    return {
        "sender": {"tasks": Task, "hosts": Host, "gateways": Gateway}[dimension],
        "tenant_id": tenant.pk,
        "dimension": dimension,
        "used_before": before,
        "used_after": after,
        "cap": cap,
        "license_jti": license.jti,
        "in_transaction": True,
        "visible": after,  # the receiver already sees the change, in the same transaction
    }


def _by_service(tenant, admin, operator, clients) -> None:
    task_create(tenant=tenant, title="Rotate the logs", source=Task.Source.API)


def _by_page(tenant, admin, operator, clients) -> None:
    response = clients["page"](admin).post("/tasks/", {"title": "Rotate the logs"})
    assert response.status_code == 302


def _by_api(tenant, admin, operator, clients) -> None:
    response = clients["api"](admin).post("/api/v1/tasks/", {"title": "Rotate"}, format="json")
    assert response.status_code == 201


def _by_admin(tenant, admin, operator, clients) -> None:
    form = {"tenant": tenant.pk, "title": "Rotate", "description": "", "host": "", "kind": "ad_hoc"}
    assert clients["page"](operator).post("/admin/tasks/task/add/", form).status_code == 302


def _by_engine(tenant, admin, operator, clients) -> None:
    gateway = Gateway.objects.get(tenant=tenant)
    receive(gateway, "INC-1")
    assert run_pass().converted == 1


def _by_orm_save(tenant, admin, operator, clients) -> None:
    Task.objects.create(tenant=tenant, title="Rotate the logs", source=Task.Source.ADMIN)


@pytest.mark.parametrize(
    "create",
    [_by_service, _by_page, _by_api, _by_admin, _by_engine, _by_orm_save],
    ids=["service", "page", "api", "admin", "engine", "orm_save"],
)
def test_every_counted_task_is_announced_inside_its_transaction(
    create, tenant_a, admin_a, operator, page_client_for, api_client_for, sent
):
    license = active_license(tenant_a, tasks=10, gateways=2)
    gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    task_create(tenant=tenant_a, title="First", source=Task.Source.API)
    sent.clear()

    create(tenant_a, admin_a, operator, {"page": page_client_for, "api": api_client_for})

    assert sent == [_expected(tenant_a, license, "tasks", 1, 2, 10)]


def test_hosts_and_gateways_are_announced_when_registered_and_when_removed(tenant_a, sent):
    license = active_license(tenant_a, hosts=3, gateways=None)
    host_register(tenant=tenant_a, name="web-1")
    host = host_register(tenant=tenant_a, name="web-2")
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    host_delete(host=host)
    gateway_revoke(gateway=gateway)
    gateway_revoke(gateway=gateway)  # already revoked: nothing changes, nothing is sent

    assert sent == [
        _expected(tenant_a, license, "hosts", 0, 1, 3),
        _expected(tenant_a, license, "hosts", 1, 2, 3),
        _expected(tenant_a, license, "gateways", 0, 1, None),
        _expected(tenant_a, license, "hosts", 2, 1, 3),
        _expected(tenant_a, license, "gateways", 1, 0, None),
    ]


def test_an_operator_deleting_a_host_in_the_admin_frees_its_slot_through_the_guard(
    tenant_a, operator, page_client_for, sent
):
    license = active_license(tenant_a, hosts=3)
    host = host_register(tenant=tenant_a, name="web-1")
    sent.clear()

    response = page_client_for(operator).post(
        f"/admin/tasks/host/{host.pk}/delete/", {"post": "yes"}
    )

    assert response.status_code == 302
    assert not Host.objects.filter(pk=host.pk).exists()
    assert sent == [_expected(tenant_a, license, "hosts", 1, 0, 3)]


def test_on_the_free_tier_the_license_is_none_and_a_refusal_sends_nothing(tenant_a, sent):
    host_register(tenant=tenant_a, name="web-1")
    active_license(tenant_a, hosts=1, tasks=0)
    with pytest.raises(Exception, match="cap is reached"):
        host_register(tenant=tenant_a, name="web-2")
    with pytest.raises(Exception, match="cap is reached"):
        task_create(tenant=tenant_a, title="No room", source=Task.Source.API)

    [free_tier] = sent
    assert (free_tier["license_jti"], free_tier["cap"]) == (None, 10)


class ReceiverFailed(Exception):
    pass


def _failing(sender, **kwargs) -> None:
    raise ReceiverFailed


@pytest.mark.parametrize(
    "change",
    [
        lambda tenant: task_create(tenant=tenant, title="Rotate", source=Task.Source.API),
        lambda tenant: Task.objects.create(tenant=tenant, title="Rotate", source="admin"),
        lambda tenant: host_register(tenant=tenant, name="web-2"),
        lambda tenant: host_delete(host=Host.objects.get(tenant=tenant)),
        lambda tenant: gateway_revoke(gateway=Gateway.objects.get(tenant=tenant)),
    ],
    ids=["task_create", "orm_save", "host_register", "host_delete", "gateway_revoke"],
)
def test_a_receiver_that_fails_takes_the_change_back_with_it(change, tenant_a):
    active_license(tenant_a, tasks=10)
    host_register(tenant=tenant_a, name="web-1")
    gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    before = tenant_usage(tenant_a)
    usage_changed.connect(_failing)
    try:
        with pytest.raises(ReceiverFailed):
            change(tenant_a)
    finally:
        usage_changed.disconnect(_failing)

    assert tenant_usage(tenant_a) == before
    assert Task.objects.filter(tenant=tenant_a).count() == before["tasks"]


def test_a_failing_receiver_leaves_the_ticket_pending_for_the_next_engine_pass(tenant_a):
    active_license(tenant_a, tasks=10)
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    ticket = receive(gateway, "INC-1")
    usage_changed.connect(_failing)
    try:
        assert run_pass().failed == [f"ticket {ticket.pk}"]
    finally:
        usage_changed.disconnect(_failing)

    ticket.refresh_from_db()
    assert (ticket.status, tenant_usage(tenant_a)["tasks"]) == ("pending", 0)
    assert run_pass().converted == 1
