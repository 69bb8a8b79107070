"""task_create_in_transaction: the engine's way to create a task inside its own transaction."""

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.transaction import TransactionManagementError

from licensing.errors import CapReached, LicenseExpired
from tasks.models import Task
from tasks.services import task_create_in_transaction
from tests.factories import TenantFactory
from tests.tasks.ticket_helpers import license_with, task_rows, tasks_used


class RolledBack(Exception):
    """The caller's transaction ends in an error after the task was created."""


def create(tenant, **fields) -> Task:
    return task_create_in_transaction(
        tenant=tenant, title=fields.pop("title", "Patch web-3"), source="gateway", **fields
    )


@pytest.mark.django_db(transaction=True)
def test_it_refuses_to_run_outside_a_transaction_and_creates_nothing():
    tenant = TenantFactory()
    with pytest.raises(TransactionManagementError, match="inside the caller's transaction"):
        create(tenant)
    assert tasks_used(tenant) == task_rows(tenant) == 0


def test_a_task_created_in_the_callers_transaction_is_counted(tenant_a):
    with transaction.atomic(durable=True):
        task = create(tenant_a, description="disk 91%", kind="recurring")
    task.refresh_from_db()
    assert (task.title, task.description, task.kind, task.source) == (
        "Patch web-3",
        "disk 91%",
        "recurring",
        "gateway",
    )
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 1


def test_when_the_callers_transaction_rolls_back_the_task_and_its_count_go_with_it(tenant_a):
    with pytest.raises(RolledBack), transaction.atomic(durable=True):
        create(tenant_a)
        raise RolledBack
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 0


def test_at_the_cap_it_raises_cap_reached_and_a_savepoint_keeps_the_callers_work(tenant_a):
    license_with(tenant_a, tasks_cap=1)
    with transaction.atomic(durable=True):
        create(tenant_a, title="first")
        with pytest.raises(CapReached) as refused, transaction.atomic():
            create(tenant_a, title="second")
    assert (refused.value.code, refused.value.used, refused.value.cap) == ("task_cap_reached", 1, 1)
    assert list(Task.objects.values_list("title", flat=True)) == ["first"]
    assert tasks_used(tenant_a) == 1


def test_with_an_expired_license_it_raises_license_expired(tenant_a):
    license_with(tenant_a, expired=True)
    with pytest.raises(LicenseExpired), transaction.atomic(durable=True):
        create(tenant_a)
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 0


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"title": "  "}, "This field is required."),
        ({"title": "x" * 301}, "At most 300 characters."),
        ({"kind": "weekly"}, "'weekly' is not a task kind."),
        ({"description": "x" * 10_001}, "At most 10000 characters."),
    ],
)
def test_bad_input_is_refused_as_task_create_refuses_it(tenant_a, fields, message):
    with pytest.raises(ValidationError, match=message), transaction.atomic(durable=True):
        create(tenant_a, **fields)
    assert tasks_used(tenant_a) == task_rows(tenant_a) == 0
