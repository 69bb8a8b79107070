"""Reading a range from the rollups: whole grains from rollup rows, raw events at the edges."""

from collections.abc import Callable, Iterable
from contextvars import ContextVar
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from decimal import localcontext
from typing import Generic, TypeVar

from django.db import DataError, connection, transaction

from licensing.models import Tenant
from usage.buckets import Buckets
from usage.models import MODEL_GRAINS, UsageEvent
from usage.selectors.figures import Sums
from usage.selectors.filters import NO_FILTER, ActivityFilter

# Cast back to bigint: SUM(bigint) is a numeric, which the driver turns into a Decimal
# that then costs an int() per value (a sum would need ~4e9 events of 2^31 tokens to
# overflow, and would then fail loudly, not wrap).
SUM_COLUMNS = (
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "succeeded_requests",
    "failed_requests",
)
SUMS_SQL = ", ".join(f"CAST(SUM({column}) AS BIGINT)" for column in SUM_COLUMNS)
ROW_SUMS_SQL = ", ".join(SUM_COLUMNS)  # the same columns of single rows, unsummed
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
T = TypeVar("T")
_MICRO = timedelta(microseconds=1)


# The SQL type `exact_read` sums products of tokens and picodollar prices in.
_PRODUCT_TYPE: ContextVar[str] = ContextVar("product_type", default="BIGINT")


def exact_reads(read: Callable[[], T]) -> T:
    """`read()` (whose reads are one `read_together`), with Decimal sums exact (60 digits), and
    `exact_read`'s products of tokens and picodollar prices in bigint; when one does not
    fit (beyond 2^63 picodollars, 9.2 million USD, in one row or sum), rolled back and
    read again in numeric (slower). Exact either way, with no savepoint per statement."""
    try:
        return _serial_read(read)
    except DataError:
        token = _PRODUCT_TYPE.set("NUMERIC")
        try:
            return _serial_read(read)
        finally:
            _PRODUCT_TYPE.reset(token)


def _serial_read(read: Callable[[], T]) -> T:
    with localcontext() as context:
        context.prec = 60  # cost sums stay exact far beyond any real bill
        if not connection.in_atomic_block:
            return read()  # no BEGIN, COMMIT: read_together's statements are one transaction
        with transaction.atomic():  # a savepoint: an overflow rolls back to it, no further
            return read()


_SERIAL = "SET LOCAL max_parallel_workers_per_gather = 0"
NOTHING: tuple[str, list] = ("SELECT NULL WHERE FALSE", [])  # a statement of no rows


@dataclass(frozen=True)
class Read(Generic[T]):
    """A statement to send with others (`read_together`), and what its rows make."""

    sql: str
    params: list
    made: Callable[[list[tuple]], T]


def read_together(*reads: Read) -> list:
    """What each read makes of its rows, in order, its statements sent in one round trip.

    One simple-protocol query of several statements (Django's client-side binding merges
    the parameters; results follow one another, `nextset`): ~0.15 ms less per statement
    than one round trip each. A read's `made` may use what an earlier one made.

    No parallel workers for them (set first, for the transaction): they are small index
    range scans, and starting workers costs more than it saves (much more on a busy
    machine)."""
    statements = [_SERIAL, *(read.sql for read in reads)]
    with connection.cursor() as cursor:
        cursor.execute("; ".join(statements), [p for read in reads for p in read.params])
        cursor.nextset()  # past the SET
        made = []
        for read in reads:
            made.append(read.made(cursor.fetchall()))
            cursor.nextset()
        return made


@dataclass(frozen=True)
class Window:
    """Whole rollup grains of one size: `[first, end)` in Unix seconds."""

    grain_seconds: int
    first: int
    end: int


@dataclass(frozen=True)
class Pieces:
    """A range cut into whole rollup grains and raw partial edges."""

    windows: list[Window]
    raw: list[tuple[datetime, datetime]]  # aware datetimes, half-open

    def source(self, model, tenant_id: int, model_id: int | None = None) -> tuple[str, list]:
        """The rollup rows of the windows (of one model, when `model_id` is given), as a
        subquery `rollup`.

        One scan with the windows OR'd: PostgreSQL ORs their range scans of the rollup's
        unique index (one window: one index range scan). It plans and runs faster than a
        UNION ALL of a scan per window (0.1-0.5 ms less per statement, a day's activity
        ~1 ms less: bench/activity.py, 2026-12-04).
        """
        table = connection.ops.quote_name(model._meta.db_table)
        window = "(grain_seconds = %s AND grain_start >= %s AND grain_start < %s)"
        sql = (
            f"(SELECT * FROM {table} WHERE tenant_id = %s AND "
            f"({' OR '.join([window] * len(self.windows))})"
        )
        params: list = [tenant_id]
        params += [v for w in self.windows for v in (w.grain_seconds, w.first, w.end)]
        if model_id is not None:
            sql += " AND model_id = %s"
            params.append(model_id)
        return sql + ") AS rollup", params


