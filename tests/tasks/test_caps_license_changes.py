"""The counter row mirrors the tasks entitlement: license changes, expiry, and the backfill.

The guard decides from the counter row alone (tasks/guards.py), so these tests check that
the row follows every license applied, even one applied while creates run, and that it
ends creation at the same instant licensing's own rule does.
"""

import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

from licensing.errors import CapReached, LicenseExpired
from licensing.selectors import CLOCK_LEEWAY, FREE_TIER_CAPS, tenant_entitlements
from licensing.services import license_apply
from licensing.signals import license_applied
from tasks import guards
from tasks.models import Task, TaskCounter
from tasks.services import task_create
from tasks.signals import usage_changed
from tests.factories import LicenseFactory, TenantFactory, Vendor
from tests.tasks.caps_helpers import (
    create_tasks,
    held_by_another_transaction,
    task_rows,
    tasks_used,
)

THREADS = 8
OLD_CAP, NEW_CAP = 60, 30


def _apply(vendor: Vendor, tenant, *, tasks: int | None, **claims):
    caps = {"hosts": 10, "gateways": 5, "tasks": tasks}
    return license_apply(
        tenant=tenant, token=vendor.token(tenant, caps=caps, **claims), acting_user=None
    )


def test_a_new_tenant_counts_on_the_free_tier(tenant_a):
    counter = TaskCounter.objects.get(tenant=tenant_a)

    assert (counter.used, counter.tasks_cap, counter.open_until, counter.license_jti) == (
        0,
        FREE_TIER_CAPS["tasks"],
        None,
        "",
    )


def test_an_applied_license_is_mirrored_onto_the_counter_row(tenant_a, vendor):
    ends_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)

    license = _apply(vendor, tenant_a, tasks=7, exp=int(ends_at.timestamp()))

    counter = TaskCounter.objects.get(tenant=tenant_a)
    assert (counter.tasks_cap, counter.open_until, counter.license_jti) == (
        7,
        ends_at + CLOCK_LEEWAY,
        license.jti,
    )


