"""Activity buckets in the tenant's time zone: sizes, edges across DST, and range checks.

No database here. A range is half-open, `[start, end)`. Buckets are aligned to the
tenant's wall clock:

- 5 min, 15 min and 1 h buckets are stretches of real time: the repeated hour of an
  autumn DST change is two hourly buckets, the skipped spring hour is none.
- 6 h and 1 day buckets follow the calendar: a DST day is one bucket of 23 or 25 hours.

The first bucket may start before `start` and the last end after `end`; only usage
inside the range counts.
"""

from bisect import bisect_right
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import cast
from zoneinfo import ZoneInfo

from licensing.errors import DomainError

# The bucket choices of the API (`bucket=`), in seconds.
BUCKET_SIZES: dict[str, int] = {"5m": 300, "15m": 900, "1h": 3600, "6h": 21600, "1d": 86400}
CALENDAR_SIZES = frozenset({21600, 86400})
MAX_BUCKETS = 2000
# Every real UTC offset and DST change is on a 15-minute boundary (checked per range below).
_OFFSET_QUANTUM = 900


# Every time Tally accepts (ranges, usage events, pricing plans) lies in [EARLIEST, LATEST].
# No LLM usage predates 2000, and staying far from datetime's years 1 and 9999 means no
# offset, bucket or day arithmetic can overflow (and Unix seconds are never negative).
EARLIEST = datetime(2000, 1, 1, tzinfo=UTC)
LATEST = datetime(9000, 1, 1, tzinfo=UTC)
BOUNDS = "between 2000-01-01 and 9000-01-01 (UTC)"
RANGE_OUT_OF_BOUNDS = f"A range must lie {BOUNDS}: Tally keeps no usage outside those dates."


class RangeRefused(DomainError):
    """A range or bucket the activity cannot be computed for (400)."""

    code = "invalid_range"


def in_bounds(instant: datetime) -> bool:
    """Whether an aware time lies in [EARLIEST, LATEST] (compared without arithmetic)."""
    return EARLIEST <= instant <= LATEST


def check_range(start: datetime, end: datetime) -> None:
    """Raise RangeRefused for naive times, times out of bounds, or `end` not after `start`."""
    if start.tzinfo is None or end.tzinfo is None:
        raise RangeRefused("Give start and end as ISO 8601 times with an offset.")
    if not (in_bounds(start) and in_bounds(end)):
        raise RangeRefused(RANGE_OUT_OF_BOUNDS)
    if end <= start:
        raise RangeRefused("The range ends before it starts: end must be after start.")


def auto_bucket(start: datetime, end: datetime) -> str:
    """The bucket for a range length: up to 24 h -> 5 min, 7 d -> 1 h, 30 d -> 6 h, else 1 day."""
    length = end - start
    if length <= timedelta(hours=24):
        return "5m"
    if length <= timedelta(days=7):
        return "1h"
    if length <= timedelta(days=31):
        return "6h"
    return "1d"


