"""The cap guard: every task insert, and every host or gateway registration, passes here.

Tasks (SPEC §3): `count_task` is the one guard. It runs as Task's `post_save` receiver,
inside the insert's transaction (`Task.save()` opens one if there is none), whichever path
inserted the row: `tasks.services.task_create` (pages, API, admin, engine),
`Task.objects.create`, `save()`, a proxy model. `bulk_create` of tasks refuses
(tasks/models/tasks.py). A deliberately bare `models.QuerySet(Task)` or raw SQL is outside
this ORM guard.

Counting AFTER the insert means the counter's row lock is taken by the transaction's last
statement and held only over that UPDATE and the COMMIT. The commit does not wait for the
WAL flush inside the lock; the wait comes after it (`_commit_then_wait_for_the_flush`).

Hosts and gateways (`asset_change`): `used` is how many exist now, so the tenant row is
locked before counting, and the caller inserts or removes in the same transaction.

Every change of usage sends `tasks.signals.usage_changed` inside its transaction.
"""

from collections.abc import Iterator
from contextlib import contextmanager
from functools import partial
from typing import Any

from django.conf import settings
from django.db import OperationalError, connections, transaction

from licensing.errors import CapReached, DomainError, LicenseExpired
from licensing.models import Tenant
from licensing.selectors import Entitlements, tenant_entitlements
from tasks.models import Gateway, Host, Task, TaskCounter
from tasks.selectors import tenant_usage
from tasks.signals import usage_changed

# A holder stuck inside the locked window makes others fail fast with a clean refusal
# instead of piling up behind it.
LOCK_TIMEOUT = "2s"
LOCK_NOT_AVAILABLE = "55P03"
DIMENSION_MODELS = {"tasks": Task, "hosts": Host, "gateways": Gateway}


class CapCheckBusy(DomainError):
    """The cap could not be checked in time because another writer holds the lock."""

    code = "cap_check_busy"
    http_status = 503

    def __init__(self, dimension: str) -> None:
        self.dimension = dimension
        super().__init__(
            f"The {dimension} cap could not be checked in time because another change holds "
            "it; nothing was changed. Try again in a moment."
        )

    def extra(self) -> dict[str, Any]:
        return {"dimension": self.dimension}


def refuse_if_no_room(dimension: str, entitlements: Entitlements, *, used: int) -> None:
    """Raise the refusal for `dimension`: expired license (a hard block) or cap reached."""
    cap = entitlements.cap(dimension)
    if entitlements.is_expired:
        raise LicenseExpired(dimension, used=used, cap=cap, expired_at=entitlements.ends_at)
    if cap is not None and used >= cap:
        raise CapReached(dimension, used=used, cap=cap)


def _send_usage_changed(
    dimension: str, *, tenant_id: int, before: int, after: int, entitlements: Entitlements
) -> None:
    license = entitlements.license
    usage_changed.send(
        sender=DIMENSION_MODELS[dimension],
        tenant_id=tenant_id,
        dimension=dimension,
        used_before=before,
        used_after=after,
        cap=entitlements.cap(dimension),
        license_jti=license.jti if license is not None else None,
    )


@contextmanager
def _busy_as(dimension: str) -> Iterator[None]:
    """A lock wait past LOCK_TIMEOUT becomes CapCheckBusy (the transaction is then aborted)."""
    try:
        yield
    except OperationalError as error:
        if getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE:
            raise CapCheckBusy(dimension) from error
        raise


def _wait_for_the_flush(using: str) -> None:
    # A transactional no-op WAL record committed with the session's synchronous_commit (on):
    # its commit waits until the WAL is flushed up to itself, so past the task's commit.
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_logical_emit_message(true, 'tally.task_created', '')")


def _commit_then_wait_for_the_flush(using: str) -> None:
    """Make the transaction commit without waiting for the WAL flush, and wait after it.

    Every later writer of the counter row waits for the commit before it; if that commit
    waited for an fsync inside the lock, one tenant's creates would queue behind one fsync
    each. Committed with `synchronous_commit = off`, the lock is released as soon as the
    commit is recorded; the wait then runs after the commit (on_commit), outside the lock,
    and the flushes of concurrent creates are grouped as for plain inserts. An acknowledged
    task is never lost; a crash before the flush loses the unacknowledged task with its count.
    TASK_CAP_ASYNC_COMMIT=true skips the wait (a crash may lose acknowledged tasks).
    """
    with connections[using].cursor() as cursor:
        cursor.execute(
            "SELECT set_config('lock_timeout', %s, true), "
            "set_config('synchronous_commit', 'off', true)",
            [LOCK_TIMEOUT],
        )
    if not settings.TASK_CAP_ASYNC_COMMIT:
        transaction.on_commit(partial(_wait_for_the_flush, using), using=using)


