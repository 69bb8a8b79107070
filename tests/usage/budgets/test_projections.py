"""The projections of SPEC §8.1 against hand-computed figures: no database, no clock."""

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from usage.projections import (
    complete_days_since,
    days_elapsed,
    local_day_bounds,
    month_of,
    schedule_ticks_per_day,
    spend_projection,
    task_projection,
)

PARIS = ZoneInfo("Europe/Paris")
TODAY = date(2026, 11, 20)


def project(**changes):
    arguments = {
        "daily_tasks": [10, 12, 8, 10, 10, 14, 6],  # 70 in 7 days: 10 a day
        "history_days": 30,
        "schedule_ticks_per_day": Decimal(0),
        "used": 400,
        "cap": 500,
        "today": TODAY,
        "license_last_day": date(2027, 6, 30),
    }
    return task_projection(**{**arguments, **changes})


def test_the_cap_is_reached_after_the_days_the_tasks_left_last_at_the_mean_rate():
    projection = project()
    # 100 left at 10 a day: 10 days, on 30 November.
    assert projection.tasks_per_day == Decimal("10.00")
    assert projection.days_until_cap == 10
    assert projection.cap_reached_on == date(2026, 11, 30)
    assert projection.status == "runs_out_before_license_end"
    assert projection.runs_out


def test_a_fraction_of_a_day_left_counts_as_a_whole_day():
    # 101 left at 10 a day: 10.1 days, so the 11th day.
    projection = project(used=399)
    assert projection.days_until_cap == 11
    assert projection.cap_reached_on == date(2026, 12, 1)


def test_schedule_ticks_add_to_the_observed_rate():
    # 100 left at 10 + 10 a day: 5 days.
    projection = project(schedule_ticks_per_day=Decimal(10))
    assert projection.schedule_ticks_per_day == Decimal(10)
    assert projection.days_until_cap == 5
    assert projection.cap_reached_on == date(2026, 11, 25)


def test_a_schedule_added_today_counts_in_full_with_no_history_of_its_own():
    # No task yet in any complete day; one schedule every 30 minutes since this morning:
    # 48 ticks a day. 100 left: ceil(100 / 48) = 3 days.
    ticks = schedule_ticks_per_day([30])
    assert ticks == Decimal(48)
    projection = project(daily_tasks=[0] * 7, schedule_ticks_per_day=ticks)
    assert projection.tasks_per_day == Decimal(0)
    assert (projection.days_until_cap, projection.cap_reached_on) == (3, date(2026, 11, 23))


def test_schedule_ticks_per_day_sum_1440_over_each_interval():
    # 1440/5 + 1440/7 + 1440/60 = 288 + 205.714... + 24 = 517.71
    assert schedule_ticks_per_day([5, 7, 60]) == Decimal("517.71")
    assert schedule_ticks_per_day([]) == Decimal(0)


def test_under_three_days_of_history_is_not_enough_data():
    for days in (0, 1, 2):
        projection = project(daily_tasks=[5] * days, history_days=days)
        assert projection.status == "not_enough_data"
        assert projection.tasks_per_day is None
        assert projection.cap_reached_on is None and projection.days_until_cap is None
    # Three days: the mean of those three, not of seven.
    projection = project(daily_tasks=[10, 20, 30], history_days=3)
    assert projection.tasks_per_day == Decimal(20)
    assert projection.days_until_cap == 5


def test_day_one_of_the_license_is_not_enough_data_and_divides_by_nothing():
    start = datetime(2026, 11, 20, 9, 30, tzinfo=UTC)
    now = datetime(2026, 11, 20, 17, 0, tzinfo=UTC)
    history = complete_days_since(start, now, PARIS)
    assert history == 0
    assert days_elapsed(start, now, PARIS) == 0
    projection = project(daily_tasks=[], history_days=history)
    assert projection.status == "not_enough_data"


def test_only_the_last_seven_days_count():
    projection = project(daily_tasks=[1000, 7, 7, 7, 7, 7, 7, 7])
    assert projection.tasks_per_day == Decimal(7)


def test_zero_usage_outlasts_the_license_or_a_year():
    assert project(daily_tasks=[0] * 7).status == "outlasts_license"
    perpetual = project(daily_tasks=[0] * 7, license_last_day=None)
    assert perpetual.status == "not_within_a_year"
    assert perpetual.cap_reached_on is None and perpetual.days_until_cap is None


def test_the_license_ending_first_outlasts_the_cap():
    # 100 left at 1 a day: 100 days, but the license ends in 30.
    projection = project(daily_tasks=[1] * 7, license_last_day=TODAY + timedelta(days=30))
    assert projection.status == "outlasts_license"
    assert projection.cap_reached_on is None
    # Reached on the license's last day itself: it still runs that day, so it runs out.
    projection = project(daily_tasks=[1] * 7, license_last_day=TODAY + timedelta(days=100))
    assert projection.status == "runs_out_before_license_end"
    assert projection.cap_reached_on == TODAY + timedelta(days=100)
    projection = project(daily_tasks=[1] * 7, license_last_day=TODAY + timedelta(days=99))
    assert projection.status == "outlasts_license"


def test_a_perpetual_license_projects_within_a_year_only():
    # 100 left at 1 a day: 100 days, within a year.
    projection = project(daily_tasks=[1] * 7, license_last_day=None)
    assert projection.status == "runs_out_within_a_year"
    assert projection.cap_reached_on == date(2027, 2, 28)
    assert projection.runs_out
    # 400 left at 1 a day: past 365 days.
    projection = project(daily_tasks=[1] * 7, used=100, license_last_day=None)
    assert projection.status == "not_within_a_year"
    assert not projection.runs_out


