"""An acknowledged task is on disk: `task_create` returns only once the WAL is flushed past it.

The create's own message commits without waiting for the flush (so the counter row is not
held across an fsync); the wait comes after, outside the lock. These tests watch the
statements `task_create` sends and the server's WAL positions.
"""

import psycopg
import pytest
from django.db import connection

from tasks.guards import WAL_FLUSH_SQL
from tasks.models import Task
from tasks.services import task_create
from tests.tasks.caps_helpers import apply_caps, task_rows, tasks_used

pytestmark = [pytest.mark.postgres, pytest.mark.django_db(transaction=True)]

COUNTER_UPSERT = 'INSERT INTO "tasks_taskcounter"'


def _wal_position(sql: str) -> str:
    """A WAL position read on a connection of its own (outside the create's session)."""
    settings = connection.settings_dict
    with psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"],
        dbname=settings["NAME"], autocommit=True,
    ) as other:  # fmt: skip
        return other.execute(sql).fetchone()[0]


class _Watcher:
    """Records each statement sent, and the WAL insert position right after the create's
    message (its commit record is behind that position)."""

    def __init__(self) -> None:
        self.statements: list[str] = []
        self.after_message: str | None = None

    def __call__(self, execute, sql, params, many, context):
        result = execute(sql, params, many, context)
        self.statements.append(sql)
        if COUNTER_UPSERT in sql:
            self.after_message = _wal_position("SELECT pg_current_wal_insert_lsn()::text")
        return result


def _create_watched(tenant) -> _Watcher:
    watcher = _Watcher()
    with connection.execute_wrapper(watcher):
        task_create(tenant=tenant, title="Rotate the logs", source=Task.Source.API)
    return watcher


def _flushed_at_least(position: str) -> bool:
    return _wal_position(f"SELECT pg_current_wal_flush_lsn() >= '{position}'::pg_lsn")


def test_the_create_returns_after_the_wal_is_flushed_past_its_commit(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = False
    apply_caps(tenant_a, tasks=10)

    watcher = _create_watched(tenant_a)

    message = next(index for index, sql in enumerate(watcher.statements) if COUNTER_UPSERT in sql)
    assert "'synchronous_commit', 'off'" in watcher.statements[message]  # not inside the lock
    assert watcher.statements[message + 1 :] == [WAL_FLUSH_SQL]  # the wait, after the commit
    assert _flushed_at_least(watcher.after_message)
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1


def test_the_opt_in_asynchronous_mode_does_not_wait(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = True
    apply_caps(tenant_a, tasks=10)

    watcher = _create_watched(tenant_a)

    assert WAL_FLUSH_SQL not in watcher.statements
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 1


def test_a_refused_create_sends_no_wait(tenant_a, settings):
    settings.TASK_CAP_ASYNC_COMMIT = False
    apply_caps(tenant_a, tasks=0)
    watcher = _Watcher()
    with connection.execute_wrapper(watcher), pytest.raises(Exception, match="cap"):
        task_create(tenant=tenant_a, title="One too many", source=Task.Source.API)
    assert WAL_FLUSH_SQL not in watcher.statements
    assert task_rows(tenant_a) == tasks_used(tenant_a) == 0