def pieces(
    start: datetime, end: datetime, grains: tuple[int, ...], cuts: Iterable[int] = ()
) -> Pieces:
    """Coarsest grains first, finer ones for what is left at the edges, raw events last.

    `cuts` (Unix seconds, e.g. plan changes) split the range first, so no rollup row read
    straddles one. Exact: bounds are integer microseconds.
    """
    low, high = (start - _EPOCH) // _MICRO, (end - _EPOCH) // _MICRO
    bounds = [low, *sorted({c * 10**6 for c in cuts if low < c * 10**6 < high}), high]
    windows: list[Window] = []
    raw: list[tuple[int, int]] = []
    for a, b in zip(bounds, bounds[1:], strict=False):
        _fill(a, b, grains, windows, raw)
    return Pieces(
        windows=windows,
        raw=[(_EPOCH + a * _MICRO, _EPOCH + b * _MICRO) for a, b in raw],
    )


def _fill(
    a: int, b: int, sizes: tuple[int, ...], windows: list[Window], raw: list[tuple[int, int]]
) -> None:
    """Cover `[a, b)` (microseconds) with whole grains of `sizes[0]`, then finer ones."""
    if not sizes:
        raw.append((a, b))
        return
    size = sizes[0] * 10**6
    first, last = -(-a // size) * size, b // size * size
    if first >= last:
        _fill(a, b, sizes[1:], windows, raw)
        return
    windows.append(Window(sizes[0], first // 10**6, last // 10**6))
    if a < first:
        _fill(a, first, sizes[1:], windows, raw)
    if last < b:
        _fill(last, b, sizes[1:], windows, raw)


def model_grains(buckets: Buckets) -> tuple[int, ...]:
    """The grains whose rows never straddle a bucket: they divide the bucket, the zone's
    offsets and its offset changes in the range."""
    changes = [int(at.timestamp()) for at, _ in buckets.offsets[1:]]
    return tuple(
        grain
        for grain in MODEL_GRAINS
        if buckets.seconds % grain == 0
        and all(offset % grain == 0 for _, offset in buckets.offsets)
        and all(change % grain == 0 for change in changes)
    )


@dataclass(frozen=True)
class RawEvent:
    """A usage event read raw, at a partial edge of a range."""

    occurred_at: datetime
    model_id: int
    ticket_id: int | None
    consumer: str
    host_id: int | None
    sums: Sums


# What `RawEdges` reads of each event.
_RAW_COLUMNS = (
    "occurred_at",
    "model_id",
    "ticket_id",
    "consumer",
    "host_id",
    "input_tokens",
    "output_tokens",
    "cached_tokens",
    "succeeded",
)


class RawEdges:
    """The raw events of every partial edge of one activity (or, for a filter no rollup
    serves, of the whole range), read in one statement (`read`), narrowed by the
    activity's filter."""

    def __init__(self, tenant: Tenant, windows: list, narrowed: ActivityFilter = NO_FILTER) -> None:
        self.tenant, self.windows, self.narrowed = tenant, windows, narrowed
        self.events: list[RawEvent] = []

    def read(self) -> Read[None]:
        """The events' `Read`: `events` is filled when it is made (`read_together`)."""
        return Read(*self.sql(self.windows, _RAW_COLUMNS), self._load)

    def _load(self, rows: list[tuple]) -> None:
        self.events = [
            RawEvent(
                at,
                model_id,
                ticket_id,
                consumer,
                host_id,
                Sums(inp, out, cached, int(ok), int(not ok)),
            )
            for at, model_id, ticket_id, consumer, host_id, inp, out, cached, ok in rows
        ]

    def sql(self, windows: list, columns: Iterable[str], where: str = "") -> tuple[str, list]:
        """SELECT `columns` of the tenant's events in `windows` (half-open `(low, high)`
        pairs of aware datetimes), narrowed, and `where` (SQL) if given. Plain SQL, not
        the ORM: it is read for every activity, and the ORM's compiling cost more."""
        windows = sorted(set(windows))
        ranges = " OR ".join(["(occurred_at >= %s AND occurred_at < %s)"] * len(windows))
        conditions = ["tenant_id = %s", f"({ranges})" if windows else "FALSE"]
        params: list = [self.tenant.id]
        params += [bound for window in windows for bound in window]
        if self.narrowed.model_id is not None:
            conditions.append("model_id = %s")
            params.append(self.narrowed.model_id)
        if self.narrowed.consumer:
            conditions.append("consumer = %s")
            params.append(self.narrowed.consumer)
        if self.narrowed.host:
            conditions.append("host_id = ANY(%s)")
            params.append(list(self.narrowed.host_ids))
        if where:
            conditions.append(where)
        table = connection.ops.quote_name(UsageEvent._meta.db_table)
        return (
            f"SELECT {', '.join(columns)} FROM {table} WHERE {' AND '.join(conditions)}",
            params,
        )

    def within(self, windows: list) -> list[RawEvent]:
        return [
            event
            for event in self.events
            if any(low <= event.occurred_at < high for low, high in windows)
        ]


def exact_read(
    statement: Callable[[str], tuple[str, list]], made: Callable[[list], T]
) -> "Read[T]":
    """The `Read` of `statement(sql_type)`, whose sums of products of tokens and picodollar
    prices are `sql_type` (BIGINT or NUMERIC): inside `exact_reads`, which chooses it."""
    return Read(*statement(_PRODUCT_TYPE.get()), made)
