"""`tenant_usage`: what counts against each cap, the one definition every page, API and the
guard use."""

import pytest

from tasks.models import Task, TaskCounter
from tasks.selectors import tenant_usage
from tasks.services import (
    gateway_create,
    gateway_revoke,
    host_delete,
    host_register,
    task_create,
    task_delete,
)
from tests.factories import active_license

pytestmark = pytest.mark.django_db


def test_a_new_tenant_uses_nothing(tenant_a):
    assert tenant_usage(tenant_a) == {"hosts": 0, "gateways": 0, "tasks": 0}


def test_hosts_registered_now_gateways_not_revoked_and_tasks_ever_created_count(tenant_a):
    active_license(tenant_a, hosts=5, gateways=5, tasks=10)
    host_register(tenant=tenant_a, name="web-1")
    gone = host_register(tenant=tenant_a, name="web-2")
    gateway_create(tenant=tenant_a, name="Jira", kind="jira")
    revoked, _secret = gateway_create(tenant=tenant_a, name="Old", kind="webhook")
    tasks = [task_create(tenant=tenant_a, title=f"T{n}", source=Task.Source.API) for n in range(3)]

    host_delete(host=gone)  # frees its slot
    gateway_revoke(gateway=revoked)  # frees its slot; the gateway stays, with its tickets
    task_delete(task=tasks[0])  # gives nothing back: the tasks cap is for life

    assert tenant_usage(tenant_a) == {"hosts": 1, "gateways": 1, "tasks": 3}


def test_tasks_are_the_lifetime_counter_not_the_rows(tenant_a, tenant_b):
    TaskCounter.objects.filter(tenant=tenant_a).update(used=7)

    assert tenant_usage(tenant_a)["tasks"] == 7
    assert tenant_usage(tenant_b)["tasks"] == 0


def test_a_tenant_without_a_counter_row_has_used_no_task(tenant_a):
    TaskCounter.objects.filter(tenant=tenant_a).delete()

    assert tenant_usage(tenant_a)["tasks"] == 0


def test_usage_costs_one_query(tenant_a, django_assert_num_queries):
    with django_assert_num_queries(1):
        tenant_usage(tenant_a)
