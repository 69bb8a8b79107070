"""An acknowledged task is on disk, and the counter's lock is never held across an fsync.

The create's transaction commits with `synchronous_commit = off` (the counter row is
released as soon as the commit is recorded) and the wait for the WAL flush comes after the
commit, before `task_create` returns. These tests watch what the server is asked to do and
compare the server's WAL positions.
"""

import pytest
from django.db import connection
from psycopg.pq import TransactionStatus

from licensing.errors import CapReached
from tasks.models import Task
from tasks.services import task_create
from tests.factories import active_license
from tests.tasks.caps_helpers import task_rows, tasks_used

pytestmark = [pytest.mark.django_db(transaction=True)]

COUNTER_UPDATE = "UPDATE tasks_taskcounter"
FLUSH_WAIT = "pg_logical_emit_message"


def _server(sql: str):
    """One value from the server on the same session, around Django's wrappers."""
    return connection.connection.execute(sql).fetchone()[0]


class _Watcher:
    """Records each statement, with the transaction it ran in and the commit mode after it."""

    def __init__(self) -> None:
        self.seen: list[dict] = []

    def __call__(self, execute, sql, params, many, context):
        seen = {
            "sql": sql,
            "in_transaction": connection.in_atomic_block,
            "wal_inserted": _server("SELECT pg_current_wal_insert_lsn()::text"),
        }
        self.seen.append(seen)
        result = execute(sql, params, many, context)
        # After the statement: the guard's UPDATE sets the commit mode itself.
        seen["synchronous_commit"] = _server("SELECT current_setting('synchronous_commit')")
        return result

    def the(self, fragment: str) -> dict:
        [statement] = [seen for seen in self.seen if fragment in seen["sql"]]
        return statement


def _create_watched(tenant) -> _Watcher:
    watcher = _Watcher()
    with connection.execute_wrapper(watcher):
        task_create(tenant=tenant, title="Rotate the logs", source=Task.Source.API)
    return watcher


def test_the_counter_is_locked_in_a_commit_that_does_not_wait_for_the_fsync(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = False
    active_license(tenant_a, tasks=10)

    counted = _create_watched(tenant_a).the(COUNTER_UPDATE)

    assert counted["in_transaction"] and counted["synchronous_commit"] == "off"
    assert _server("SELECT current_setting('synchronous_commit')") == "on"  # only that one
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1


def test_task_create_returns_only_once_the_wal_is_flushed_past_the_task(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = False
    active_license(tenant_a, tasks=10)

    watcher = _create_watched(tenant_a)
    wait = watcher.the(FLUSH_WAIT)
    flushed = _server(f"SELECT pg_current_wal_flush_lsn() >= '{wait['wal_inserted']}'::pg_lsn")

    # The wait runs after the commit (outside the lock), and it is the last statement.
    assert not wait["in_transaction"] and watcher.seen[-1] is wait
    # Its start was past the task's commit record; the server had flushed past it.
    assert flushed


def test_the_opt_in_asynchronous_mode_does_not_wait(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = True
    active_license(tenant_a, tasks=10)

    watcher = _create_watched(tenant_a)

    assert watcher.the(COUNTER_UPDATE)["synchronous_commit"] == "off"
    assert not [seen for seen in watcher.seen if FLUSH_WAIT in seen["sql"]]
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1


def test_a_refused_create_leaves_the_connection_usable_and_waits_for_nothing(tenant_a):
    active_license(tenant_a, tasks=0)
    watcher = _Watcher()
    with connection.execute_wrapper(watcher), pytest.raises(CapReached):
        task_create(tenant=tenant_a, title="One too many", source=Task.Source.API)

    assert connection.connection.info.transaction_status == TransactionStatus.IDLE
    assert not [seen for seen in watcher.seen if FLUSH_WAIT in seen["sql"]]
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 0


def test_any_failure_inside_the_transaction_leaves_the_connection_usable(tenant_a):
    """Not only the guard's own refusals: any error in the create (here a trigger's) is
    rolled back, so the next create on the connection works."""
    from django.db import DatabaseError

    active_license(tenant_a, tasks=10)
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