# Row lock on the tenant's counter: concurrent creates queue here, so two of them can never
# both take the last slot; held until the insert's transaction commits. `admitted_cap` is
# written with it, so the counter's CheckConstraint (used <= admitted_cap) is a backstop.
COUNT_ONE_SQL = (
    "UPDATE tasks_taskcounter SET used = used + 1, admitted_cap = %(cap)s "
    "WHERE tenant_id = %(tenant)s AND (%(cap)s::integer IS NULL OR used < %(cap)s) "
    "RETURNING used"
)


def _count_one(*, tenant_id: int, cap: int | None, using: str) -> int:
    """Take one slot on the tenant's counter; returns the new `used`, or raises CapReached."""
    for _attempt in range(2):
        with connections[using].cursor() as cursor, _busy_as("tasks"):
            cursor.execute(COUNT_ONE_SQL, {"cap": cap, "tenant": tenant_id})
            counted = cursor.fetchone()
        if counted is not None:
            return counted[0]
        used = TaskCounter.objects.using(using).filter(tenant_id=tenant_id).first()
        if used is not None:
            raise CapReached("tasks", used=used.used, cap=cap)
        # A tenant made before its counter existed: create the row, then count again.
        TaskCounter.objects.using(using).bulk_create(
            [TaskCounter(tenant_id=tenant_id)], ignore_conflicts=True
        )
    raise RuntimeError(f"The task counter of tenant {tenant_id} could not be created.")


def count_task(task: Task, *, using: str) -> None:
    """THE task guard: count `task`, just inserted, against its tenant's lifetime cap.

    Runs in the insert's transaction, so a refusal (CapReached, LicenseExpired,
    CapCheckBusy) rolls the insert back with it. The entitlements are read before the
    counter's lock is taken.
    """
    entitlements = tenant_entitlements(task.tenant)
    if entitlements.is_expired:
        refuse_if_no_room("tasks", entitlements, used=tenant_usage(task.tenant)["tasks"])
    _commit_then_wait_for_the_flush(using)
    used = _count_one(tenant_id=task.tenant_id, cap=entitlements.cap("tasks"), using=using)
    _send_usage_changed(
        "tasks", tenant_id=task.tenant_id, before=used - 1, after=used, entitlements=entitlements
    )


def count_new_task(sender, instance, created: bool, using: str, **kwargs) -> None:
    """post_save receiver: every inserted `Task` is counted, whichever ORM path inserted it."""
    if not created or not isinstance(instance, Task):
        return
    try:
        count_task(instance, using=using)
    except DomainError:
        if not connections[using].in_atomic_block:
            # Saved with no transaction around it (save_base called directly): the insert
            # is committed already, so take it back.
            Task.objects.using(using).filter(pk=instance.pk).delete()
        instance.pk = None
        instance._state.adding = True
        raise


def create_task_counter(sender, instance, created: bool, raw: bool, using: str, **kwargs) -> None:
    """post_save receiver for Tenant: every tenant starts with its counter row at 0."""
    if created and not raw:
        TaskCounter.objects.using(using).bulk_create(
            [TaskCounter(tenant_id=instance.pk)], ignore_conflicts=True
        )


def lock_tenant_assets(*, tenant: Tenant, dimension: str) -> None:
    """Lock the tenant row for a change of its hosts or gateways; CapCheckBusy if held too long.

    Call inside the transaction of the change; every create and every removal takes it.
    """
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])
    with _busy_as(dimension):
        # Tenant row lock: serialises host and gateway changes of the tenant so two creates
        # cannot both count room for the last one, and a create counts before or after a
        # removal, never in the middle of one. NO KEY UPDATE, so concurrent task inserts
        # (which key-share lock the tenant through their foreign key) never wait on it.
        list(Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).values("pk"))


@contextmanager
def asset_change(*, tenant: Tenant, dimension: str, adding: bool) -> Iterator[None]:
    """Guard a host or gateway registration (`adding`) or removal done inside the block.

    Call inside the change's transaction: locks the tenant row, counts, refuses a
    registration with no room (CapReached, LicenseExpired, CapCheckBusy), and after the
    block sends `usage_changed` if the count moved.
    """
    entitlements = tenant_entitlements(tenant)
    lock_tenant_assets(tenant=tenant, dimension=dimension)
    before = tenant_usage(tenant)[dimension]
    if adding:
        refuse_if_no_room(dimension, entitlements, used=before)
    yield
    after = before + 1 if adding else tenant_usage(tenant)[dimension]
    if after != before:
        _send_usage_changed(
            dimension, tenant_id=tenant.pk, before=before, after=after, entitlements=entitlements
        )
