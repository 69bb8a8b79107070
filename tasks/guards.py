"""The cap guard: every task insert, and every host or gateway registration, passes here.

Tasks (SPEC §3) are counted on the tenant's lifetime counter row right AFTER the task's
insert, in the insert's transaction, so the row lock is taken by the last statement before
commit; the entitlements are read before the transaction. Two ways in, one rule:

- the service path (`task_create` -> `insert_task`) owns its transaction, so on
  PostgreSQL it sends ONE message: a check that the tenant's active license is still the
  one its entitlements came from, the task's INSERT (built by the ORM's own insert
  compiler) and the counter upsert. The server runs it as one implicit transaction, so
  the row lock is never held across a round trip to this process. The `CheckConstraint`
  used <= admitted_cap is what refuses, rolling the whole message back. The entitlements
  are read before (and remembered per tenant while that check keeps passing, so the
  license read is not paid on every create).
- any other ORM insert (`Task.objects.create`, `save()`, fixtures, a proxy model) reaches
  the `post_save` receiver, which increments with a conditional
  `UPDATE ... WHERE used < cap` in the caller's transaction; `Task.save()` opens that
  transaction if there is none. `bulk_create` of tasks refuses (tasks/models/assets.py),
  through `Task.objects`, `Task._base_manager` and related managers alike.
  A deliberately bare `models.QuerySet(Task)` or raw SQL is outside this ORM guard.

Durability: every later writer of the counter waits for the commit before it, so if that
commit waited for the WAL flush inside the lock, one tenant's creations would queue behind
one fsync each. Instead the message commits with `synchronous_commit = off` (the row lock
is released as soon as the commit is recorded) and the same message then waits, outside
the lock, for the WAL to be flushed past that commit before `task_create` returns:
the flushes of concurrent creations are grouped as for plain inserts, and an acknowledged
task is never lost. A crash before that flush loses the unacknowledged task together with
its count (the counter still equals the rows). TASK_CAP_ASYNC_COMMIT=true skips the wait:
faster, and a server crash can lose the last fraction of a second of acknowledged tasks.

Hosts and gateways: `used` is how many exist now, so the tenant row is locked before
counting, and the caller inserts in the same transaction.
"""

from typing import Any

from django.conf import settings
from django.db import (
    DataError,
    IntegrityError,
    OperationalError,
    connections,
    router,
    transaction,
)
from django.db.models import F, Field
from django.db.models.signals import post_save, pre_save
from django.db.models.sql import InsertQuery
from django.utils import timezone
from psycopg.pq import TransactionStatus

from licensing.errors import CapReached, DomainError, LicenseExpired
from licensing.models import License, Tenant
from licensing.selectors import Entitlements, tenant_entitlements
from tasks.models import Gateway, Host, Task, TaskCounter

# A holder stuck inside the locked window makes others fail fast with a clean refusal
# instead of piling up behind it.
LOCK_TIMEOUT = "2s"
LOCK_NOT_AVAILABLE = "55P03"
DIVISION_BY_ZERO = "22012"
COUNTER_CONSTRAINT = "task_counter_used_within_admitted_cap"


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


def dimension_used(tenant: Tenant, dimension: str) -> int:
    """What counts against the cap now: lifetime tasks created, hosts or gateways registered."""
    if dimension == "tasks":
        used = TaskCounter.objects.filter(tenant=tenant).values_list("used", flat=True).first()
        return used or 0
    if dimension == "gateways":
        return Gateway.objects.registered().filter(tenant=tenant).count()  # revoked: not counted
    return Host.objects.filter(tenant=tenant).count()


def refuse_if_no_room(dimension: str, entitlements: Entitlements, *, used: int) -> None:
    """Raise the refusal for `dimension`: expired license (a hard block) or cap reached."""
    cap = entitlements.cap(dimension)
    if entitlements.is_expired:
        raise LicenseExpired(dimension, used=used, cap=cap, expired_at=entitlements.ends_at)
    if cap is not None and used >= cap:
        raise CapReached(dimension, used=used, cap=cap)


def refuse_tasks_if_expired(tenant: Tenant, entitlements: Entitlements) -> None:
    """The expired check done before any transaction, so an expired tenant inserts nothing."""
    if entitlements.is_expired:
        refuse_if_no_room("tasks", entitlements, used=dimension_used(tenant, "tasks"))


