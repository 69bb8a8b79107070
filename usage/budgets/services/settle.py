"""Settle and expire reservations. Usage itself is never refused: `reservations_settle`
adds every priced event to spent, over the limit or not."""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import connection, transaction
from django.utils import timezone

from licensing.models import Tenant
from usage.budgets.models import BudgetPeriod
from usage.budgets.services.periods import period_ensure, send_changes
from usage.projections import Month, month_of

RESERVATION_LIFETIME = timedelta(minutes=15)
EXPIRE_BATCH = 5000


@dataclass(frozen=True)
class Settled:
    """One stored usage event, as `reservations_settle` counts it."""

    request_id: str
    actual_cost_usd: Decimal  # its whole-bill cost (0 when no plan prices it)
    tokens: int  # all its tokens: input + output + cached
    occurred_at: datetime


@dataclass
class _Delta:
    spent_usd: Decimal = Decimal(0)
    spent_tokens: int = 0
    released_usd: Decimal = Decimal(0)
    released_tokens: int = 0
    latest_day: date | None = None
    latest_day_usd: Decimal = Decimal(0)

    def spend(self, usd: Decimal, tokens: int, day: date) -> None:
        self.spent_usd += usd
        self.spent_tokens += tokens
        if self.latest_day is None or day > self.latest_day:
            self.latest_day, self.latest_day_usd = day, usd
        elif day == self.latest_day:
            self.latest_day_usd += usd


_SETTLE_SQL = """
UPDATE usage_reservation r
SET status = 'settled', settled_at = %s, actual_usd = v.usd, actual_tokens = v.tokens
FROM (SELECT unnest(%s::text[]) AS request_id, unnest(%s::numeric[]) AS usd,
             unnest(%s::bigint[]) AS tokens) AS v
WHERE r.tenant_id = %s AND r.request_id = v.request_id AND r.status = 'reserved'
RETURNING r.period_id, r.estimate_usd, r.estimate_tokens
"""


def reservations_settle(*, tenant: Tenant, settled: list[Settled] | list[tuple]) -> None:
    """Count newly stored usage events against the budget periods, in the caller's
    transaction (ingestion's): each event's cost and tokens are added to spent in the month
    of its `occurred_at` (all priced usage counts, over the limit or not), and an event whose
    request_id has an unsettled reservation gives that reservation's estimate back. Pass
    each event once (only those newly stored, not duplicates); call it for every batch, with
    or without a budget, so a budget set mid-month sees the month's spend."""
    events = [item if isinstance(item, Settled) else Settled(*item) for item in settled]
    if not events:
        return
    now, zone = timezone.now(), tenant.zone
    with transaction.atomic(savepoint=False):
        deltas: dict[Any, _Delta] = defaultdict(_Delta)  # period id, or a Month to ensure
        with connection.cursor() as cursor:
            cursor.execute(
                _SETTLE_SQL,
                [
                    now,
                    [e.request_id for e in events],
                    [e.actual_cost_usd for e in events],
                    [e.tokens for e in events],
                    tenant.pk,
                ],
            )
            for period_id, estimate_usd, estimate_tokens in cursor.fetchall():
                deltas[period_id].released_usd += estimate_usd
                deltas[period_id].released_tokens += estimate_tokens
        months: dict[date, Month] = {}
        for event in events:
            day = event.occurred_at.astimezone(zone).date()
            first_day = day.replace(day=1)
            if first_day not in months:  # per event, month_of's zone arithmetic cost ~6 ms a batch
                months[first_day] = month_of(event.occurred_at, zone)
            deltas[first_day].spend(event.actual_cost_usd, event.tokens, day)
        _apply(tenant.pk, deltas, months)


