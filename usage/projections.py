"""When will the tasks cap run out, and where will this month's LLM spend land (SPEC §8.1).

Pure functions over plain numbers: no database, no clock. The callers read counters and
rollups (never a scan of the task or event tables) and pass what they read:

- `task_projection`: the tasks created per complete local day (schedule ticks left out:
  they are counted apart, from the schedules themselves), the days of history there are,
  the known ticks per day of the active schedules, used and cap, today's local date and
  the license's last day.
- `spend_projection`: the month-to-date whole bill, what of it was spent today, the
  complete days elapsed in the month and its length, and the budget if one is set.

Calendar helpers in the tenant's zone (a local day or month as aware UTC instants, the
complete days since an instant) live here too, so the budgets and the counters that feed
these functions agree on where a day or a month starts, across daylight-saving changes.
"""

import calendar
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import ROUND_CEILING, ROUND_HALF_UP, Decimal
from typing import Literal
from zoneinfo import ZoneInfo

WINDOW_DAYS = 7  # tasks per day is the mean of at most the last 7 complete days
MIN_HISTORY_DAYS = 3  # under this, "not enough data yet"
PERPETUAL_HORIZON_DAYS = 365  # a perpetual license: "not reached within a year" past this
MINUTES_PER_DAY = 1440
RATE_PLACES = Decimal("0.01")  # tasks per day, as shown
USD_PLACES = Decimal("0.000001")  # averages and projections of money: a millionth of a dollar

TaskStatus = Literal[
    "no_cap",  # the tasks cap is unlimited: nothing runs out
    "reached",  # used >= cap already
    "not_enough_data",  # under MIN_HISTORY_DAYS complete days of history
    "runs_out_before_license_end",  # the cap is reached on `cap_reached_on`, before the end
    "runs_out_within_a_year",  # perpetual license: reached on `cap_reached_on`, within a year
    "outlasts_license",  # at this rate the license ends first (a rate of 0 included)
    "not_within_a_year",  # perpetual license: not reached within PERPETUAL_HORIZON_DAYS
]
RUNS_OUT: frozenset[str] = frozenset({"runs_out_before_license_end", "runs_out_within_a_year"})


@dataclass(frozen=True)
class TaskProjection:
    """The API's `projection`. `tasks_per_day` is None when there is not enough history;
    `cap_reached_on` and `days_until_cap` are set only when the status is in RUNS_OUT."""

    tasks_per_day: Decimal | None
    schedule_ticks_per_day: Decimal
    cap_reached_on: date | None
    days_until_cap: int | None
    status: TaskStatus

    @property
    def runs_out(self) -> bool:
        """Whether the cap is projected to be reached before the license ends (or, when
        perpetual, within a year): what the banner and `quota.projected_exhaustion` need."""
        return self.status in RUNS_OUT


def schedule_ticks_per_day(every_minutes: list[int]) -> Decimal:
    """The ticks per day of schedules firing every N minutes: the sum of 1440 / N, exact
    enough for a rate (2 places). A schedule every 7 minutes ticks 205.71 times a day."""
    total = sum((Decimal(MINUTES_PER_DAY) / minutes for minutes in every_minutes), Decimal(0))
    return total.quantize(RATE_PLACES, ROUND_HALF_UP)


def task_projection(
    *,
    daily_tasks: list[int],
    history_days: int,
    schedule_ticks_per_day: Decimal,
    used: int,
    cap: int | None,
    today: date,
    license_last_day: date | None,
) -> TaskProjection:
    """Project the day the tasks cap is reached.

    `daily_tasks`: tasks created on each of the last complete local days, oldest first
    (at most the last WINDOW_DAYS are read), not counting schedule ticks: those are
    `schedule_ticks_per_day`, known in advance from the active schedules (a schedule added
    today counts in full, and its ticks are never counted twice). `history_days`: how many
    complete local days of history the tenant has (since its contract start, say); the mean
    is over min(7, history_days) days. `license_last_day`: the local date of the license's
    end (None: perpetual).

    At `rate` tasks a day from now, the `cap - used` tasks left last `ceil(left / rate)`
    days: the cap is reached on today + that many days. It runs out before the license
    ends when that date is on or before `license_last_day` (the local date the license
    ends on: it still runs that day), or within 365 days when perpetual.
    """
    ticks = schedule_ticks_per_day
    observed = _observed_rate(daily_tasks, history_days)
    if cap is None:
        return TaskProjection(observed, ticks, None, None, "no_cap")
    if used >= cap:
        return TaskProjection(observed, ticks, None, None, "reached")
    if history_days < MIN_HISTORY_DAYS or observed is None:
        return TaskProjection(None, ticks, None, None, "not_enough_data")
    rate = observed + ticks
    outlasts: TaskStatus
    if license_last_day is None:
        horizon, outlasts = PERPETUAL_HORIZON_DAYS, "not_within_a_year"
        runs_out: TaskStatus = "runs_out_within_a_year"
    else:
        horizon, outlasts = (license_last_day - today).days, "outlasts_license"
        runs_out = "runs_out_before_license_end"
    left = cap - used
    # ceil(left / rate) > horizon exactly when left > rate * horizon: decided before any
    # date is built, so a tiny rate (billions of days) cannot overflow.
    if rate <= 0 or left > rate * horizon:
        return TaskProjection(observed, ticks, None, None, outlasts)
    days = int((left / rate).to_integral_value(rounding=ROUND_CEILING))
    return TaskProjection(observed, ticks, today + timedelta(days=days), days, runs_out)