def test_a_tiny_rate_against_a_huge_cap_does_not_overflow_a_date():
    projection = project(daily_tasks=[0, 0, 0, 0, 0, 0, 1], cap=2**31 - 1, used=0)
    assert projection.status == "outlasts_license"
    perpetual = project(daily_tasks=[0] * 6 + [1], cap=2**31 - 1, used=0, license_last_day=None)
    assert perpetual.status == "not_within_a_year"


def test_a_reached_cap_and_an_unlimited_cap():
    assert project(used=500).status == "reached"
    assert project(used=501).status == "reached"
    unlimited = project(cap=None)
    assert unlimited.status == "no_cap"
    assert unlimited.tasks_per_day == Decimal(10)
    assert unlimited.cap_reached_on is None


def test_an_expired_license_outlasts_nothing_it_has_ended():
    projection = project(license_last_day=TODAY - timedelta(days=1))
    assert projection.status == "outlasts_license"


# --- the calendar across daylight-saving changes -------------------------------------


def test_paris_spring_day_has_23_hours_and_autumn_day_25():
    start, end = local_day_bounds(date(2026, 3, 29), PARIS)
    assert start == datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=23)
    start, end = local_day_bounds(date(2026, 10, 25), PARIS)
    assert start == datetime(2026, 10, 24, 22, 0, tzinfo=UTC)
    assert end - start == timedelta(hours=25)


def test_complete_days_count_dst_days_as_one_day_each():
    # A contract from midnight (Paris) on 28 March; now is 00:30 on 31 March (after the
    # 23-hour 29 March): 28, 29, 30 complete = 3 days, though only 71 hours passed.
    start = datetime(2026, 3, 27, 23, 0, tzinfo=UTC)  # 28 March 00:00 in Paris
    now = datetime(2026, 3, 30, 22, 30, tzinfo=UTC)  # 31 March 00:30 in Paris (CEST)
    assert now - start == timedelta(hours=71, minutes=30)
    assert complete_days_since(start, now, PARIS) == 3
    # The 25-hour day: from 24 October 00:00 to 26 October 00:30 = 2 complete days.
    start = datetime(2026, 10, 23, 22, 0, tzinfo=UTC)
    now = datetime(2026, 10, 25, 23, 30, tzinfo=UTC)
    assert complete_days_since(start, now, PARIS) == 2
    # A start mid-day: its partial day is not a complete day.
    assert complete_days_since(start + timedelta(hours=9), now, PARIS) == 1


def test_the_month_is_the_calendar_month_in_the_tenant_zone():
    # 31 October 23:30 UTC is already 1 November in Paris.
    month = month_of(datetime(2026, 10, 31, 23, 30, tzinfo=UTC), PARIS)
    assert month.first_day == date(2026, 11, 1)
    assert month.starts_at == datetime(2026, 10, 31, 23, 0, tzinfo=UTC)
    assert month.ends_at == datetime(2026, 11, 30, 23, 0, tzinfo=UTC)
    assert month.days == 30
    # March holds the 23-hour day: 31 days, 743 hours.
    march = month_of(datetime(2026, 3, 15, tzinfo=UTC), PARIS)
    assert (march.days, march.ends_at - march.starts_at) == (31, timedelta(hours=743))
    assert month_of(datetime(2028, 2, 10, tzinfo=UTC), PARIS).days == 29


# --- spend ----------------------------------------------------------------------------


def test_spend_averages_the_complete_days_and_projects_the_month():
    # 20 November: 19 complete days, $190 spent before today and $4.50 today.
    spend = spend_projection(
        month_to_date_usd=Decimal("194.50"),
        today_usd=Decimal("4.50"),
        complete_days=19,
        days_in_month=30,
        limit_usd=Decimal(250),
        kind="hard",
    )
    assert spend.month_to_date_usd == Decimal("194.50")
    assert spend.average_per_day_usd == Decimal("10.000000")
    assert spend.projected_month_end_usd == Decimal("300.000000")
    assert spend.budget.projected_over
    assert spend.budget.kind == "hard"


def test_spend_on_day_one_of_the_month_has_no_average_and_no_projection():
    spend = spend_projection(
        month_to_date_usd=Decimal("3.20"),
        today_usd=Decimal("3.20"),
        complete_days=0,
        days_in_month=31,
    )
    assert spend.average_per_day_usd is None
    assert spend.projected_month_end_usd is None
    assert spend.budget is None


def test_spend_rounds_a_repeating_average_to_a_millionth_of_a_dollar():
    # $10 over 3 days: 3.333333...; the month of 31 days: 103.333333...
    spend = spend_projection(
        month_to_date_usd=Decimal(10), today_usd=Decimal(0), complete_days=3, days_in_month=31
    )
    assert spend.average_per_day_usd == Decimal("3.333333")
    assert spend.projected_month_end_usd == Decimal("103.333333")


def test_spend_projection_is_never_below_what_is_spent():
    # A quiet month then a huge today: the average says $31, but $500 is spent already.
    spend = spend_projection(
        month_to_date_usd=Decimal(510), today_usd=Decimal(500), complete_days=10, days_in_month=31
    )
    assert spend.average_per_day_usd == Decimal(1)
    assert spend.projected_month_end_usd == Decimal(510)


def test_zero_spend_projects_zero():
    spend = spend_projection(
        month_to_date_usd=Decimal(0),
        today_usd=Decimal(0),
        complete_days=5,
        days_in_month=30,
        limit_usd=Decimal(10),
        kind="soft",
    )
    assert spend.average_per_day_usd == 0 and spend.projected_month_end_usd == 0
    assert not spend.budget.projected_over
