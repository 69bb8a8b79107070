"""`/` and `/tasks/`: the tenant's tasks and the create form, refused with the numbers."""

import pytest

from tasks.models import Task
from tasks.services import host_register, task_create
from tests.factories import active_license
from tests.tasks.caps_helpers import create_tasks, task_rows, tasks_used

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("url", ["/", "/tasks/"])
def test_a_member_sees_only_the_tasks_of_their_tenant(page_client_for, member_a, tenant_b, url):
    task_create(tenant=member_a.membership.tenant, title="Ours", source=Task.Source.UI)
    task_create(tenant=tenant_b, title="Theirs", source=Task.Source.UI)

    response = page_client_for(member_a).get(url)

    assert response.status_code == 200
    assert "Ours" in response.content.decode()
    assert "Theirs" not in response.content.decode()


def test_a_member_creates_a_task_from_the_form(page_client_for, member_a, tenant_a):
    host = host_register(tenant=tenant_a, name="web-1")

    response = page_client_for(member_a).post(
        "/tasks/", {"title": "Restart nginx", "description": "It hangs.", "host": host.pk}
    )

    assert response.status_code == 302
    task = Task.objects.get(tenant=tenant_a)
    assert (task.title, task.host, task.source, task.creator) == (
        "Restart nginx",
        host,
        Task.Source.UI,
        member_a,
    )
    page = page_client_for(member_a).get(response["Location"]).content.decode()
    assert "Task “Restart nginx” created." in page


def test_a_description_over_10000_characters_is_refused_on_the_form(
    page_client_for, member_a, tenant_a
):
    response = page_client_for(member_a).post(
        "/tasks/", {"title": "Long", "description": "x" * 10_001}
    )

    assert response.status_code == 200
    assert "at most 10000 characters" in response.content.decode()
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 0


def test_at_the_cap_the_form_shows_the_refusal_with_the_numbers(page_client_for, admin_a, tenant_a):
    active_license(tenant_a, tasks=2)
    create_tasks(tenant_a, 2)

    response = page_client_for(admin_a).post("/tasks/", {"title": "One too many"})

    page = response.content.decode()
    assert response.status_code == 403
    assert 'data-code="task_cap_reached"' in page
    assert "2 of 2 tasks used" in page
    assert 'href="/usage/"' in page
    assert 'value="One too many"' in page  # what was typed is kept
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 2


def test_a_member_at_the_cap_is_told_to_ask_an_administrator(page_client_for, member_a, tenant_a):
    active_license(tenant_a, tasks=0)

    page = page_client_for(member_a).post("/", {"title": "Nope"}).content.decode()

    assert "0 of 0 tasks used" in page
    assert "Ask an administrator" in page
    assert 'href="/usage/"' not in page


def test_an_expired_license_is_shown_on_the_tasks_page(page_client_for, member_a, tenant_a):
    active_license(tenant_a, expired=True)

    response = page_client_for(member_a).post("/tasks/", {"title": "Late"})

    assert response.status_code == 403
    assert 'data-code="license_expired"' in response.content.decode()
    assert task_rows(tenant_a) == 0


def test_a_host_of_another_tenant_cannot_be_chosen(page_client_for, member_a, tenant_b):
    theirs = host_register(tenant=tenant_b, name="theirs")

    response = page_client_for(member_a).post("/tasks/", {"title": "Sneaky", "host": theirs.pk})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert not Task.objects.exists()


def test_the_page_shows_the_lifetime_count_against_the_cap(page_client_for, member_a, tenant_a):
    active_license(tenant_a, tasks=500)
    create_tasks(tenant_a, 3)

    page = page_client_for(member_a).get("/tasks/").content.decode()

    assert "<strong>3 of 500</strong> tasks created" in page


def test_an_administrator_deletes_a_task_and_the_count_stays(page_client_for, admin_a, tenant_a):
    task = task_create(tenant=tenant_a, title="Obsolete", source=Task.Source.UI)

    response = page_client_for(admin_a).post(f"/tasks/{task.pk}/delete/")

    assert response.status_code == 302
    assert task_rows(tenant_a) == 0
    assert tasks_used(tenant_a) == 1


def test_a_member_cannot_delete_a_task(page_client_for, member_a, tenant_a):
    task = task_create(tenant=tenant_a, title="Keep", source=Task.Source.UI)

    assert page_client_for(member_a).post(f"/tasks/{task.pk}/delete/").status_code == 403
    assert task_rows(tenant_a) == 1


def test_an_administrator_cannot_delete_another_tenants_task(page_client_for, admin_a, tenant_b):
    theirs = task_create(tenant=tenant_b, title="Theirs", source=Task.Source.UI)

    assert page_client_for(admin_a).post(f"/tasks/{theirs.pk}/delete/").status_code == 404
    assert Task.objects.filter(pk=theirs.pk).exists()


def test_anonymous_visitors_are_sent_to_the_login_page(client):
    for url in ("/", "/tasks/"):
        response = client.get(url)
        assert response.status_code == 302
        assert response["Location"].startswith("/accounts/login/")


def test_an_operator_opening_home_goes_to_the_admin_site(page_client_for, operator):
    response = page_client_for(operator).get("/")

    assert response.status_code == 302
    assert response["Location"] == "/admin/"
