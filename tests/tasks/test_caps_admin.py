"""The Django admin adds tasks, hosts and gateways through the services: refused at the cap."""

import hashlib

import pytest
from django.contrib.messages import get_messages

from tasks.models import Gateway, Host, Task
from tasks.services import gateway_create, host_register
from tests.factories import active_license
from tests.tasks.caps_helpers import create_tasks, task_rows, tasks_used

pytestmark = pytest.mark.django_db


def _task_form(tenant, title: str) -> dict:
    return {"tenant": tenant.pk, "title": title, "description": "", "host": "", "kind": "ad_hoc"}


def _messages(response) -> list[tuple[str, str]]:
    return [(message.level_tag, str(message)) for message in get_messages(response.wsgi_request)]


def test_an_operator_adds_a_task_through_the_guarded_path(page_client_for, operator, tenant_a):
    response = page_client_for(operator).post(
        "/admin/tasks/task/add/", _task_form(tenant_a, "From the admin")
    )

    assert response.status_code == 302
    task = Task.objects.get(tenant=tenant_a)
    assert (task.source, task.creator) == (Task.Source.ADMIN, operator)
    assert tasks_used(tenant_a) == 1


def test_at_the_cap_the_operator_sees_an_error_and_nothing_is_saved(
    page_client_for, operator, tenant_a
):
    active_license(tenant_a, tasks=1)
    create_tasks(tenant_a, 1)

    response = page_client_for(operator).post(
        "/admin/tasks/task/add/", _task_form(tenant_a, "One too many")
    )

    assert response.status_code == 302
    assert response["Location"] == "/admin/tasks/task/add/"
    shown = _messages(response)
    assert [level for level, _text in shown] == ["error"]
    assert "1 of 1 tasks used" in shown[0][1]
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1


def test_at_the_hosts_cap_the_operator_sees_an_error(page_client_for, operator, tenant_a):
    active_license(tenant_a, hosts=1)
    host_register(tenant=tenant_a, name="web-1")

    response = page_client_for(operator).post(
        "/admin/tasks/host/add/", {"tenant": tenant_a.pk, "name": "web-2"}
    )

    shown = _messages(response)
    assert [level for level, _text in shown] == ["error"]
    assert "1 of 1 hosts used" in shown[0][1]
    assert Host.objects.filter(tenant=tenant_a).count() == 1


def test_an_operator_adding_a_gateway_is_shown_its_secret_once(page_client_for, operator, tenant_a):
    response = page_client_for(operator).post(
        "/admin/tasks/gateway/add/", {"tenant": tenant_a.pk, "name": "Jira", "kind": "jira"}
    )

    gateway = Gateway.objects.get(tenant=tenant_a)
    secret_messages = [text for _level, text in _messages(response) if "secret" in text]
    assert len(secret_messages) == 1
    secret = secret_messages[0].rsplit(" ", 1)[1]
    assert gateway.secret_hash == hashlib.sha256(secret.encode()).hexdigest()


def test_at_the_gateways_cap_the_operator_sees_an_error(page_client_for, operator, tenant_a):
    active_license(tenant_a, gateways=1)
    gateway_create(tenant=tenant_a, name="Jira", kind="jira")

    response = page_client_for(operator).post(
        "/admin/tasks/gateway/add/", {"tenant": tenant_a.pk, "name": "Hook", "kind": "webhook"}
    )

    assert [level for level, _text in _messages(response)] == ["error"]
    assert Gateway.objects.filter(tenant=tenant_a).count() == 1


def test_an_expired_license_is_an_error_in_the_admin_too(page_client_for, operator, tenant_a):
    active_license(tenant_a, expired=True)

    response = page_client_for(operator).post(
        "/admin/tasks/task/add/", _task_form(tenant_a, "Late")
    )

    shown = _messages(response)
    assert [level for level, _text in shown] == ["error"]
    assert "expired" in shown[0][1]
    assert task_rows(tenant_a) == 0


def test_editing_a_task_in_the_admin_does_not_count_it_again(page_client_for, operator, tenant_a):
    (task,) = create_tasks(tenant_a, 1)

    response = page_client_for(operator).post(
        f"/admin/tasks/task/{task.pk}/change/", {"title": "Renamed", "description": "Now clear."}
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert task.title == "Renamed"
    assert tasks_used(tenant_a) == 1


def test_tenant_administrators_cannot_open_the_admin(page_client_for, admin_a):
    response = page_client_for(admin_a).get("/admin/tasks/task/add/")

    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_a_task_from_before_the_description_limit_can_still_be_edited(
    page_client_for, operator, tenant_a
):
    """Its description is kept whole and shown read-only; the rest of the task stays editable."""
    (task,) = create_tasks(tenant_a, 1)
    long_description = "y" * (Task._meta.get_field("description").max_length + 1)
    Task.objects.filter(pk=task.pk).update(description=long_description)

    response = page_client_for(operator).post(
        f"/admin/tasks/task/{task.pk}/change/", {"title": "Renamed"}
    )

    assert response.status_code == 302
    task.refresh_from_db()
    assert (task.title, task.description) == ("Renamed", long_description)