@dataclass(frozen=True)
class Buckets:
    """The buckets of a range: `edges[i]` is the aware UTC start of bucket i."""

    start: datetime
    end: datetime
    name: str
    seconds: int
    zone: ZoneInfo
    edges: tuple[datetime, ...]
    last_end: datetime
    # Constant-offset stretches of the range: (from, utc offset in seconds), ascending;
    # empty for calendar months (`by_edges`).
    offsets: tuple[tuple[datetime, int], ...]
    # Calendar months (`month_buckets`): SQL numbers the bucket from the edges themselves.
    by_edges: bool = False

    def __len__(self) -> int:
        return len(self.edges)

    def index(self, instant: datetime) -> int:
        """The bucket holding `instant` (which must lie in `[start, end)`)."""
        return bisect_right(self.edges, instant) - 1

    def bucket_end(self, i: int) -> datetime:
        return self.edges[i + 1] if i + 1 < len(self.edges) else self.last_end

    def stretch_sql(self, column: str) -> tuple[str, list[int]]:
        """SQL numbering the constant-offset stretch that `column` (Unix seconds) is in."""
        if len(self.offsets) == 1 or self.by_edges:
            return "", []  # one stretch: nothing to group by
        parts, params = [], []
        for number, (following, _) in enumerate(self.offsets[1:]):
            parts.append(f"WHEN {column} < %s THEN {number}")
            params.append(int(following.timestamp()))
        return "CASE " + " ".join(parts) + f" ELSE {len(self.offsets) - 1} END", params

    def wall_key_sql(self, column: str) -> tuple[str, list[int]]:
        """SQL numbering the wall-clock bucket of `column` (Unix seconds).

        Grouped together with `stretch_sql`, a group never spans two buckets, and
        `index()` of its earliest instant tells its bucket. Portable integer arithmetic.
        """
        params: list[int] = []
        if self.by_edges:
            return self._edge_key_sql(column)
        if len(self.offsets) == 1:
            offset_sql = "%s"
            params.append(self.offsets[0][1])
        else:
            parts = []
            for (_, offset), (following, _) in zip(self.offsets, self.offsets[1:], strict=False):
                parts.append(f"WHEN {column} < %s THEN %s")
                params += [int(following.timestamp()), offset]
            offset_sql = "CASE " + " ".join(parts) + " ELSE %s END"
            params.append(self.offsets[-1][1])
        return f"(({column} + {offset_sql}) / {self.seconds})", params

    def _edge_key_sql(self, column: str) -> tuple[str, list[int]]:
        """The bucket index of `column` (Unix seconds) by comparison with the edges."""
        if len(self.edges) == 1:
            return f"({column} * 0)", []  # not a bare 0: GROUP BY 0 means "column 0"
        parts = [f"WHEN {column} < %s THEN {number}" for number in range(len(self.edges) - 1)]
        params = [int(edge.timestamp()) for edge in self.edges[1:]]
        return "CASE " + " ".join(parts) + f" ELSE {len(self.edges) - 1} END", params


