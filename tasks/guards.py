"""The cap guard: every task insert, and every host or gateway registration, passes here.

Tasks (SPEC §3): `count_task` is the one guard. It runs as Task's `post_save` receiver,
inside the insert's transaction (`Task.save()` opens one if there is none), whichever path
inserted the row: `tasks.services.task_create` (pages, API, admin, engine),
`Task.objects.create`, `save()`, a proxy model. `bulk_create` of tasks refuses
(tasks/models/tasks.py). A deliberately bare `models.QuerySet(Task)` or raw SQL is outside
this ORM guard.

Counting AFTER the insert means the counter's row lock is taken by the transaction's last
statement and held only over that UPDATE and the COMMIT. The counter row mirrors the tasks
entitlement of the active license (`mirror_entitlements`, on `licensing.signals.
license_applied`), so that UPDATE needs no license read. The commit does not wait for the
WAL flush inside the lock; the wait comes after it (`_wait_for_the_flush`).

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
from django.utils import timezone

from licensing.errors import CapReached, DomainError, LicenseExpired
from licensing.models import License, Tenant
from licensing.selectors import Entitlements, entitlements_under, tenant_entitlements
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
    dimension: str,
    *,
    tenant_id: int,
    before: int,
    after: int,
    cap: int | None,
    license_jti: str | None,
) -> None:
    usage_changed.send(
        sender=DIMENSION_MODELS[dimension],
        tenant_id=tenant_id,
        dimension=dimension,
        used_before=before,
        used_after=after,
        cap=cap,
        license_jti=license_jti,
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
    """Return once the WAL is flushed past the transaction that just committed.

    The counting transaction commits with `synchronous_commit = off` (set by COUNT_ONE_SQL),
    so its counter row lock is released as soon as the commit is recorded, not after an
    fsync: if that commit waited for the fsync inside the lock, one tenant's creates would
    queue behind one fsync each. This runs after the commit (on_commit), outside the lock:
    a transactional no-op WAL record committed with the session's synchronous_commit (on)
    waits until the WAL is flushed up to itself, so past the task's commit, and the flushes
    of concurrent creates are grouped as for plain inserts. Measured against plain
    synchronous commit (bench/task_cap.py's "sync commit", 2026-12-02, a loaded machine):
    6 interleaved pairs of 2 s, median 579 vs 483 creates/s (+20 %, 5 pairs of 6); single
    full runs gave 158 vs 124 and 395 vs 453. An acknowledged task is never lost; a crash
    before the flush loses the unacknowledged task with its count.
    TASK_CAP_ASYNC_COMMIT=true skips this wait (a crash may lose acknowledged tasks).
    """
    with connections[using].cursor() as cursor:
        cursor.execute("SELECT pg_logical_emit_message(true, 'tally.task_created', '')")


# The guard's one statement on the common path. Row lock on the tenant's counter: concurrent
# creates queue here, so two of them can never both take the last slot; held until the
# insert's transaction commits. The counter row mirrors the license's tasks cap and end
# (`mirror_entitlements`), so no license is read. `admitted_cap` is written with the count,
# so the CheckConstraint (used <= admitted_cap) is a backstop.
# The two set_config calls (transaction-local) are conjuncts of the WHERE: PostgreSQL
# evaluates every qual of a row on its snapshot version BEFORE it waits for that row's lock,
# so lock_timeout is in force for the wait, and synchronous_commit is read at COMMIT; a row
# that fails a qual is neither locked nor counted (then the refusal path reads the license).
COUNT_ONE_SQL = """
UPDATE tasks_taskcounter SET used = used + 1, admitted_cap = tasks_cap
WHERE tenant_id = %(tenant)s
  AND set_config('lock_timeout', %(lock_timeout)s, true) IS NOT NULL
  AND set_config('synchronous_commit', 'off', true) IS NOT NULL
  AND (tasks_cap IS NULL OR used < tasks_cap)
  AND (open_until IS NULL OR %(now)s <= open_until)
RETURNING used, tasks_cap, license_jti
"""


def _count_one(task: Task, *, using: str) -> tuple[int, int | None, str]:
    """Take one slot on the counter: (new used, tasks cap, license jti), or raise the refusal."""
    for _attempt in range(2):
        with connections[using].cursor() as cursor, _busy_as("tasks"):
            # The app's clock, as licensing's expiry rule uses (and time-machine moves).
            parameters: dict[str, Any] = {"tenant": task.tenant_id, "lock_timeout": LOCK_TIMEOUT}
            cursor.execute(COUNT_ONE_SQL, {**parameters, "now": timezone.now()})
            counted = cursor.fetchone()
        if counted is not None:
            return counted
        _refuse_or_create_the_counter(task, using=using)
    raise RuntimeError(f"The task counter of tenant {task.tenant_id} could not be created.")


def _refuse_or_create_the_counter(task: Task, *, using: str) -> None:
    """Nothing was counted: raise the license's refusal with its numbers (the slow path)."""
    counter = TaskCounter.objects.using(using).filter(tenant_id=task.tenant_id).first()
    entitlements = tenant_entitlements(task.tenant)
    if counter is None:
        # A tenant made before its counter existed: create the row from its license (a
        # concurrent apply's row wins over this insert), then count again.
        mirror_entitlements(
            tenant_id=task.tenant_id, entitlements=entitlements, using=using, replace=False
        )
        return
    refuse_if_no_room("tasks", entitlements, used=counter.used)
    # The row is stricter than the license: only a license changed outside license_apply
    # gets here. The counter row decides, as it does for every create.
    if counter.tasks_cap is not None and counter.used >= counter.tasks_cap:
        raise CapReached("tasks", used=counter.used, cap=counter.tasks_cap)
    raise LicenseExpired(
        "tasks", used=counter.used, cap=counter.tasks_cap, expired_at=counter.open_until
    )


def count_task(task: Task, *, using: str) -> None:
    """THE task guard: count `task`, just inserted, against its tenant's lifetime cap.

    Runs in the insert's transaction, so a refusal (CapReached, LicenseExpired,
    CapCheckBusy) rolls the insert back with it. One statement on the common path
    (COUNT_ONE_SQL); the license is read only to word a refusal. Mirroring the license onto
    the counter row is what makes that possible, and it earns its place (the issue's rule:
    20 % on its own): bench/task_cap.py, 8 processes on one tenant, 2026-12-02, the service
    path with its license read 66.7 creates/s (18.4 % of unguarded), with the read taken
    out 105.3 (29.1 %, +58 %); with the mirror, in a later run, 28.0 % of unguarded.
    """
    used, cap, license_jti = _count_one(task, using=using)
    if not settings.TASK_CAP_ASYNC_COMMIT:
        transaction.on_commit(partial(_wait_for_the_flush, using), using=using)
    _send_usage_changed(
        "tasks",
        tenant_id=task.tenant_id,
        before=used - 1,
        after=used,
        cap=cap,
        license_jti=license_jti or None,
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


def mirror_entitlements(
    *, tenant_id: int, entitlements: Entitlements, using: str = "default", replace: bool = True
) -> None:
    """Write the tasks entitlement onto the tenant's counter row, creating the row if missing.

    `replace=False` only creates a missing row (an existing one is left as it is).
    """
    license = entitlements.license
    counter = TaskCounter(
        tenant_id=tenant_id,
        tasks_cap=entitlements.cap("tasks"),
        open_until=entitlements.tasks_open_until,
        license_jti=license.jti if license is not None else "",
    )
    if replace:
        TaskCounter.objects.using(using).bulk_create(
            [counter],
            update_conflicts=True,
            unique_fields=["tenant"],
            update_fields=["tasks_cap", "open_until", "license_jti"],
        )
    else:
        TaskCounter.objects.using(using).bulk_create([counter], ignore_conflicts=True)


def mirror_applied_license(sender, tenant: Tenant, license: License, **kwargs) -> None:
    """license_applied receiver: the counter row takes the new license's tasks entitlement.

    Runs in license_apply's transaction.
    """
    # Writes (row-locks) the counter row: the apply waits for creates in flight and creates
    # after it wait for its commit, so none counts under the old license once the new one is in.
    mirror_entitlements(tenant_id=tenant.pk, entitlements=entitlements_under(license))


def create_task_counter(sender, instance, created: bool, raw: bool, using: str, **kwargs) -> None:
    """post_save receiver for Tenant: every tenant starts with its counter row at 0, free tier."""
    if created and not raw:
        mirror_entitlements(
            tenant_id=instance.pk, entitlements=entitlements_under(None), using=using, replace=False
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
        license = entitlements.license
        _send_usage_changed(
            dimension,
            tenant_id=tenant.pk,
            before=before,
            after=after,
            cap=entitlements.cap(dimension),
            license_jti=license.jti if license is not None else None,
        )