def _settings_sql(*, asynchronous_commit: bool) -> str:
    """A statement setting the lock timeout (and the commit mode) for the transaction."""
    sql = "SELECT set_config('lock_timeout', %s, true)"
    if asynchronous_commit:
        sql += ", set_config('synchronous_commit', 'off', true)"
    return sql


def _is_lock_timeout(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == LOCK_NOT_AVAILABLE


class _NoRoomForTask(Exception):
    """The counter's CheckConstraint refused the increment; the transaction is aborted."""


def _counter_upsert_sql(connection) -> str:
    table = connection.ops.quote_name(TaskCounter._meta.db_table)
    return (
        f"INSERT INTO {table} (tenant_id, used, admitted_cap) VALUES (%s, 1, %s) "
        f"ON CONFLICT (tenant_id) DO UPDATE SET used = {table}.used + 1, "
        "admitted_cap = excluded.admitted_cap"
    )


def _task_insert_fields() -> list[Field]:
    meta = Task._meta
    return [f for f in meta.local_concrete_fields if f is not meta.auto_field and not f.generated]


def _compiled_task_insert(task: Task, connection) -> tuple[str, list]:
    """The task's INSERT ... RETURNING id as the ORM's own insert compiler writes it."""
    query = InsertQuery(Task)
    query.insert_values(_task_insert_fields(), [task])
    compiler = query.get_compiler(connection=connection)
    compiler.returning_fields = Task._meta.db_returning_fields
    ((sql, params),) = compiler.as_sql()
    return sql, list(params)


# The compiled INSERT's text per database: the same for every task (one placeholder per
# field), so it is compiled once and only the values are prepared per task, as the
# compiler prepares them (pre_save, then get_db_prep_save).
_TASK_INSERT_SQL: dict[str, str] = {}


def _task_insert_sql(task: Task, connection) -> tuple[str, list]:
    """The task's INSERT ... RETURNING id as the ORM would send it (same text, same values)."""
    fields = _task_insert_fields()
    values = [field.pre_save(task, add=True) for field in fields]
    if any(hasattr(value, "resolve_expression") for value in values):
        return _compiled_task_insert(task, connection)  # an expression: its own SQL
    if connection.alias not in _TASK_INSERT_SQL:
        # Compiled from a blank task: compiling runs pre_save, which must not touch `task`.
        _TASK_INSERT_SQL[connection.alias], _params = _compiled_task_insert(Task(), connection)
    params = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, values, strict=True)
    ]
    return _TASK_INSERT_SQL[connection.alias], params


class _StaleEntitlements(Exception):
    """The tenant's active license is not the one the remembered entitlements came from."""


# The last entitlements read per tenant, in this process. Never trusted blindly: every
# message re-checks them against the licenses table in its own transaction (see below), so
# a new license is seen by the very next create; the license read is paid only when the
# license changed (or may have expired) instead of on every create.
_REMEMBERED: dict[int, Entitlements] = {}


def _entitlements_for(tenant: Tenant, *, fresh: bool) -> Entitlements:
    remembered = None if fresh else _REMEMBERED.get(tenant.pk)
    if remembered is not None and (
        remembered.ends_at is None or timezone.now() < remembered.ends_at
    ):
        return remembered
    entitlements = tenant_entitlements(tenant)
    if not entitlements.is_expired:
        _REMEMBERED[tenant.pk] = entitlements
    return entitlements


def _license_check_sql(tenant_id: int, entitlements: Entitlements, connection) -> tuple[str, list]:
    """A statement that aborts the message (1 / 0) unless the tenant's active license is
    still the one `entitlements` came from, with the same tasks cap and end. A division by
    zero is the one way plain SQL has to stop a multi-statement message on a condition."""
    table = connection.ops.quote_name(License._meta.db_table)
    active = License.Status.ACTIVE
    license = entitlements.license
    if license is None:  # the free tier: still no active license
        sql = f"SELECT 1 / (1 - count(*)) FROM {table} WHERE tenant_id = %s AND status = %s"
        return sql, [tenant_id, active]
    sql = (
        f"SELECT 1 / count(*) FROM {table} WHERE id = %s AND tenant_id = %s AND status = %s "
        "AND tasks_cap IS NOT DISTINCT FROM %s AND expires_at IS NOT DISTINCT FROM %s"
    )
    return sql, [license.pk, tenant_id, active, license.tasks_cap, license.expires_at]


