"""Deleting a task or a host and removing a gateway ask first (SPEC §6.2): the list links to a
confirmation page whose GET changes nothing; only its POST acts."""

import pytest

from tasks.engine import run_pass
from tasks.models import Gateway, Host, Schedule, Task
from tasks.services import gateway_create, host_register, task_create
from tests.tasks.ticket_helpers import receive


@pytest.fixture
def things(tenant_a):
    """A task, a host and a gateway of tenant A, as (kind, object, confirmation URL)."""
    task = task_create(tenant=tenant_a, title="Rotate the keys", source=Task.Source.UI)
    host = host_register(tenant=tenant_a, name="web-1")
    gateway, _secret = gateway_create(tenant=tenant_a, name="Jira prod", kind="jira")
    return {
        "task": (task, f"/tasks/{task.pk}/delete/", "/tasks/"),
        "host": (host, f"/hosts/{host.pk}/delete/", "/hosts/"),
        "gateway": (gateway, f"/gateways/{gateway.pk}/remove/", "/gateways/"),
    }


def _still_there(thing) -> bool:
    if isinstance(thing, Gateway):
        return Gateway.objects.registered().filter(pk=thing.pk).exists()
    return type(thing).objects.filter(pk=thing.pk).exists()


KINDS = ["task", "host", "gateway"]


@pytest.mark.parametrize("kind", KINDS)
def test_the_list_links_to_a_confirmation_instead_of_acting_on_one_click(
    things, page_client_for, admin_a, kind
):
    _thing, confirm_url, list_url = things[kind]
    page = page_client_for(admin_a).get(list_url).content.decode()
    assert f'href="{confirm_url}"' in page
    assert f'action="{confirm_url}"' not in page  # no form that acts from the list


@pytest.mark.parametrize("kind", KINDS)
def test_opening_the_confirmation_asks_and_deletes_nothing(things, page_client_for, admin_a, kind):
    thing, confirm_url, list_url = things[kind]
    response = page_client_for(admin_a).get(confirm_url)
    assert response.status_code == 200
    page = response.content.decode()
    assert "?</h1>" in page and str(thing) in page
    assert '<form method="post"' in page and f'href="{list_url}">Cancel</a>' in page
    assert _still_there(thing)


@pytest.mark.parametrize("kind", KINDS)
def test_the_confirmation_button_deletes(things, page_client_for, admin_a, kind):
    thing, confirm_url, list_url = things[kind]
    response = page_client_for(admin_a).post(confirm_url)
    assert (response.status_code, response["Location"]) == (302, list_url)
    assert not _still_there(thing)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_a_member_can_neither_open_nor_answer_a_confirmation(
    things, page_client_for, member_a, kind, method
):
    thing, confirm_url, _list_url = things[kind]
    assert getattr(page_client_for(member_a), method)(confirm_url).status_code == 403
    assert _still_there(thing)


@pytest.mark.parametrize("kind", KINDS)
@pytest.mark.parametrize("method", ["get", "post"])
def test_another_tenants_administrator_gets_404(things, page_client_for, admin_b, kind, method):
    thing, confirm_url, _list_url = things[kind]
    assert getattr(page_client_for(admin_b), method)(confirm_url).status_code == 404
    assert _still_there(thing)


@pytest.mark.parametrize("kind", KINDS)
def test_other_methods_are_refused(things, page_client_for, admin_a, kind):
    thing, confirm_url, _list_url = things[kind]
    assert page_client_for(admin_a).delete(confirm_url).status_code == 405
    assert _still_there(thing)


def test_the_gateway_confirmation_says_its_secret_is_gone_for_good(
    things, page_client_for, admin_a
):
    gateway, confirm_url, _list_url = things["gateway"]
    receive(gateway, "CHG-1", recurrence={"every_minutes": 60})
    run_pass()  # registers a schedule
    page = page_client_for(admin_a).get(confirm_url).content.decode()
    assert "Remove the gateway “Jira prod”?" in page
    assert "Its ingest secret stops working for good" in page
    assert "cannot be restored" in page
    assert "Active schedules its tickets registered, to be paused: 1." in page
    assert Schedule.objects.get().status == Schedule.Status.ACTIVE


def test_the_task_confirmation_says_the_slot_is_not_given_back(things, page_client_for, admin_a):
    _task, confirm_url, _list_url = things["task"]
    page = page_client_for(admin_a).get(confirm_url).content.decode()
    assert "Delete the task “Rotate the keys”?" in page
    assert "does not give its slot back" in page


def test_the_host_confirmation_says_how_many_tasks_lose_their_target(
    things, page_client_for, admin_a, tenant_a
):
    host, confirm_url, _list_url = things["host"]
    task_create(tenant=tenant_a, title="Patch", source=Task.Source.UI, host=host)
    page = page_client_for(admin_a).get(confirm_url).content.decode()
    assert "Tasks that target it: 1. They are kept, without a target host." in page
    page_client_for(admin_a).post(confirm_url)
    assert Task.objects.get(title="Patch").host is None
    assert not Host.objects.filter(pk=host.pk).exists()


def test_an_already_removed_gateway_has_nothing_to_confirm(things, page_client_for, admin_a):
    gateway, confirm_url, _list_url = things["gateway"]
    client = page_client_for(admin_a)
    client.post(confirm_url)
    response = client.get(confirm_url, follow=True)
    assert "was already removed" in response.content.decode()
