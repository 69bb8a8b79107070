"""read_together: a read's statements in one round trip, results in order, serial."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from usage.selectors.rollups import NOTHING, Read, read_together

pytestmark = pytest.mark.django_db


def _setting() -> str:
    with connection.cursor() as cursor:
        cursor.execute("SHOW max_parallel_workers_per_gather")
        return cursor.fetchone()[0]


def test_each_read_makes_its_own_rows_in_order_in_one_query():
    seen = []
    reads = [
        Read("SELECT %s + 1", [1], lambda rows: rows[0][0]),
        Read(*NOTHING, lambda rows: rows),
        Read("SELECT x FROM generate_series(1, %s) AS x", [3], lambda rows: seen.append(rows)),
        Read("SHOW max_parallel_workers_per_gather", [], lambda rows: rows[0][0]),
    ]
    with CaptureQueriesContext(connection) as queries:
        made = read_together(*reads)
    assert made == [2, [], None, "0"]  # no parallel workers for the batch
    assert seen == [[(1,), (2,), (3,)]]
    assert len(queries) == 1


@pytest.mark.django_db(transaction=True)
def test_outside_a_transaction_the_serial_setting_ends_with_the_batch():
    before = _setting()
    assert before != "0"  # PostgreSQL's default is 2: the test shows the batch's own setting
    assert read_together(Read("SHOW max_parallel_workers_per_gather", [], list)) == [[("0",)]]
    assert _setting() == before