# A transactional WAL record (a no-op outside logical decoding) committed with the session's
# synchronous_commit (on): its commit flushes the WAL up to itself, so past the task's
# commit record just before it. PostgreSQL lets every role execute it by default.
WAL_FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'tally.task_created', '')"


def _message_sql(statements: list[str], *, own_transaction: bool) -> str:
    """The statements as one message. In a transaction of its own: BEGIN ... COMMIT, then
    (unless TASK_CAP_ASYNC_COMMIT) the wait for the WAL flush, after the lock is released."""
    if not own_transaction:  # inside the caller's transaction (a test's): a savepoint
        return "; ".join(statements)
    wait = [] if settings.TASK_CAP_ASYNC_COMMIT else [WAL_FLUSH_SQL]
    return "; ".join(["BEGIN", *statements, "COMMIT", *wait])


def _insert_and_count(task: Task, *, entitlements: Entitlements, connection) -> None:
    """Send the license check, the task's insert and its count, and the wait for their
    flush, as ONE message: one round trip.

    The counter's row lock (taken by the upsert, the last statement before COMMIT) is held
    only until that commit, never across a round trip to this process, and the commit does
    not wait for the WAL flush (`synchronous_commit = off`): the WAL_FLUSH_SQL after it does,
    outside the lock, before this returns. The CheckConstraint used <= admitted_cap is what
    refuses; the transaction is then rolled back, the task's insert with it.
    """
    check_sql, check_params = _license_check_sql(task.tenant_id, entitlements, connection)
    insert_sql, insert_params = _task_insert_sql(task, connection)
    own_transaction = not connection.in_atomic_block
    statements = [
        _settings_sql(asynchronous_commit=own_transaction),
        check_sql,
        insert_sql,
        _counter_upsert_sql(connection),
    ]
    cap = entitlements.cap("tasks")
    params = [LOCK_TIMEOUT, *check_params, *insert_params, task.tenant_id, cap]
    try:
        with connection.cursor() as cursor:
            cursor.execute(_message_sql(statements, own_transaction=own_transaction), params)
            for _result in range(3 if own_transaction else 2):
                cursor.nextset()  # past BEGIN, the settings and the license check
            (task.pk,) = cursor.fetchone()  # the INSERT's RETURNING
    except BaseException as error:
        if own_transaction:
            _roll_back_failed_block(connection)
        if not isinstance(error, DataError | IntegrityError | OperationalError):
            raise
        if getattr(error.__cause__, "sqlstate", None) == DIVISION_BY_ZERO:
            raise _StaleEntitlements from error
        if isinstance(error, IntegrityError) and COUNTER_CONSTRAINT in str(error):
            raise _NoRoomForTask from error
        if isinstance(error, OperationalError) and _is_lock_timeout(error):
            raise CapCheckBusy("tasks") from error
        raise
    task._state.adding = False
    task._state.db = connection.alias


ABORTABLE = (TransactionStatus.INTRANS, TransactionStatus.INERROR)  # not a dead connection


def _roll_back_failed_block(connection) -> None:
    """A statement failed inside the message's BEGIN block: the server leaves the session in
    that aborted block, so end it (Django believes it is in autocommit)."""
    raw = connection.connection  # None once Django has dropped a broken connection
    if raw is not None and not raw.closed and raw.info.transaction_status in ABORTABLE:
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK")


def insert_task(task: Task) -> None:
    """Insert `task` and count it in one transaction of its own (the service path).

    The entitlements are in hand before that transaction (read, or remembered and checked
    inside it). Raises CapReached / LicenseExpired / CapCheckBusy.
    """
    connection = connections[router.db_for_write(Task)]
    if connection.vendor != "postgresql":
        # One transaction, counted by the post_save guard (SQLite serialises writers).
        entitlements = tenant_entitlements(task.tenant)
        refuse_tasks_if_expired(task.tenant, entitlements)
        task._guard_entitlements = entitlements
        with transaction.atomic(using=connection.alias, durable=True):
            task.save(savepoint=False)
        return
    pre_save.send(sender=Task, instance=task, raw=False, using=connection.alias)
    for attempt in range(3):
        entitlements = _entitlements_for(task.tenant, fresh=attempt > 0)
        refuse_tasks_if_expired(task.tenant, entitlements)
        try:
            if connection.in_atomic_block:
                # Only inside a test's transaction (durable refuses any other): a savepoint.
                with transaction.atomic(using=connection.alias, durable=True):
                    _insert_and_count(task, entitlements=entitlements, connection=connection)
            else:
                _insert_and_count(task, entitlements=entitlements, connection=connection)
            break
        except _StaleEntitlements:
            continue  # a new license since they were read: read them again
        except _NoRoomForTask:
            used = dimension_used(task.tenant, "tasks")
            refuse_if_no_room("tasks", entitlements, used=used)
            raise CapReached("tasks", used=used, cap=entitlements.cap("tasks")) from None
    else:
        raise CapCheckBusy("tasks")  # the license kept changing under us
    task._guard_counted = True  # the post_save guard below must not count it again
    post_save.send(
        sender=Task,
        instance=task,
        created=True,
        update_fields=None,
        raw=False,
        using=connection.alias,
    )


