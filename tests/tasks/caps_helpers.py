"""Shared by the caps tests: licenses with given caps, what the counter and table say, and
a row lock held by another transaction."""

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager

from django.db import connection, transaction

from tasks.models import Task, TaskCounter
from tasks.services import task_create


def create_tasks(tenant, count: int) -> list[Task]:
    return [
        task_create(tenant=tenant, title=f"Task {number}", source=Task.Source.API)
        for number in range(count)
    ]


def tasks_used(tenant) -> int:
    return TaskCounter.objects.get(tenant=tenant).used


def task_rows(tenant) -> int:
    return Task.objects.filter(tenant=tenant).count()


@contextmanager
def held_by_another_transaction(lock: Callable[[], object]) -> Iterator[None]:
    """Run the block while another thread's transaction holds the row lock `lock` takes."""
    holding, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                lock()
                holding.set()
                release.wait(timeout=30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert holding.wait(timeout=30)
        yield
    finally:
        release.set()
        holder.join()
