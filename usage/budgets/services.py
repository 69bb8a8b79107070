"""Writes about LLM budgets: set a budget, authorize a call, settle and expire reservations.

The rule (SPEC §8.2): under any concurrency, spent + reserved never passes a hard budget
through `authorize`. It is ONE conditional UPDATE of the month's period row, whose WHERE
holds `spent + reserved + estimate <= limit`; PostgreSQL re-checks that condition on the
latest row version after waiting for a concurrent writer's row lock, so two calls can never
both take the last dollar. The reservation's INSERT reads from that UPDATE in the same
statement: a refused call writes nothing. Usage itself is never refused:
`reservations_settle` adds every priced event to spent, over the limit or not.
"""

from collections import defaultdict
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.pq import TransactionStatus

from licensing.errors import DomainError
from licensing.models import Tenant
from tasks.models import Ticket
from usage.budgets.models import Budget, BudgetPeriod, Reservation
from usage.budgets.signals import budget_usage_changed
from usage.models import LlmModel
from usage.pricing import PricingTimeline, decimal_text, optional_decimal_text, token_cost
from usage.projections import Month, month_of

RESERVATION_LIFETIME = timedelta(minutes=15)
_IN_A_BLOCK = (TransactionStatus.INTRANS, TransactionStatus.INERROR)  # not a dead connection
EXPIRE_BATCH = 5000
TOKENS_LIMIT = 2**31 - 1


class BudgetRefused(DomainError):
    """A budget or authorization request that is not valid (400), naming the fields."""

    code = "invalid"

    def __init__(self, detail: str, *, errors: dict[str, list[str]]) -> None:
        super().__init__(detail)
        self.errors = errors

    def extra(self) -> dict[str, Any]:
        return {"errors": self.errors}


class BudgetExhausted(DomainError):
    """A hard budget that the call's estimate would pass: 403, nothing reserved."""

    code = "budget_exhausted"
    http_status = 403

    def __init__(self, *, period: BudgetPeriod, estimate_usd: Decimal, estimate_tokens: int):
        self.period, self.estimate_usd, self.estimate_tokens = period, estimate_usd, estimate_tokens
        parts = []
        if period.limit_usd is not None:
            parts.append(
                f"${decimal_text(period.spent_usd)} spent and "
                f"${decimal_text(period.reserved_usd)} reserved of "
                f"${decimal_text(period.limit_usd)}; "
                f"this call may cost ${decimal_text(estimate_usd)}"
            )
        if period.limit_tokens is not None:
            parts.append(
                f"{period.spent_tokens} tokens spent and {period.reserved_tokens} reserved of "
                f"{period.limit_tokens}; this call may use {estimate_tokens}"
            )
        super().__init__(
            f"The hard LLM budget for {period.month:%B %Y} is exhausted: {'; '.join(parts)}. "
            "Raise the budget or wait for the next month."
        )

    def extra(self) -> dict[str, Any]:
        p = self.period
        return {
            "budget": {
                "kind": "hard",
                "month": f"{p.month:%Y-%m}",
                "limit_usd": optional_decimal_text(p.limit_usd),
                "limit_tokens": p.limit_tokens,
            },
            "spent_usd": optional_decimal_text(p.spent_usd),
            "reserved_usd": optional_decimal_text(p.reserved_usd),
            "spent_tokens": p.spent_tokens,
            "reserved_tokens": p.reserved_tokens,
            "estimate_usd": optional_decimal_text(self.estimate_usd),
            "estimate_tokens": self.estimate_tokens,
            "period_ends_at": p.ends_at.isoformat(),
        }


# --- budget ------------------------------------------------------------------------------