def admit_task(*, tenant_id: int, entitlements: Entitlements, using: str = "default") -> None:
    """The ORM path: count one inserted task, or raise; call right after the insert.

    Runs in the caller's transaction (a refusal rolls the insert back with it), so the
    counter row stays locked until the caller commits.
    """
    cap = entitlements.cap("tasks")
    counters = TaskCounter.objects.using(using).filter(tenant_id=tenant_id)
    if entitlements.is_expired:
        used = counters.values_list("used", flat=True).first() or 0
        refuse_if_no_room("tasks", entitlements, used=used)
    admitted = counters if cap is None else counters.filter(used__lt=cap)
    connection = connections[using]
    if connection.vendor == "postgresql" and connection.in_atomic_block:
        with connection.cursor() as cursor:
            cursor.execute(_settings_sql(asynchronous_commit=False), [LOCK_TIMEOUT])
    for _attempt in range(2):
        try:
            # Row lock on the tenant's counter: serialises concurrent admissions so two
            # inserts can never both take the last slot; held until the caller commits.
            if admitted.update(used=F("used") + 1, admitted_cap=cap):
                return
        except OperationalError as error:
            if _is_lock_timeout(error):
                raise CapCheckBusy("tasks") from error
            raise
        used = counters.values_list("used", flat=True).first()
        if used is not None:
            raise CapReached("tasks", used=used, cap=cap)
        # A tenant made before its counter existed: create the row, then count again.
        TaskCounter.objects.using(using).bulk_create(
            [TaskCounter(tenant_id=tenant_id)], ignore_conflicts=True
        )
    raise RuntimeError(f"The task counter of tenant {tenant_id} could not be created.")


def count_new_task(sender, instance, created: bool, using: str, **kwargs) -> None:
    """post_save receiver: every inserted `Task` is counted, whichever ORM path inserted it."""
    if not created or not isinstance(instance, Task):
        return
    if instance.__dict__.pop("_guard_counted", False):
        return  # inserted and counted together by insert_task
    entitlements = instance.__dict__.pop("_guard_entitlements", None)
    try:
        admit_task(
            tenant_id=instance.tenant_id,
            entitlements=entitlements or tenant_entitlements(instance.tenant),
            using=using,
        )
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

    Call inside the transaction of the change; every create and every revoke takes it.
    """
    connection = connections["default"]
    try:
        if connection.vendor == "postgresql":
            with connection.cursor() as cursor:
                cursor.execute(_settings_sql(asynchronous_commit=False), [LOCK_TIMEOUT])
        # Tenant row lock: serialises host and gateway changes of the tenant so two creates
        # cannot both count room for the last one, and a create counts before or after a
        # revoke, never in the middle of one. NO KEY UPDATE, so concurrent task inserts
        # (which key-share lock the tenant through their foreign key) never wait on it.
        list(Tenant.objects.select_for_update(no_key=True).filter(pk=tenant.pk).values("pk"))
    except OperationalError as error:
        if _is_lock_timeout(error):
            raise CapCheckBusy(dimension) from error
        raise


def admit_asset(*, tenant: Tenant, dimension: str, entitlements: Entitlements) -> None:
    """Lock the tenant row, count `dimension`, raise if there is no room.

    Call inside the transaction that then inserts the host or gateway.
    """
    lock_tenant_assets(tenant=tenant, dimension=dimension)
    refuse_if_no_room(dimension, entitlements, used=dimension_used(tenant, dimension))