def _apply(tenant_id: int, deltas: dict, months: dict[date, Month]) -> None:
    """Add the deltas keyed by month (first day) or period id to their rows, in id order
    (a fixed lock order: two batches never deadlock on two periods)."""
    for month in months.values():
        period_ensure(tenant_id, month)
    ids = dict(
        BudgetPeriod.objects.filter(tenant_id=tenant_id, month__in=list(months)).values_list(
            "month", "id"
        )
    )
    by_id: dict[int, _Delta] = defaultdict(_Delta)
    for key, delta in deltas.items():
        target = by_id[ids[key] if isinstance(key, date) else key]
        target.released_usd += delta.released_usd
        target.released_tokens += delta.released_tokens
        if delta.latest_day is not None:
            target.spent_usd += delta.spent_usd
            target.spent_tokens += delta.spent_tokens
            target.latest_day, target.latest_day_usd = delta.latest_day, delta.latest_day_usd
    for period_id in sorted(by_id):
        _apply_one(period_id, by_id[period_id])


_APPLY_SQL = """
UPDATE usage_budgetperiod SET
    spent_usd = spent_usd + %(spent)s, spent_tokens = spent_tokens + %(spent_tokens)s,
    reserved_usd = reserved_usd - %(released)s,
    reserved_tokens = reserved_tokens - %(released_tokens)s,
    latest_day_spent_usd = CASE
        WHEN %(day)s::date IS NULL THEN latest_day_spent_usd
        WHEN latest_day IS NULL OR latest_day < %(day)s::date THEN %(day_usd)s
        WHEN latest_day = %(day)s::date THEN latest_day_spent_usd + %(day_usd)s
        ELSE latest_day_spent_usd END,
    latest_day = greatest(latest_day, %(day)s::date)
WHERE id = %(id)s
RETURNING tenant_id, month, hard, limit_usd, limit_tokens, spent_usd, reserved_usd,
    spent_tokens, reserved_tokens
"""


def _apply_one(period_id: int, delta: _Delta) -> None:
    params: dict[str, Any] = {
        "id": period_id,
        "spent": delta.spent_usd,
        "spent_tokens": delta.spent_tokens,
        "released": delta.released_usd,
        "released_tokens": delta.released_tokens,
        "day": delta.latest_day,
        "day_usd": delta.latest_day_usd,
    }
    with connection.cursor() as cursor:
        cursor.execute(_APPLY_SQL, params)
        tenant_id, month, hard, limit_usd, limit_tokens, spent, reserved, spent_t, reserved_t = (
            cursor.fetchone()
        )
    usd_change = delta.spent_usd - delta.released_usd
    tokens_change = delta.spent_tokens - delta.released_tokens
    send_changes(
        tenant_id,
        month,
        hard,
        usd=(spent + reserved - usd_change, spent + reserved, limit_usd),
        tokens=(spent_t + reserved_t - tokens_change, spent_t + reserved_t, limit_tokens),
    )


_EXPIRE_SQL = """
UPDATE usage_reservation SET status = 'expired', settled_at = %s
WHERE id IN (
    SELECT id FROM usage_reservation
    WHERE status = 'reserved' AND created_at < %s
    ORDER BY created_at LIMIT %s
    FOR UPDATE SKIP LOCKED)
RETURNING tenant_id, period_id, estimate_usd, estimate_tokens
"""


def reservations_expire(now: datetime | None = None) -> int:
    """Give back the estimates of reservations unsettled for RESERVATION_LIFETIME (the
    worker's periodic job; several workers may run it at once: SKIP LOCKED). Returns how
    many expired. A usage event arriving later still counts as spend (unmatched)."""
    now = now or timezone.now()
    expired = 0
    while True:
        with transaction.atomic(durable=True):
            with connection.cursor() as cursor:
                cursor.execute(_EXPIRE_SQL, [now, now - RESERVATION_LIFETIME, EXPIRE_BATCH])
                rows = cursor.fetchall()
            per_tenant: dict[int, dict[int, _Delta]] = defaultdict(lambda: defaultdict(_Delta))
            for tenant_id, period_id, estimate_usd, estimate_tokens in rows:
                per_tenant[tenant_id][period_id].released_usd += estimate_usd
                per_tenant[tenant_id][period_id].released_tokens += estimate_tokens
            for tenant_id, deltas in sorted(per_tenant.items()):
                _apply(tenant_id, deltas, {})
        expired += len(rows)
        if len(rows) < EXPIRE_BATCH:
            return expired
