"""Buckets in the tenant's zone: sizes per range, DST days, edges, limits (no database)."""

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from usage.buckets import RangeRefused, buckets_for

PARIS = ZoneInfo("Europe/Paris")
NEW_YORK = ZoneInfo("America/New_York")
KATHMANDU = ZoneInfo("Asia/Kathmandu")  # +05:45


def _lengths(buckets):
    return [buckets.bucket_end(i) - buckets.edges[i] for i in range(len(buckets))]


@pytest.mark.parametrize(
    ("length", "name", "count"),
    [
        (timedelta(hours=24), "5m", 288),
        (timedelta(days=7), "1h", 168),
        (timedelta(days=30), "6h", 120),
        (timedelta(days=90), "1d", 90),
    ],
)
def test_the_bucket_follows_the_range(length, name, count):
    start = datetime(2026, 6, 1, tzinfo=UTC)
    buckets = buckets_for(start=start, end=start + length, zone=ZoneInfo("UTC"))
    assert (buckets.name, len(buckets)) == (name, count)


@pytest.mark.parametrize(
    ("zone", "day", "hours"),
    [
        (PARIS, datetime(2026, 3, 29), 23),
        (PARIS, datetime(2026, 10, 25), 25),
        (NEW_YORK, datetime(2026, 3, 8), 23),
        (NEW_YORK, datetime(2026, 11, 1), 25),
    ],
)
def test_a_dst_day_is_one_bucket_of_23_or_25_hours(zone, day, hours):
    start = (day - timedelta(days=1)).replace(tzinfo=zone)
    buckets = buckets_for(start=start, end=start + timedelta(days=3), zone=zone, bucket="1d")
    assert [edge.astimezone(zone).hour for edge in buckets.edges] == [0, 0, 0]
    assert _lengths(buckets) == [timedelta(hours=24), timedelta(hours=hours), timedelta(hours=24)]


@pytest.mark.parametrize(
    ("zone", "day", "count"),
    [(PARIS, datetime(2026, 3, 29), 23), (NEW_YORK, datetime(2026, 11, 1), 25)],
)
def test_hourly_buckets_of_a_dst_day_are_real_hours(zone, day, count):
    start = day.replace(tzinfo=zone)
    end = (day + timedelta(days=1)).replace(tzinfo=zone)
    buckets = buckets_for(start=start, end=end, zone=zone, bucket="1h")
    assert len(buckets) == count
    assert set(_lengths(buckets)) == {timedelta(hours=1)}


def test_six_hour_buckets_follow_the_wall_clock_across_dst():
    start = datetime(2026, 3, 29, tzinfo=PARIS)
    buckets = buckets_for(start=start, end=start + timedelta(hours=23), zone=PARIS, bucket="6h")
    assert [e.astimezone(PARIS).hour for e in buckets.edges] == [0, 6, 12, 18]
    assert _lengths(buckets)[0] == timedelta(hours=5)


def test_buckets_align_to_a_quarter_hour_offset():
    start = datetime(2026, 6, 1, 10, tzinfo=UTC)
    buckets = buckets_for(start=start, end=start + timedelta(days=2), zone=KATHMANDU, bucket="1d")
    assert buckets.edges[1].astimezone(KATHMANDU).time().isoformat() == "00:00:00"
    assert buckets.edges[1].minute == 15  # 00:00 +05:45 is 18:15 UTC


def test_the_first_bucket_holds_start_and_the_last_bucket_holds_the_instant_before_end():
    start = datetime(2026, 6, 1, 10, 7, tzinfo=UTC)
    end = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
    buckets = buckets_for(start=start, end=end, zone=ZoneInfo("UTC"), bucket="1h")
    assert buckets.edges[0] == datetime(2026, 6, 1, 10, tzinfo=UTC)
    assert len(buckets) == 2
    assert buckets.index(start) == 0
    assert buckets.index(end - timedelta(microseconds=1)) == 1


@pytest.mark.parametrize(
    ("start", "end", "bucket", "fragment"),
    [
        (datetime(2026, 6, 2, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), "auto", "ends before"),
        (datetime(2026, 6, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), "auto", "ends before"),
        (datetime(2026, 6, 1), datetime(2026, 6, 2, tzinfo=UTC), "auto", "offset"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), "1h", "2000"),
        (datetime(2026, 1, 1, tzinfo=UTC), datetime(2026, 6, 1, tzinfo=UTC), "3d", "Unknown"),
    ],
)
def test_bad_ranges_are_refused_with_a_clear_message(start, end, bucket, fragment):
    with pytest.raises(RangeRefused) as refused:
        buckets_for(start=start, end=end, zone=PARIS, bucket=bucket)
    assert fragment in refused.value.detail


def test_exactly_2000_buckets_are_allowed():
    start = datetime(2026, 1, 1, tzinfo=UTC)
    buckets = buckets_for(
        start=start, end=start + timedelta(hours=2000), zone=ZoneInfo("UTC"), bucket="1h"
    )
    assert len(buckets) == 2000
