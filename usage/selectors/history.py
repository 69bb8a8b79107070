"""`usage_history`: the last 12 cycles (calendar months in the tenant's zone), SPEC §5.5.

One read of the model rollup for all the months, bucketed by month: the same facts and the
same tally as `activity` (`usage.selectors.tally`), so the figures are those of an
activity over each month, to the last Decimal. A month is a union of whole local days, each
a union of whole hour (or 15-minute) grains: the only raw events read are the partial
grains before now. Tasks created come from the daily snapshots of the lifetime counter
(`usage.task_counts`), never from the task table.
"""

import re
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from decimal import ROUND_HALF_UP, Decimal

from licensing.errors import DomainError
from licensing.models import Tenant
from tasks.selectors import tenant_usage
from usage.buckets import EARLIEST, Buckets, month_buckets, month_cuts
from usage.models import MODEL_GRAINS
from usage.pricing import Cost
from usage.projections import Month, month_of
from usage.selectors.figures import Requests, Sums, Tokens
from usage.selectors.periods import PlanPeriods, priced_reads
from usage.selectors.rollups import RawEdges, pieces, read_together
from usage.selectors.tally import ModelTally, model_tally
from usage.task_counts import task_count_snapshots_since, tasks_created_per_month

CYCLES = 12
_MONTH = re.compile(r"(\d{4})-(\d{2})")
# Percent changes are shown to a tenth.
_TENTH = Decimal("0.1")


@dataclass(frozen=True)
class Change:
    """How a figure moved from the previous cycle. `percent` is None when the previous
    cycle had none of it (no division by zero): the label then says "new", or "—" when
    neither had any. Unknown figures (tasks not recorded) have no change: "—"."""

    difference: int | Decimal | None
    percent: Decimal | None

    @property
    def label(self) -> str:
        if self.difference is None:
            return "—"
        if self.percent is None:
            return "—" if self.difference == 0 else "new"
        return f"{self.percent:+.1f} %"


def change_between(current: int | Decimal | None, previous: int | Decimal | None) -> Change:
    """The change from `previous` to `current` (None: not known)."""
    if current is None or previous is None:
        return Change(None, None)
    difference = current - previous
    if previous == 0:
        return Change(difference, None)
    percent = (Decimal(difference) * 100 / Decimal(previous)).quantize(_TENTH, ROUND_HALF_UP)
    return Change(difference, percent)


@dataclass(frozen=True)
class Cycle:
    """One calendar month in the tenant's zone, `[start, end)` (aware, in that zone); the
    current one ends now. `cost` is the ticket-linked cost, `unattributed_spend` the priced
    usage on no ticket, `unpriced_tokens` the usage no plan prices (SPEC §5.1);
    `tasks_created` is None when the counter's snapshots do not cover the whole month."""

    month: str  # "2026-11"
    start: datetime
    end: datetime
    current: bool
    tokens: Tokens
    cost: Cost
    unattributed_spend: Cost
    unpriced_tokens: Tokens
    requests: Requests
    tasks_created: int | None

    @property
    def whole_bill(self) -> Cost:
        return self.cost + self.unattributed_spend

    def figures(self) -> dict[str, int | Decimal | None]:
        """The figures that have a change column, by name."""
        return {
            "input_tokens": self.tokens.input,
            "cached_tokens": self.tokens.cached,
            "output_tokens": self.tokens.output,
            "cost": self.cost.total,
            "unattributed_spend": self.unattributed_spend.total,
            "unpriced_tokens": self.unpriced_tokens.total,
            "succeeded_requests": self.requests.succeeded,
            "failed_requests": self.requests.failed,
            "tasks_created": self.tasks_created,
        }


@dataclass(frozen=True)
class CycleRow:
    """A cycle with its change from the previous cycle, per figure (keys of `figures()`)."""

    cycle: Cycle
    changes: dict[str, Change]


@dataclass(frozen=True)
class History:
    """The last CYCLES cycles, newest first (the current month first)."""

    zone: str
    rows: tuple[CycleRow, ...]


def cycle_months(zone, now: datetime, count: int) -> list[Month]:
    """The `count` calendar months ending with the current one, oldest first."""
    months = [month_of(now, zone)]
    while len(months) < count:
        months.insert(0, month_of(months[0].starts_at - timedelta(microseconds=1), zone))
    return months


