"""The guarded creation path (SPEC §3): services and the ORM guard, on any database."""

from datetime import timedelta

import pytest
import time_machine
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from licensing.errors import CapReached, LicenseExpired
from tasks.models import Gateway, Host, Task, TaskCounter
from tasks.models.tasks import UnguardedCreateRefused
from tasks.services import gateway_create, host_delete, host_register, task_create, task_delete
from tests.factories import LicenseFactory, TenantFactory, active_license
from tests.tasks.caps_helpers import create_tasks, task_rows, tasks_used

pytestmark = pytest.mark.django_db


class ProxyTask(Task):
    class Meta:
        proxy = True
        app_label = "tasks"


def test_task_create_is_refused_with_the_numbers_when_the_lifetime_cap_is_reached(tenant_a):
    active_license(tenant_a, tasks=3)
    create_tasks(tenant_a, 3)

    with pytest.raises(CapReached) as refused:
        task_create(tenant=tenant_a, title="One too many", source=Task.Source.UI)

    assert refused.value.as_dict() == {
        "code": "task_cap_reached",
        "detail": refused.value.detail,
        "dimension": "tasks",
        "used": 3,
        "cap": 3,
    }
    assert "3 of 3 tasks" in refused.value.detail
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 3


def test_the_cap_moves_up_and_down_with_each_new_license(tenant_a):
    active_license(tenant_a, tasks=2)
    create_tasks(tenant_a, 2)
    with pytest.raises(CapReached):
        create_tasks(tenant_a, 1)

    active_license(tenant_a, tasks=4)
    create_tasks(tenant_a, 2)
    with pytest.raises(CapReached) as refused:
        create_tasks(tenant_a, 1)
    assert (refused.value.used, refused.value.cap) == (4, 4)

    active_license(tenant_a, tasks=1)  # below what is already used: nothing new, the rest stays
    with pytest.raises(CapReached) as refused:
        create_tasks(tenant_a, 1)
    assert (refused.value.used, refused.value.cap) == (4, 1)

    active_license(tenant_a, tasks=None)
    create_tasks(tenant_a, 3)
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 7


def test_deleting_tasks_never_gives_a_slot_back(tenant_a):
    active_license(tenant_a, tasks=2)
    for task in create_tasks(tenant_a, 2):
        task_delete(task=task)

    with pytest.raises(CapReached) as refused:
        create_tasks(tenant_a, 1)

    assert task_rows(tenant_a) == 0
    assert refused.value.used == tasks_used(tenant_a) == 2


def test_the_lifetime_count_carries_from_the_free_tier_into_a_license(tenant_a):
    create_tasks(tenant_a, 50)  # the free tier's lifetime cap
    with pytest.raises(CapReached) as refused:
        create_tasks(tenant_a, 1)
    assert (refused.value.used, refused.value.cap) == (50, 50)

    active_license(tenant_a, tasks=52)
    create_tasks(tenant_a, 2)
    with pytest.raises(CapReached) as refused:
        create_tasks(tenant_a, 1)
    assert (refused.value.used, refused.value.cap) == (52, 52)


def test_deleting_a_host_frees_its_slot(tenant_a):
    active_license(tenant_a, hosts=2)
    first = host_register(tenant=tenant_a, name="web-1")
    host_register(tenant=tenant_a, name="web-2")
    with pytest.raises(CapReached) as refused:
        host_register(tenant=tenant_a, name="web-3")
    assert refused.value.as_dict()["code"] == "host_cap_reached"
    assert (refused.value.used, refused.value.cap) == (2, 2)

    host_delete(host=first)
    host_register(tenant=tenant_a, name="web-3")

    assert sorted(Host.objects.filter(tenant=tenant_a).values_list("name", flat=True)) == [
        "web-2",
        "web-3",
    ]


def test_the_free_tier_allows_ten_hosts_and_unlimited_gateways(tenant_a):
    for number in range(10):
        host_register(tenant=tenant_a, name=f"host-{number}")
    with pytest.raises(CapReached) as refused:
        host_register(tenant=tenant_a, name="host-10")
    assert (refused.value.used, refused.value.cap) == (10, 10)

    for number in range(12):
        gateway_create(tenant=tenant_a, name=f"gateway-{number}", kind=Gateway.Kind.WEBHOOK)
    assert Gateway.objects.filter(tenant=tenant_a).count() == 12


def test_gateway_create_is_refused_at_the_gateways_cap(tenant_a):
    active_license(tenant_a, gateways=1)
    gateway_create(tenant=tenant_a, name="Jira", kind=Gateway.Kind.JIRA)

    with pytest.raises(CapReached) as refused:
        gateway_create(tenant=tenant_a, name="ServiceNow", kind=Gateway.Kind.SERVICENOW)

    assert refused.value.as_dict()["code"] == "gateway_cap_reached"
    assert (refused.value.used, refused.value.cap) == (1, 1)


def test_an_expired_license_refuses_every_dimension_and_the_free_tier_is_no_fallback(tenant_a):
    active_license(tenant_a, hosts=10, gateways=5, tasks=100, expired=True)
    attempts = {
        "tasks": lambda: task_create(tenant=tenant_a, title="Late", source=Task.Source.UI),
        "hosts": lambda: host_register(tenant=tenant_a, name="web-1"),
        "gateways": lambda: gateway_create(tenant=tenant_a, name="Jira", kind="jira"),
    }
    for dimension, attempt in attempts.items():
        with pytest.raises(LicenseExpired) as refused:
            attempt()
        assert refused.value.as_dict()["code"] == "license_expired"
        assert refused.value.dimension == dimension

    with pytest.raises(LicenseExpired):
        Task.objects.create(tenant=tenant_a, title="Through the ORM", source=Task.Source.ADMIN)
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 0
    assert not Host.objects.filter(tenant=tenant_a).exists()
    assert not Gateway.objects.filter(tenant=tenant_a).exists()