def budget_set(
    *,
    tenant: Tenant,
    limit_usd: Decimal | None,
    limit_tokens: int | None,
    kind: str,
    acting_user=None,
    now: datetime | None = None,
) -> tuple[Budget | None, bool]:
    """Set the tenant's monthly budget from now on (the current month included); both limits
    None removes it. Returns (budget or None, created). The current period's limits (and any
    later period's, for usage dated ahead) change in the same transaction, so the next
    authorization compares with the new limits."""
    if kind not in Budget.Kind.values:
        raise BudgetRefused("The budget kind is hard or soft.", errors={"kind": ["hard or soft"]})
    month = month_of(now or timezone.now(), tenant.zone)
    with transaction.atomic(durable=True):
        if limit_usd is None and limit_tokens is None:
            Budget.objects.filter(tenant=tenant).delete()
            budget, created = None, False
        else:
            budget, created = Budget.objects.update_or_create(
                tenant=tenant,
                defaults={
                    "limit_usd": limit_usd,
                    "limit_tokens": limit_tokens,
                    "kind": kind,
                    "updated_by": acting_user,
                },
            )
        # Create the month's row first: an authorization inserting it concurrently (from the
        # old budget) is waited for by ON CONFLICT, so the UPDATE below always sees it.
        _period_ensure(tenant.pk, month)
        hard = budget is not None and kind == Budget.Kind.HARD
        BudgetPeriod.objects.filter(tenant=tenant, month__gte=month.first_day).update(
            limit_usd=limit_usd, limit_tokens=limit_tokens, hard=hard
        )
    return budget, created


_ENSURE_SQL = """
INSERT INTO usage_budgetperiod (tenant_id, month, ends_at, limit_usd, limit_tokens, hard,
    spent_usd, spent_tokens, reserved_usd, reserved_tokens, latest_day_spent_usd)
SELECT %s, %s, %s, b.limit_usd, b.limit_tokens, coalesce(b.kind = 'hard', false), 0, 0, 0, 0, 0
FROM (SELECT 1) AS one LEFT JOIN usage_budget b ON b.tenant_id = %s
ON CONFLICT (tenant_id, month) DO NOTHING
"""


def _period_ensure(tenant_id: int, month: Month) -> None:
    """The month's period row, from the budget in force (no budget: no limits)."""
    with connection.cursor() as cursor:
        cursor.execute(_ENSURE_SQL, [tenant_id, month.first_day, month.ends_at, tenant_id])


# --- authorize ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Authorization:
    """The 200 answer: the call may spend; `reserved_usd` is held until its usage settles."""

    allowed: bool
    reservation_id: int
    reserved_usd: Decimal
    remaining_usd: Decimal | None  # None: no USD limit
    remaining_tokens: int | None
    period_ends_at: datetime
    priced: bool


# The period row's lock is held from this statement to the commit, so the commit does not
# wait for the WAL flush inside it (else one tenant's calls queue behind one fsync each:
# 217 calls/s with 8 processes, bench/authorize.py); `_wait_for_flush` waits after it.
_ASYNCHRONOUS_COMMIT_SQL = "SELECT set_config('synchronous_commit', 'off', true)"
# A transactional WAL record committed with the session's synchronous_commit (on): its commit
# waits for the WAL to be flushed past the reservation's commit, outside the row lock, so
# concurrent calls share flushes and an acknowledged reservation is on disk.
_FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'tally.budget_reserved', '')"
# One statement: the conditional reservation on the period row, and the reservation's
# insert fed by it (no row back: refused, or no period row yet).
_AUTHORIZE_SQL = """
WITH period AS (
    UPDATE usage_budgetperiod
    SET reserved_usd = reserved_usd + %(usd)s, reserved_tokens = reserved_tokens + %(tokens)s
    WHERE tenant_id = %(tenant)s AND month = %(month)s
      AND (NOT hard OR (
          (limit_usd IS NULL OR spent_usd + reserved_usd + %(usd)s <= limit_usd)
          AND (limit_tokens IS NULL
               OR spent_tokens + reserved_tokens + %(tokens)s <= limit_tokens)))
    RETURNING id, ends_at, limit_usd, limit_tokens, hard, spent_usd, reserved_usd,
        spent_tokens, reserved_tokens
), reservation AS (
    INSERT INTO usage_reservation (tenant_id, period_id, request_id, model_id, consumer,
        ticket_id, input_tokens, max_output_tokens, priced, estimate_usd, estimate_tokens,
        status, created_at)
    SELECT %(tenant)s, period.id, %(request_id)s, %(model)s, %(consumer)s, %(ticket)s,
        %(input)s, %(output)s, %(priced)s, %(usd)s, %(tokens)s, 'reserved', %(now)s
    FROM period
    RETURNING id
)
SELECT reservation.id, period.ends_at, period.limit_usd, period.limit_tokens, period.hard,
    period.spent_usd, period.reserved_usd, period.spent_tokens, period.reserved_tokens
FROM period, reservation
"""


