"""`/api/v1/tasks/`: members list and create (403 with code, used, cap); admins delete."""

import pytest

from tasks.models import Task
from tasks.services import host_register, task_create
from tests.factories import active_license
from tests.tasks.caps_helpers import create_tasks, task_rows, tasks_used

pytestmark = pytest.mark.django_db


def test_a_member_creates_a_task_and_gets_201(api_client_for, member_a, tenant_a):
    host = host_register(tenant=tenant_a, name="web-1")

    response = api_client_for(member_a).post(
        "/api/v1/tasks/", {"title": "Restart", "host": host.pk}, format="json"
    )

    assert response.status_code == 201
    body = response.json()
    assert (body["title"], body["host"], body["source"], body["creator"]) == (
        "Restart",
        host.pk,
        "api",
        "member-a",
    )
    assert tasks_used(tenant_a) == 1


def test_at_the_cap_the_api_answers_403_with_code_used_and_cap(api_client_for, member_a, tenant_a):
    active_license(tenant_a, tasks=2)
    create_tasks(tenant_a, 2)

    response = api_client_for(member_a).post("/api/v1/tasks/", {"title": "No"}, format="json")

    assert response.status_code == 403
    body = response.json()
    assert {key: body[key] for key in ("code", "dimension", "used", "cap")} == {
        "code": "task_cap_reached",
        "dimension": "tasks",
        "used": 2,
        "cap": 2,
    }
    assert "2 of 2 tasks" in body["detail"]

    active_license(tenant_a, tasks=3)  # a new license moves the cap up
    assert api_client_for(member_a).post("/api/v1/tasks/", {"title": "Yes"}).status_code == 201
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 3


def test_an_expired_license_answers_403_license_expired(api_client_for, member_a, tenant_a):
    active_license(tenant_a, expired=True)

    response = api_client_for(member_a).post("/api/v1/tasks/", {"title": "Late"}, format="json")

    assert response.status_code == 403
    assert response.json()["code"] == "license_expired"
    assert response.json()["dimension"] == "tasks"


def test_a_missing_title_is_a_400_that_names_the_field(api_client_for, member_a):
    response = api_client_for(member_a).post("/api/v1/tasks/", {}, format="json")

    assert response.status_code == 400
    assert "title" in response.json()["errors"]


def test_a_description_over_10000_characters_is_a_400_that_names_the_field(
    api_client_for, member_a, tenant_a
):
    client = api_client_for(member_a)

    too_long = client.post(
        "/api/v1/tasks/", {"title": "t", "description": "x" * 10_001}, format="json"
    )
    longest = client.post(
        "/api/v1/tasks/", {"title": "t", "description": "x" * 10_000}, format="json"
    )

    assert too_long.status_code == 400
    body = too_long.json()
    assert body["code"] == "invalid"
    assert "10000 characters" in body["errors"]["description"][0]
    assert longest.status_code == 201
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1


def test_another_tenants_host_is_not_a_valid_host(api_client_for, member_a, tenant_b):
    theirs = host_register(tenant=tenant_b, name="theirs")

    response = api_client_for(member_a).post(
        "/api/v1/tasks/", {"title": "Sneaky", "host": theirs.pk}, format="json"
    )

    assert response.status_code == 400
    assert "host" in response.json()["errors"]


def test_the_list_holds_only_the_callers_tenants_tasks(
    api_client_for, member_a, tenant_a, tenant_b
):
    task_create(tenant=tenant_a, title="Ours", source=Task.Source.UI)
    task_create(tenant=tenant_b, title="Theirs", source=Task.Source.UI)

    body = api_client_for(member_a).get("/api/v1/tasks/").json()

    assert [task["title"] for task in body["results"]] == ["Ours"]


def test_an_administrator_deletes_a_task_and_the_count_stays(api_client_for, admin_a, tenant_a):
    task = task_create(tenant=tenant_a, title="Gone", source=Task.Source.UI)

    assert api_client_for(admin_a).delete(f"/api/v1/tasks/{task.pk}/").status_code == 204
    assert task_rows(tenant_a) == 0
    assert tasks_used(tenant_a) == 1


def test_a_member_cannot_delete_a_task(api_client_for, member_a, tenant_a):
    task = task_create(tenant=tenant_a, title="Stays", source=Task.Source.UI)

    assert api_client_for(member_a).delete(f"/api/v1/tasks/{task.pk}/").status_code == 403
    assert task_rows(tenant_a) == 1


def test_another_tenants_task_is_a_404(api_client_for, admin_a, tenant_b):
    theirs = task_create(tenant=tenant_b, title="Theirs", source=Task.Source.UI)
    client = api_client_for(admin_a)

    assert client.get(f"/api/v1/tasks/{theirs.pk}/").status_code == 404
    assert client.delete(f"/api/v1/tasks/{theirs.pk}/").status_code == 404
    assert Task.objects.filter(pk=theirs.pk).exists()


@pytest.mark.parametrize(
    "who, status", [("anonymous", 401), ("operator", 403), ("member_a", 200), ("admin_a", 200)]
)
def test_who_may_list_tasks(api_client_for, cast, who, status):
    assert api_client_for(cast[who]).get("/api/v1/tasks/").status_code == status