def test_a_plain_orm_create_is_counted_and_refused_at_the_cap(tenant_a):
    active_license(tenant_a, tasks=2)
    Task.objects.create(tenant=tenant_a, title="ORM 1", source=Task.Source.ADMIN)
    Task(tenant=tenant_a, title="ORM 2", source=Task.Source.ADMIN).save()
    assert tasks_used(tenant_a) == 2

    with pytest.raises(CapReached) as refused:
        Task.objects.create(tenant=tenant_a, title="ORM 3", source=Task.Source.ADMIN)
    with pytest.raises(CapReached):
        Task.objects.get_or_create(tenant=tenant_a, title="ORM 4", source=Task.Source.ADMIN)
    with pytest.raises(CapReached):
        ProxyTask.objects.create(tenant=tenant_a, title="Proxy", source=Task.Source.ADMIN)

    assert refused.value.as_dict()["code"] == "task_cap_reached"
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 2


def test_a_refused_orm_create_leaves_the_callers_transaction_usable(tenant_a):
    active_license(tenant_a, tasks=1)
    with transaction.atomic():
        Task.objects.create(tenant=tenant_a, title="Fits", source=Task.Source.ADMIN)
        refused_task = Task(tenant=tenant_a, title="Does not fit", source=Task.Source.ADMIN)
        with pytest.raises(CapReached):
            refused_task.save()
        Host.objects.create(tenant=tenant_a, name="still-usable")

    assert refused_task.pk is None
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1
    assert Host.objects.filter(tenant=tenant_a, name="still-usable").exists()


@pytest.mark.parametrize(
    "manager",
    [
        lambda tenant: Task.objects,
        lambda tenant: Task._base_manager,  # what Django itself uses internally
        lambda tenant: tenant.tasks,
    ],
    ids=["objects", "base_manager", "related_manager"],
)
def test_bulk_create_of_tasks_refuses_even_below_the_cap(tenant_a, manager):
    with pytest.raises(UnguardedCreateRefused) as refused:
        manager(tenant_a).bulk_create([Task(tenant=tenant_a, title="Bulk", source=Task.Source.API)])

    assert refused.value.as_dict()["code"] == "unguarded_create_refused"
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 0


def test_editing_a_task_does_not_count_it_again(tenant_a):
    task = task_create(tenant=tenant_a, title="Draft", source=Task.Source.UI)
    task.title = "Final"
    task.save()

    assert tasks_used(tenant_a) == 1


def test_each_tenant_counts_its_own_tasks(tenant_a, tenant_b):
    active_license(tenant_a, tasks=1)
    create_tasks(tenant_a, 1)
    create_tasks(tenant_b, 3)

    assert (tasks_used(tenant_a), tasks_used(tenant_b)) == (1, 3)


def test_a_new_tenant_starts_with_its_counter_at_zero():
    tenant = TenantFactory()

    assert TaskCounter.objects.get(tenant=tenant).used == 0


def test_a_tenant_without_a_counter_row_gets_one_on_its_first_task(tenant_a):
    TaskCounter.objects.filter(tenant=tenant_a).delete()

    task_create(tenant=tenant_a, title="First", source=Task.Source.UI)
    Task.objects.create(tenant=tenant_a, title="Second", source=Task.Source.ADMIN)

    assert tasks_used(tenant_a) == 2


def test_the_database_refuses_a_counter_past_the_cap_it_was_admitted_under(tenant_a):
    active_license(tenant_a, tasks=1)
    create_tasks(tenant_a, 1)

    with pytest.raises(IntegrityError), transaction.atomic():
        TaskCounter.objects.filter(tenant=tenant_a).update(used=F("used") + 1)


def test_bad_input_is_a_validation_error_and_counts_nothing(tenant_a, tenant_b):
    other_host = host_register(tenant=tenant_b, name="not-yours")
    with pytest.raises(ValidationError):
        task_create(tenant=tenant_a, title="   ", source=Task.Source.UI)
    with pytest.raises(ValidationError):
        task_create(tenant=tenant_a, title="Wrong host", source="ui", host=other_host)
    with pytest.raises(ValidationError):
        task_create(tenant=tenant_a, title="Wrong source", source="carrier-pigeon")

    assert task_rows(tenant_a) == tasks_used(tenant_a) == 0


def test_a_gateway_secret_is_stored_only_as_its_sha256(tenant_a):
    import hashlib

    gateway, secret = gateway_create(tenant=tenant_a, name="Webhook", kind="webhook")

    gateway.refresh_from_db()
    assert len(secret) >= 40
    assert gateway.secret_hash == hashlib.sha256(secret.encode()).hexdigest()
    assert secret not in gateway.secret_hash


def test_a_license_applied_with_a_lower_cap_is_seen_by_the_next_create(tenant_a):
    active_license(tenant_a, tasks=5)
    create_tasks(tenant_a, 2)

    active_license(tenant_a, tasks=2)

    with pytest.raises(CapReached) as refused:
        create_tasks(tenant_a, 1)
    assert (refused.value.used, refused.value.cap) == (2, 2)


def test_a_license_that_expires_after_a_create_refuses_the_next_one(tenant_a):
    now = timezone.now()
    LicenseFactory(tenant=tenant_a, tasks_cap=5, expires_at=now + timedelta(hours=1))
    create_tasks(tenant_a, 1)

    with time_machine.travel(now + timedelta(hours=2)), pytest.raises(LicenseExpired):
        create_tasks(tenant_a, 1)
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1