def call_estimate(
    *, model_id: int, input_tokens: int, max_output_tokens: int, now: datetime
) -> Decimal | None:
    """The most the call can cost under the model's plan in force now (input priced as
    uncached input), or None when no plan prices it."""
    plan = PricingTimeline.of_models([model_id]).in_force(model_id, now)
    if plan is None:
        return None
    return token_cost(plan, input=input_tokens, output=max_output_tokens, cached=0).total


_model_ids: dict[tuple[int, str], int] = {}
MODEL_IDS_KEPT = 4096


def _model_id(tenant_id: int, name: str) -> int | None:
    """The id of the tenant's model named `name`, remembered per process: a model is never
    renamed, and one with usage or reservations is never deleted (one query per call saved,
    bench/authorize.py). An unknown name is asked again every time (it may be created)."""
    key = (tenant_id, name)
    if key not in _model_ids:
        found = LlmModel.objects.filter(tenant_id=tenant_id, name=name).values_list("pk").first()
        if found is None:
            return None
        if len(_model_ids) >= MODEL_IDS_KEPT:
            _model_ids.clear()
        _model_ids[key] = found[0]
    return _model_ids[key]


def authorize(
    *,
    tenant: Tenant,
    request_id: str,
    model: str,
    input_tokens: int,
    max_output_tokens: int,
    consumer: str | None = None,
    ticket: int | None = None,
    now: datetime | None = None,
) -> Authorization:
    """May this LLM call spend? Reserve its estimated cost on this month's period, or raise
    BudgetExhausted (a hard budget it would pass; nothing reserved) or BudgetRefused (an
    unknown model or ticket). A soft budget, or none, always allows (and still reserves, so
    the figures show what is in flight). Idempotent per tenant by `request_id`: asking again
    answers with the reservation made the first time and reserves nothing more."""
    now = now or timezone.now()
    model_id = _model_id(tenant.pk, model)
    if model_id is None:
        message = f"No model named {model!r}: create it first (POST /api/v1/models/)."
        raise BudgetRefused(message, errors={"model": [message]})
    if ticket is not None and not Ticket.objects.filter(tenant=tenant, pk=ticket).exists():
        raise BudgetRefused("No such ticket.", errors={"ticket": ["No such ticket."]})
    estimate = call_estimate(
        model_id=model_id, input_tokens=input_tokens, max_output_tokens=max_output_tokens, now=now
    )
    params: dict[str, Any] = {
        "tenant": tenant.pk,
        "month": None,
        "usd": estimate if estimate is not None else Decimal(0),
        "tokens": input_tokens + max_output_tokens,
        "request_id": request_id,
        "model": model_id,
        "consumer": consumer or "",
        "ticket": ticket,
        "input": input_tokens,
        "output": max_output_tokens,
        "priced": estimate is not None,
        "now": now,
    }
    month = month_of(now, tenant.zone)
    params["month"] = month.first_day
    try:
        row = _reserve(params, month)
    except (IntegrityError, BudgetExhausted):
        # Asked again (the INSERT's key, or a budget that its first reservation filled):
        # the answer it had; anything else is raised.
        existing = Reservation.objects.filter(tenant=tenant, request_id=request_id).first()
        if existing is None:
            _model_ids.pop((tenant.pk, model), None)
            raise
        return _authorization_of(existing)
    (
        reservation_id,
        ends_at,
        limit_usd,
        limit_tokens,
        _hard,
        spent,
        reserved,
        spent_t,
        reserved_t,
    ) = row
    return Authorization(
        allowed=True,
        reservation_id=reservation_id,
        reserved_usd=params["usd"],
        remaining_usd=_remaining(limit_usd, spent + reserved),
        remaining_tokens=_remaining(limit_tokens, spent_t + reserved_t),
        period_ends_at=ends_at,
        priced=params["priced"],
    )


def _reserve(params: dict, month: Month) -> tuple:
    """The conditional reservation; the period row is made on the month's first call."""
    for _attempt in range(2):
        row = _reserve_once(params)
        if row is not None:
            return row
        period = BudgetPeriod.objects.filter(tenant_id=params["tenant"], month=month.first_day)
        if period.exists():  # the row is there: the hard budget refused
            raise BudgetExhausted(
                period=period.get(), estimate_usd=params["usd"], estimate_tokens=params["tokens"]
            )
        _period_ensure(params["tenant"], month)
    raise AssertionError("the period row exists after _period_ensure")