def _wait_until_waiting_for_a_lock(statement: str, count: int) -> None:
    """Return once `count` sessions of this database wait for a lock in `statement`."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND wait_event_type = 'Lock' AND query LIKE %s",
                [f"%{statement}%"],
            )
            if cursor.fetchone()[0] >= count:
                return
        time.sleep(0.02)
    raise AssertionError(f"{count} sessions never waited in {statement!r}")


@pytest.mark.django_db(transaction=True)
def test_a_license_applied_while_creates_run_never_lets_the_count_pass_its_cap(vendor, monkeypatch):
    monkeypatch.setattr(guards, "LOCK_TIMEOUT", "30s")  # the creates queue behind a held row
    tenant = TenantFactory()
    old = _apply(vendor, tenant, tasks=OLD_CAP)
    admitted: list[tuple[int, int | None, str | None]] = []
    used_when_applied: list[int] = []
    applied: list = []

    def record_admitted(sender, used_after, cap, license_jti, dimension, **kwargs):
        if dimension == "tasks":
            admitted.append((used_after, cap, license_jti))

    def record_used_when_applied(sender, tenant, **kwargs):
        # After the tasks receiver, in the apply's transaction: it holds the counter row.
        used_when_applied.append(TaskCounter.objects.get(tenant=tenant).used)

    def create_until_refused() -> None:
        try:
            for _attempt in range(3 * OLD_CAP):
                try:
                    task_create(tenant=tenant, title="Race", source=Task.Source.API)
                except CapReached:
                    return
        finally:
            connection.close()

    def apply_the_lower_cap() -> None:
        try:
            applied.append(_apply(vendor, tenant, tasks=NEW_CAP))
        finally:
            connection.close()

    usage_changed.connect(record_admitted)
    license_applied.connect(record_used_when_applied)
    creators = [threading.Thread(target=create_until_refused) for _ in range(THREADS)]
    applier = threading.Thread(target=apply_the_lower_cap)
    try:
        # The creates, then the apply, queue on the held counter row: all run at once after.
        counter_row = TaskCounter.objects.select_for_update().filter(tenant=tenant)
        with held_by_another_transaction(counter_row.get):
            for creator in creators:
                creator.start()
            _wait_until_waiting_for_a_lock("UPDATE tasks_taskcounter", THREADS)
            applier.start()
            _wait_until_waiting_for_a_lock('INSERT INTO "tasks_taskcounter"', 1)
        for thread in [*creators, applier]:
            thread.join(timeout=120)
    finally:
        usage_changed.disconnect(record_admitted)
        license_applied.disconnect(record_used_when_applied)

    [new] = applied
    [at_apply] = used_when_applied
    assert at_apply < NEW_CAP  # applied mid-run, as intended
    under_old = [used for used, cap, jti in admitted if jti == old.jti]
    under_new = [used for used, cap, jti in admitted if jti == new.jti]
    assert max(under_old) == at_apply and len(under_old) == at_apply
    assert under_new and max(under_new) == NEW_CAP
    assert {cap for _used, cap, jti in admitted if jti == new.jti} == {NEW_CAP}
    assert task_rows(tenant) == tasks_used(tenant) == NEW_CAP


EXPIRES_AT = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
OPEN_UNTIL = EXPIRES_AT + CLOCK_LEEWAY


def test_a_task_created_at_the_last_open_instant_succeeds_and_just_after_is_refused(tenant_a):
    with time_machine.travel(EXPIRES_AT - timedelta(days=10), tick=False):
        LicenseFactory(tenant=tenant_a, tasks_cap=5, expires_at=EXPIRES_AT)
        create_tasks(tenant_a, 1)

    with time_machine.travel(OPEN_UNTIL, tick=False):
        assert not tenant_entitlements(tenant_a).is_expired  # licensing's rule agrees
        create_tasks(tenant_a, 1)

    with time_machine.travel(OPEN_UNTIL + timedelta(microseconds=1), tick=False):
        assert tenant_entitlements(tenant_a).is_expired
        with pytest.raises(LicenseExpired) as refused:
            create_tasks(tenant_a, 1)

    assert (refused.value.used, refused.value.cap, refused.value.expired_at) == (2, 5, EXPIRES_AT)
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 2


BEFORE_BACKFILL = [
    ("licensing", "0003_license_applied_by_name"),
    ("tasks", "0008_task_counter_mirrors_the_tasks_entitlement"),
]
BACKFILL = [("tasks", "0009_backfill_task_counter_entitlements")]


@pytest.mark.django_db(transaction=True)
def test_the_backfill_copies_each_active_license_onto_its_counter():
    executor = MigrationExecutor(connection)
    executor.migrate(BEFORE_BACKFILL)
    apps = executor.loader.project_state(BEFORE_BACKFILL).apps
    Tenant, License = apps.get_model("licensing", "Tenant"), apps.get_model("licensing", "License")
    Counter = apps.get_model("tasks", "TaskCounter")
    now = datetime.now(UTC)

    def tenant_with(slug: str, *licenses: dict):
        tenant = Tenant.objects.create(name=slug, slug=slug)
        Counter.objects.create(tenant=tenant, used=3)
        for number, fields in enumerate(licenses):
            License.objects.create(
                tenant=tenant,
                jti=f"{slug}-{number}",
                kind="contract",
                hosts_cap=1,
                gateways_cap=1,
                issued_at=now,
                starts_at=now,
                token="t",
                claims={},
                applied_at=now,
                applied_by_name="",
                **fields,
            )
        return tenant.pk

    licensed = tenant_with(
        "licensed",
        {"tasks_cap": 99, "status": "archived", "archived_at": now},
        {"tasks_cap": 8, "status": "active", "expires_at": EXPIRES_AT},
    )
    perpetual = tenant_with("perpetual", {"tasks_cap": None, "status": "active"})
    free = tenant_with("free", {"tasks_cap": 99, "status": "archived", "archived_at": now})

    executor = MigrationExecutor(connection)
    executor.migrate(BACKFILL)
    mirrored = {
        row["tenant_id"]: (row["used"], row["tasks_cap"], row["open_until"], row["license_jti"])
        for row in TaskCounter.objects.values()
    }
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())

    assert mirrored == {
        licensed: (3, 8, OPEN_UNTIL, "licensed-1"),
        perpetual: (3, None, None, "perpetual-0"),
        free: (3, FREE_TIER_CAPS["tasks"], None, ""),
    }
