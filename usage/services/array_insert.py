"""Many rows in one INSERT, sent as one array per column (PostgreSQL's unnest).

Why not a VALUES list: psycopg converts a query with one placeholder per value on the
client (13,000 for a batch of 1,000 events), and that conversion, not PostgreSQL, was most
of the insert's time: 70 ms per 1,000 events with VALUES, 22 ms with arrays (median of 20
batches of `bench/activity.py`'s ingestion data). The arrays' statement is the same text
for any batch size, so psycopg also caches its parse.
"""

from collections.abc import Mapping, Sequence
from typing import Any


def array_insert_sql(table: str, *, constants: Sequence[str], columns: Mapping[str, str]) -> str:
    """`INSERT INTO table (...) SELECT ...`: one `%s` per name in `constants` (the same
    value on every row), then one `%s` per entry of `columns` ({name: SQL type}) taking an
    array (`array_columns`). Rows are inserted in the arrays' order (WITH ORDINALITY),
    which callers sort for a fixed lock order. The caller adds ON CONFLICT / RETURNING."""
    names = ", ".join(columns)
    arrays = ", ".join(f"%s::{sql_type}[]" for sql_type in columns.values())
    selected = ", ".join([*(["%s"] * len(constants)), *(f"batch.{name}" for name in columns)])
    return (
        f"INSERT INTO {table} ({', '.join([*constants, *columns])}) "
        f"SELECT {selected} FROM unnest({arrays}) WITH ORDINALITY AS batch({names}, position) "
        "ORDER BY batch.position"
    )


def array_columns(rows: Sequence[Sequence[Any]], width: int) -> list[list[Any]]:
    """The rows as `width` column lists (the parameters `array_insert_sql` takes)."""
    if not rows:
        return [[] for _ in range(width)]
    return [list(column) for column in zip(*rows, strict=True)]