def _reserve_once(params: dict) -> tuple | None:
    """One try of the conditional UPDATE and the reservation's INSERT; None: no row matched.

    With a `budget_usage_changed` receiver connected (or inside a test's transaction), the
    transaction stays open for the signal, which receivers write in. With none, the whole
    transaction goes as ONE message (BEGIN ... COMMIT, then the flush wait), so the period's
    row lock is never held across a round trip to this process: with 8 processes on 2 busy
    cores, a lock holder descheduled between two round trips stalls every other call.
    """
    own_transaction = not connection.in_atomic_block
    if not own_transaction or budget_usage_changed.has_listeners():
        with transaction.atomic(durable=True):
            with connection.cursor() as cursor:
                cursor.execute(f"{_ASYNCHRONOUS_COMMIT_SQL}; {_AUTHORIZE_SQL}", params)
                cursor.nextset()  # past set_config
                row = cursor.fetchone()
            if row is not None:
                _signal_reservation(params, row)
        if own_transaction:
            with connection.cursor() as cursor:
                cursor.execute(_FLUSH_SQL)
        return row
    message = f"BEGIN; {_ASYNCHRONOUS_COMMIT_SQL}; {_AUTHORIZE_SQL}; COMMIT; {_FLUSH_SQL}"
    try:
        with connection.cursor() as cursor:
            cursor.execute(message, params)
            cursor.nextset()  # past BEGIN
            cursor.nextset()  # past set_config
            return cursor.fetchone()
    except BaseException:
        _roll_back_failed_message()
        raise


def _signal_reservation(params: dict, row: tuple) -> None:
    _id, _ends_at, limit_usd, limit_tokens, hard, spent, reserved, spent_t, reserved_t = row
    used_usd, used_tokens = spent + reserved, spent_t + reserved_t
    _send_changes(
        params["tenant"],
        params["month"],
        hard,
        usd=(used_usd - params["usd"], used_usd, limit_usd),
        tokens=(used_tokens - params["tokens"], used_tokens, limit_tokens),
    )


def _roll_back_failed_message() -> None:
    """A statement of the message failed inside its BEGIN block (a request_id asked twice at
    once): the server keeps the session in that aborted block, so end it (Django believes
    the connection is in autocommit)."""
    raw = connection.connection  # None once Django has dropped a broken connection
    if raw is not None and not raw.closed and raw.info.transaction_status in _IN_A_BLOCK:
        with connection.cursor() as cursor:
            cursor.execute("ROLLBACK")


def _authorization_of(reservation: Reservation) -> Authorization:
    """The answer to a request_id asked again: its reservation as it was made."""
    period = reservation.period
    return Authorization(
        allowed=True,
        reservation_id=reservation.pk,
        reserved_usd=reservation.estimate_usd,
        remaining_usd=_remaining(period.limit_usd, period.spent_usd + period.reserved_usd),
        remaining_tokens=_remaining(
            period.limit_tokens, period.spent_tokens + period.reserved_tokens
        ),
        period_ends_at=period.ends_at,
        priced=reservation.priced,
    )


def _remaining(limit, used):
    """What may still be reserved under `limit` (None: no limit); 0 once it is passed."""
    return None if limit is None else max(limit - used, 0)


def _send_changes(tenant_id: int, month: date, hard: bool, *, usd: tuple, tokens: tuple) -> None:
    """`budget_usage_changed` for each dimension whose spent + reserved moved."""
    for dimension, (before, after, limit) in (("usd", usd), ("tokens", tokens)):
        if before != after:
            budget_usage_changed.send(
                sender=BudgetPeriod,
                tenant_id=tenant_id,
                period=month,
                dimension=dimension,
                used_before=before,
                used_after=after,
                limit=limit,
                hard=hard,
            )


# --- settle and expire -------------------------------------------------------------------


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
            month = month_of(event.occurred_at, zone)
            months[month.first_day] = month
            day = event.occurred_at.astimezone(zone).date()
            deltas[month.first_day].spend(event.actual_cost_usd, event.tokens, day)
        _apply(tenant.pk, deltas, months)


def _apply(tenant_id: int, deltas: dict, months: dict[date, Month]) -> None:
    """Add the deltas keyed by month (first day) or period id to their rows, in id order
    (a fixed lock order: two batches never deadlock on two periods)."""
    for month in months.values():
        _period_ensure(tenant_id, month)
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
    _send_changes(
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
