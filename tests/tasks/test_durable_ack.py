"""An acknowledged task is on disk: `task_create` returns only once the WAL is flushed past it.

The create's own message commits without waiting for the flush (so the counter row is not
held across an fsync); the wait comes after, outside the lock. These tests watch the
statements `task_create` sends and the server's WAL positions.
"""

import pytest
import time_machine
from django.db import connection
from psycopg.pq import TransactionStatus

from licensing.errors import CapReached
from tasks.guards import WAL_FLUSH_SQL
from tasks.models import Task
from tasks.services import task_create
from tests.tasks.caps_helpers import apply_caps, task_rows, tasks_used

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COUNTER_UPSERT = 'INSERT INTO "tasks_taskcounter"'


class _Watcher:
    """Records each statement sent on the connection."""

    def __init__(self) -> None:
        self.statements: list[str] = []

    def __call__(self, execute, sql, params, many, context):
        self.statements.append(sql)
        return execute(sql, params, many, context)


def _create_watched(tenant) -> _Watcher:
    watcher = _Watcher()
    with connection.execute_wrapper(watcher):
        task_create(tenant=tenant, title="Rotate the logs", source=Task.Source.API)
    return watcher


def _the_message(watcher: _Watcher) -> str:
    [message] = [sql for sql in watcher.statements if COUNTER_UPSERT in sql]
    return message


def test_one_message_commits_without_the_fsync_then_waits_for_the_flush(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = False
    apply_caps(tenant_a, tasks=10)

    message = _the_message(_create_watched(tenant_a))

    assert message.startswith("BEGIN; ")
    before_commit, after_commit = message.split("; COMMIT; ")
    assert "'synchronous_commit', 'off'" in before_commit  # no fsync inside the lock
    assert after_commit == WAL_FLUSH_SQL  # the wait, after the lock is released
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1


def test_the_opt_in_asynchronous_mode_does_not_wait(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = True
    apply_caps(tenant_a, tasks=10)

    message = _the_message(_create_watched(tenant_a))

    assert message.endswith("; COMMIT") and WAL_FLUSH_SQL not in message
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1


def test_a_refused_create_ends_its_failed_block(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = False
    apply_caps(tenant_a, tasks=0)
    watcher = _Watcher()
    with connection.execute_wrapper(watcher), pytest.raises(CapReached):
        task_create(tenant=tenant_a, title="One too many", source=Task.Source.API)
    # The failed BEGIN block was rolled back: the connection is usable, in autocommit.
    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert "ROLLBACK" in watcher.statements
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 0


def test_the_insert_is_the_orms_own_for_every_task_text_and_values(tenant_a, admin_a):
    """The INSERT's text is compiled once per database; each task's values are prepared as the
    ORM's insert compiler prepares them, and compiling never touches the task being created."""
    from tasks import guards
    from tasks.models import Host

    host = Host.objects.create(tenant=tenant_a, name="web-3")
    guards._TASK_INSERT_SQL.clear()
    tasks = [
        Task(tenant=tenant_a, title="First", source=Task.Source.API),
        Task(
            tenant=tenant_a, title="Ünïcode ' quotes", description="d" * 500, host=host,
            creator=admin_a, kind=Task.Kind.RECURRING, source=Task.Source.UI,
        ),
    ]  # fmt: skip
    for task in tasks:
        sql, params = guards._task_insert_sql(task, connection)
        created_at = task.created_at
        with time_machine.travel(created_at, tick=False):  # the compiler stamps it again
            assert (sql, params) == guards._compiled_task_insert(task, connection)
        assert params[[f.attname for f in guards._task_insert_fields()].index("created_at")] == (
            created_at
        )
    assert list(guards._TASK_INSERT_SQL) == [connection.alias]


def test_any_failure_inside_the_block_leaves_the_connection_usable(tenant_a, settings):
    """Not only the guard's own refusals: any error inside BEGIN ... COMMIT (here a trigger's)
    is rolled back, so the next query on the connection works."""
    from django.db import DatabaseError

    apply_caps(tenant_a, tasks=10)
    with connection.cursor() as cursor:
        cursor.execute(
            "CREATE FUNCTION refuse_boom() RETURNS trigger AS $$ BEGIN "
            "IF NEW.title = 'boom' THEN RAISE EXCEPTION 'boom refused'; END IF; RETURN NEW; "
            "END $$ LANGUAGE plpgsql; "
            "CREATE TRIGGER refuse_boom BEFORE INSERT ON tasks_task "
            "FOR EACH ROW EXECUTE FUNCTION refuse_boom()"
        )
    try:
        with pytest.raises(DatabaseError, match="boom refused"):
            task_create(tenant=tenant_a, title="boom", source=Task.Source.API)
        assert connection.connection.info.transaction_status == TransactionStatus.IDLE
        task_create(tenant=tenant_a, title="fine", source=Task.Source.API)
        assert task_rows(tenant_a) == tasks_used(tenant_a) == 1
    finally:
        with connection.cursor() as cursor:
            cursor.execute("DROP TRIGGER refuse_boom ON tasks_task; DROP FUNCTION refuse_boom()")