def _observed_rate(daily_tasks: list[int], history_days: int) -> Decimal | None:
    """The mean of the last min(7, history_days) complete days, or None with no such day."""
    window = min(WINDOW_DAYS, history_days, len(daily_tasks))
    if window <= 0:
        return None
    recent = daily_tasks[-window:]
    return (Decimal(sum(recent)) / window).quantize(RATE_PLACES, ROUND_HALF_UP)


@dataclass(frozen=True)
class SpendBudget:
    """The budget beside the spend projection (`spend.budget`)."""

    limit_usd: Decimal | None
    limit_tokens: int | None
    kind: str  # "hard" or "soft"
    projected_over: bool  # the projected month end passes limit_usd


@dataclass(frozen=True)
class SpendProjection:
    """The API's `spend`. The average and the projection are None on the month's first day
    (no complete day to average yet)."""

    month_to_date_usd: Decimal
    average_per_day_usd: Decimal | None
    projected_month_end_usd: Decimal | None
    budget: SpendBudget | None


def spend_projection(
    *,
    month_to_date_usd: Decimal,
    today_usd: Decimal,
    complete_days: int,
    days_in_month: int,
    limit_usd: Decimal | None = None,
    limit_tokens: int | None = None,
    kind: str | None = None,
) -> SpendProjection:
    """This month's LLM spend and where it lands at this rate.

    `month_to_date_usd` is the whole bill since the month began in the tenant's zone,
    `today_usd` the part of it spent today (not a complete day, so not in the average).
    The average is over the `complete_days` before today; the projected month end is that
    average times the month's days, never below what is already spent. Both are rounded to
    a millionth of a dollar. `kind` ("hard"/"soft") with a limit: a budget is set.
    """
    average = projected = None
    if complete_days > 0:
        exact = (month_to_date_usd - today_usd) / complete_days
        average = exact.quantize(USD_PLACES, ROUND_HALF_UP)
        projected = max(month_to_date_usd, (exact * days_in_month).quantize(USD_PLACES))
    budget = None
    if kind is not None:
        over = limit_usd is not None and projected is not None and projected > limit_usd
        budget = SpendBudget(limit_usd, limit_tokens, kind, over)
    return SpendProjection(month_to_date_usd, average, projected, budget)


# --- the calendar in the tenant's zone ---------------------------------------------------


def local_midnight(day: date, zone: ZoneInfo) -> datetime:
    """The aware UTC instant a local day starts (a zone that skips midnight: the first
    instant after the gap, as zoneinfo resolves it)."""
    return datetime.combine(day, time(0), tzinfo=zone).astimezone(UTC)


def local_day_bounds(day: date, zone: ZoneInfo) -> tuple[datetime, datetime]:
    """`[start, end)` of a local day in UTC: 23 or 25 hours long on a DST change."""
    return local_midnight(day, zone), local_midnight(day + timedelta(days=1), zone)


@dataclass(frozen=True)
class Month:
    """A calendar month in a zone: its first day, `[starts_at, ends_at)` in UTC, its length."""

    first_day: date
    starts_at: datetime
    ends_at: datetime
    days: int


def month_of(instant: datetime, zone: ZoneInfo) -> Month:
    """The calendar month in `zone` that contains the aware `instant`."""
    local = instant.astimezone(zone).date()
    first = local.replace(day=1)
    days = calendar.monthrange(first.year, first.month)[1]
    following = first + timedelta(days=days)
    return Month(first, local_midnight(first, zone), local_midnight(following, zone), days)


def complete_days_since(start: datetime, now: datetime, zone: ZoneInfo) -> int:
    """Whole local days from `start` to the start of today, in `zone`. The day `start`
    falls in counts only if it began exactly at that local midnight (a partial first day
    would drag the mean down). 0 on that first day, and for a `start` in the future."""
    first = start.astimezone(zone).date()
    if local_midnight(first, zone) < start:
        first += timedelta(days=1)
    return max((now.astimezone(zone).date() - first).days, 0)


def days_elapsed(start: datetime, now: datetime, zone: ZoneInfo) -> int:
    """Local calendar days since the contract start: 0 on its first day."""
    return max((now.astimezone(zone).date() - start.astimezone(zone).date()).days, 0)