def buckets_for(*, start: datetime, end: datetime, zone: ZoneInfo, bucket: str = "auto") -> Buckets:
    """The buckets of `[start, end)` in `zone`; `bucket` is "auto" or a key of BUCKET_SIZES.

    Raises RangeRefused for naive times, times out of bounds, `end` not after `start`,
    an unknown bucket, or more than MAX_BUCKETS buckets.
    """
    check_range(start, end)
    name = auto_bucket(start, end) if bucket in ("auto", "", None) else bucket
    if name not in BUCKET_SIZES:
        choices = ", ".join(["auto", *BUCKET_SIZES])
        raise RangeRefused(f"Unknown bucket {bucket!r}: use one of {choices}.")
    seconds = BUCKET_SIZES[name]
    estimate = int((end - start).total_seconds() // seconds) + 1
    if estimate > MAX_BUCKETS + 1:
        raise RangeRefused(
            f"This range needs about {estimate} buckets of {name}; at most {MAX_BUCKETS} "
            "are shown: choose a larger bucket or a shorter range."
        )
    start, end = start.astimezone(UTC), end.astimezone(UTC)
    # Edges a little past `end` give the end of the last bucket (a day is at most 25 h).
    beyond = end + timedelta(seconds=seconds, hours=2)
    offsets = _offsets(start, beyond, zone)
    every = _edges(start, beyond, seconds, zone, offsets)
    edges = tuple(edge for edge in every if edge < end)
    last_end = next(edge for edge in every if edge >= end)
    if len(edges) > MAX_BUCKETS:
        raise RangeRefused(
            f"This range needs {len(edges)} buckets of {name}; at most {MAX_BUCKETS} "
            "are shown: choose a larger bucket or a shorter range."
        )
    in_range = tuple((at, offset) for at, offset in offsets if at < end)
    return Buckets(start, end, name, seconds, zone, edges, last_end, in_range)


def _offset(instant: datetime, zone: ZoneInfo) -> int:
    # An aware datetime always has an offset.
    return int(cast(timedelta, instant.astimezone(zone).utcoffset()).total_seconds())


def _offsets(start: datetime, end: datetime, zone: ZoneInfo) -> tuple[tuple[datetime, int], ...]:
    """Where the zone's offset changes within `[start, end)`, found by bisection."""
    stretches = [(start, _offset(start, zone))]
    step = timedelta(hours=6)
    left = start
    while left < end:
        right = min(left + step, end)
        if _offset(right, zone) != stretches[-1][1] or (
            right == end and _offset(end - timedelta(seconds=1), zone) != stretches[-1][1]
        ):
            low, high = left, right  # offset(low) == current, change in (low, high]
            while high - low > timedelta(seconds=1):
                mid = low + (high - low) / 2
                if _offset(mid, zone) == stretches[-1][1]:
                    low = mid
                else:
                    high = mid
            change = high.replace(microsecond=0)
            if change < end:
                if int(change.timestamp()) % _OFFSET_QUANTUM:
                    raise RangeRefused(
                        f"The time zone {zone.key} changes offset off a quarter hour "
                        f"at {change:%Y-%m-%d %H:%M:%S} UTC; this range cannot be bucketed."
                    )
                stretches.append((change, _offset(change, zone)))
            left = change if change > left else right
        else:
            left = right
    return tuple(stretches)


def _wall_key(instant: datetime, offset: int, seconds: int) -> int:
    return (int(instant.timestamp()) + offset) // seconds


def _edges(start: datetime, end: datetime, seconds: int, zone: ZoneInfo, offsets) -> list[datetime]:
    """Bucket starts covering `[start, end)`: the first one at or before `start`."""
    first_offset = offsets[0][1]
    key = _wall_key(start, first_offset, seconds)
    first = datetime.fromtimestamp(key * seconds - first_offset, UTC)
    if seconds in CALENDAR_SIZES:
        # The wall-clock bucket start may lie in another offset (a DST day): convert the
        # wall time itself; fold=0 maps a skipped wall time to the moment of the change.
        wall = datetime(1970, 1, 1) + timedelta(seconds=key * seconds)
        first = wall.replace(tzinfo=zone, fold=0).astimezone(UTC)
    result = [min(first, start)]
    for i, (stretch_start, offset) in enumerate(offsets):
        stretch_end = offsets[i + 1][0] if i + 1 < len(offsets) else end
        if i > 0:
            before = _wall_key(stretch_start - timedelta(seconds=1), offsets[i - 1][1], seconds)
            if seconds not in CALENDAR_SIZES or _wall_key(stretch_start, offset, seconds) != before:
                result.append(stretch_start)
        key = _wall_key(stretch_start, offset, seconds) + 1
        while True:
            edge = datetime.fromtimestamp(key * seconds - offset, UTC)
            if edge >= stretch_end:
                break
            if edge > result[-1]:
                result.append(edge)
            key += 1
    return result


def month_buckets(
    *, edges: tuple[datetime, ...], last_end: datetime, end: datetime, zone: ZoneInfo
):
    """Calendar months as buckets (the history's cycles): `edges` are the aware UTC starts of
    consecutive local months, `last_end` the end of the last one, `end` where the range stops
    (now, inside the current month).

    SQL numbers a rollup row's month from the edges (`wall_key_sql`), so the range must be
    read cut at every edge (`month_cuts`): no row read then straddles two months. `seconds`
    (a day) is only the size every month is a whole number of.
    """
    check_range(edges[0], end)
    start = edges[0].astimezone(UTC)
    # No offsets: the edges hold the zone's calendar, and the SQL needs no stretch.
    return Buckets(start, end.astimezone(UTC), "1mo", 86400, zone, edges, last_end, (), True)


def month_cuts(buckets: Buckets) -> list[int]:
    """The month edges inside the range, in Unix seconds (the `cuts` of a rollup read)."""
    return [int(edge.timestamp()) for edge in buckets.edges[1:]]