def usage_history(*, tenant: Tenant, now: datetime, count: int = CYCLES) -> History:
    """The last `count` cycles of `tenant` up to `now`, each with its change from the one
    before (the oldest compared with the month before it, read too). A constant number
    of queries whatever the data: models and plans (once per process: `priced_reads`), one
    rollup read with the raw events of the last partial grains, the task snapshots and the
    counter."""
    zone = tenant.zone
    months = cycle_months(zone, now, count + 1)
    buckets = month_buckets(
        edges=tuple(month.starts_at for month in months),
        last_end=months[-1].ends_at,
        end=now,
        zone=zone,
    )
    tally = priced_reads(
        tenant, buckets.start, buckets.end, lambda periods: _tally(tenant, buckets, periods)
    )
    snapshots = task_count_snapshots_since(tenant=tenant, day=months[0].first_day)
    tasks = tasks_created_per_month(
        snapshots,
        used_now=tenant_usage(tenant)["tasks"],
        today=now.astimezone(zone).date(),
        months=[month.first_day for month in months],
    )
    cycles = [
        _cycle(month, index, tally, tasks[index], now=now, zone=zone)
        for index, month in enumerate(months)
    ]
    rows = [
        CycleRow(
            cycle,
            {
                name: change_between(value, previous.figures()[name])
                for name, value in cycle.figures().items()
            },
        )
        for previous, cycle in zip(cycles, cycles[1:], strict=False)
    ]
    return History(zone=zone.key, rows=tuple(reversed(rows)))


def _tally(tenant: Tenant, buckets: Buckets, periods: PlanPeriods) -> ModelTally:
    cuts = [*periods.cuts(), *month_cuts(buckets)]  # no row read straddles two months
    model_pieces = pieces(buckets.start, buckets.end, MODEL_GRAINS, cuts)
    raw = RawEdges(tenant, model_pieces.raw)
    tally = model_tally(tenant, buckets, periods, model_pieces, raw)
    return read_together(periods.check(), raw.read(), tally)[2]


def _cycle(
    month: Month, index: int, tally: ModelTally, tasks: int | None, *, now: datetime, zone
) -> Cycle:
    sums = tally.bucket_sums[index]
    current = month.starts_at <= now < month.ends_at
    return Cycle(
        month=f"{month.first_day:%Y-%m}",
        start=month.starts_at.astimezone(zone),
        end=(now if current else month.ends_at).astimezone(zone),
        current=current,
        tokens=sums.tokens,
        cost=tally.bucket_costs[index],
        unattributed_spend=tally.bucket_unattributed_costs.get(index, Cost()),
        unpriced_tokens=tally.bucket_unpriced.get(index, Sums()).tokens,
        requests=sums.requests,
        tasks_created=tasks,
    )


class CycleRefused(DomainError):
    """A cycle named badly (400 `invalid_month`)."""

    code = "invalid_month"


class CycleNotFound(DomainError):
    """A well-formed month with no cycle: before Tally keeps usage, or not begun (404)."""

    code = "cycle_not_found"
    http_status = 404


def cycle_of(text: str, *, tenant: Tenant, now: datetime) -> Month:
    """The calendar month named `YYYY-MM` in the tenant's zone, from 2000-01 to the current
    month. Raises CycleRefused for another shape or month number, CycleNotFound out of range."""
    match = _MONTH.fullmatch(text)
    if match is None or not 1 <= int(match[2]) <= 12:
        raise CycleRefused(f"{text!r} is not a month: give it as YYYY-MM, e.g. 2026-11.")
    zone = tenant.zone
    current = month_of(now, zone)
    first = date(int(match[1]), int(match[2]), 1)
    if first > current.first_day:
        raise CycleNotFound(
            f"The cycle {text} has not begun: the current cycle is {current.first_day:%Y-%m}."
        )
    if first < EARLIEST.date():
        raise CycleNotFound(f"The cycle {text} is before 2000-01: Tally keeps no usage then.")
    return month_of(datetime.combine(first, time(12), tzinfo=zone), zone)  # noon: never skipped
