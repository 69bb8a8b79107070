"""Authorize an LLM call: reserve its estimate on this month's period, or refuse it.

The rule (SPEC §8.2): under any concurrency, spent + reserved never passes a hard budget
through `authorize`. It is ONE conditional UPDATE of the month's period row, whose WHERE
holds `spent + reserved + estimate <= limit`; PostgreSQL re-checks that condition on the
latest row version after waiting for a concurrent writer's row lock, so two calls can never
both take the last dollar. The reservation's INSERT reads from that UPDATE in the same
statement: a refused call writes nothing.
"""

from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal
from typing import Any

from django.db import IntegrityError, connection, transaction
from django.utils import timezone
from psycopg.pq import TransactionStatus

from licensing.models import Tenant
from tasks.models import Ticket
from usage.budgets.models import BudgetPeriod, Reservation
from usage.budgets.services.errors import BudgetExhausted, BudgetRefused
from usage.budgets.services.periods import period_ensure, send_changes
from usage.budgets.signals import budget_usage_changed
from usage.models import LlmModel
from usage.pricing import PricingTimeline, token_cost
from usage.pricing_sql import cost_sql
from usage.projections import Month, month_of

_IN_A_BLOCK = (TransactionStatus.INTRANS, TransactionStatus.INERROR)  # not a dead connection


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


# Why the commit is asynchronous, and the flush wait after it: the period row's lock is held
# from the UPDATE to the commit, so the commit must not wait for the WAL flush inside it (else
# one tenant's calls queue behind one fsync each: 217 calls/s with 8 processes). But an
# acknowledged reservation must survive a crash: were it lost, its room would be reserved
# again by other calls while the LLM call it allowed still spends, and its usage event would
# then pass the hard budget. So the answer waits for `_FLUSH_SQL` (below), outside the lock.
_ASYNCHRONOUS_COMMIT_SQL = "SELECT set_config('synchronous_commit', 'off', true)"
# A transactional WAL record committed with the session's synchronous_commit (on): its commit
# waits for the WAL to be flushed past the reservation's commit (WAL is flushed in order), so
# concurrent calls share flushes and an acknowledged reservation is on disk.
_FLUSH_SQL = "SELECT pg_logical_emit_message(true, 'tally.budget_reserved', '')"
# ONE statement: the tenant's model by name and its plan in force now (`pricing.PricingTimeline
# .in_force`: the latest taking effect at or before; one per model and time, a unique
# constraint), the estimate priced by `pricing_sql.cost_sql` (the SQL form of `token_cost`,
# input as uncached input), the conditional reservation on the period row, and the
# reservation's INSERT fed by it. No row back: an unknown model, no period row yet, or refused
# (`_why_nothing_reserved` tells which). PostgreSQL re-checks the UPDATE's WHERE on the row's
# latest version after waiting for a concurrent writer, with the same `asked` row.
_AUTHORIZE_SQL = f"""
WITH asked AS (
    SELECT m.id AS model_id, plan.model_id IS NOT NULL AS priced,
        coalesce({cost_sql("call")}, 0) AS usd
    FROM (SELECT %(input)s::bigint AS input_tokens, %(output)s::bigint AS output_tokens,
                 0::bigint AS cached_tokens) AS call
    JOIN usage_llmmodel m ON m.tenant_id = %(tenant)s AND m.name = %(model)s
    LEFT JOIN LATERAL (
        SELECT model_id, input_per_million, output_per_million, cached_per_million
        FROM usage_pricingplan
        WHERE model_id = m.id AND effective_at <= %(now)s
        ORDER BY effective_at DESC LIMIT 1
    ) AS plan ON true
), period AS (
    UPDATE usage_budgetperiod AS p
    SET reserved_usd = p.reserved_usd + asked.usd,
        reserved_tokens = p.reserved_tokens + %(tokens)s
    FROM asked
    WHERE p.tenant_id = %(tenant)s AND p.month = %(month)s
      AND (NOT p.hard OR (
          (p.limit_usd IS NULL OR p.spent_usd + p.reserved_usd + asked.usd <= p.limit_usd)
          AND (p.limit_tokens IS NULL
               OR p.spent_tokens + p.reserved_tokens + %(tokens)s <= p.limit_tokens)))
    RETURNING p.id, p.ends_at, p.limit_usd, p.limit_tokens, p.hard, p.spent_usd,
        p.reserved_usd, p.spent_tokens, p.reserved_tokens, asked.model_id, asked.usd,
        asked.priced
), reservation AS (
    INSERT INTO usage_reservation (tenant_id, period_id, request_id, model_id, consumer,
        ticket_id, input_tokens, max_output_tokens, priced, estimate_usd, estimate_tokens,
        status, created_at)
    SELECT %(tenant)s, period.id, %(request_id)s, period.model_id, %(consumer)s, %(ticket)s,
        %(input)s, %(output)s, period.priced, period.usd, %(tokens)s, 'reserved', %(now)s
    FROM period
    RETURNING id
)
SELECT reservation.id, period.ends_at, period.limit_usd, period.limit_tokens, period.hard,
    period.spent_usd, period.reserved_usd, period.spent_tokens, period.reserved_tokens,
    period.usd, period.priced
FROM period, reservation
"""


def call_estimate(
    *, model_id: int, input_tokens: int, max_output_tokens: int, now: datetime
) -> Decimal | None:
    """The most the call can cost under the model's plan in force now (input priced as
    uncached input), or None when no plan prices it. `authorize` prices in its statement
    (`_AUTHORIZE_SQL`, the same rule); this names the estimate of a refused call."""
    plan = PricingTimeline.of_models([model_id]).in_force(model_id, now)
    if plan is None:
        return None
    return token_cost(plan, input=input_tokens, output=max_output_tokens, cached=0).total


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
    if ticket is not None and not Ticket.objects.filter(tenant=tenant, pk=ticket).exists():
        raise BudgetRefused("No such ticket.", errors={"ticket": ["No such ticket."]})
    month = month_of(now, tenant.zone)
    params: dict[str, Any] = {
        "tenant": tenant.pk,
        "month": month.first_day,
        "tokens": input_tokens + max_output_tokens,
        "request_id": request_id,
        "model": model,
        "consumer": consumer or "",
        "ticket": ticket,
        "input": input_tokens,
        "output": max_output_tokens,
        "now": now,
    }
    try:
        row = _reserve(params, month)
    except (IntegrityError, BudgetExhausted):
        # Asked again (the INSERT's key, or a budget that its first reservation filled):
        # the answer it had; anything else is raised.
        existing = Reservation.objects.filter(tenant=tenant, request_id=request_id).first()
        if existing is None:
            raise
        return _authorization_of(existing)
    _id, ends_at, limit_usd, limit_tokens, _hard, spent, reserved, spent_t, reserved_t = row[:9]
    estimate, priced = row[9:]
    return Authorization(
        allowed=True,
        reservation_id=_id,
        reserved_usd=estimate,
        remaining_usd=_remaining(limit_usd, spent + reserved),
        remaining_tokens=_remaining(limit_tokens, spent_t + reserved_t),
        period_ends_at=ends_at,
        priced=priced,
    )


def _reserve(params: dict, month: Month) -> tuple:
    """The conditional reservation; the period row is made on the month's first call."""
    for _attempt in range(2):
        row = _reserve_once(params)
        if row is not None:
            return row
        _why_nothing_reserved(params, month)
        period_ensure(params["tenant"], month)
    raise AssertionError("the period row exists after period_ensure")


def _why_nothing_reserved(params: dict, month: Month) -> None:
    """No row back from the statement (never on the common path): raise for an unknown model
    or a refusal; return when the month's period row is missing (the caller makes it)."""
    model_id = (
        LlmModel.objects.filter(tenant_id=params["tenant"], name=params["model"])
        .values_list("pk", flat=True)
        .first()
    )
    if model_id is None:
        message = f"No model named {params['model']!r}: create it first (POST /api/v1/models/)."
        raise BudgetRefused(message, errors={"model": [message]})
    period = BudgetPeriod.objects.filter(tenant_id=params["tenant"], month=month.first_day)
    if period.exists():  # the row is there: the hard budget refused
        estimate = call_estimate(
            model_id=model_id,
            input_tokens=params["input"],
            max_output_tokens=params["output"],
            now=params["now"],
        )
        raise BudgetExhausted(
            period=period.get(),
            estimate_usd=estimate if estimate is not None else Decimal(0),
            estimate_tokens=params["tokens"],
        )


def _reserve_once(params: dict) -> tuple | None:
    """One try of the statement; None: no row matched.

    With no `budget_usage_changed` receiver connected, the whole transaction goes as ONE
    message (BEGIN ... COMMIT, then the flush wait), so the period's row lock is never held
    across a round trip to this process: with 8 processes on 2 busy cores, a lock holder
    descheduled between two round trips stalls every other call. With a receiver (the alert
    rules, in production), the transaction stays open for the signal, which receivers write
    in; its COMMIT then travels with the flush wait (`_commit_and_wait_for_flush`).
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
                _commit_and_wait_for_flush()
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


def _commit_and_wait_for_flush() -> None:
    """COMMIT the atomic block's transaction and wait for the flush in ONE round trip (not
    two: psycopg's own commit, at the block's end, then sees the session idle and sends
    nothing; Django still runs its on_commit callbacks then)."""
    with connection.cursor() as cursor:
        cursor.execute(f"COMMIT; {_FLUSH_SQL}")


def _signal_reservation(params: dict, row: tuple) -> None:
    _id, _ends_at, limit_usd, limit_tokens, hard, spent, reserved, spent_t, reserved_t = row[:9]
    estimate = row[9]
    used_usd, used_tokens = spent + reserved, spent_t + reserved_t
    send_changes(
        params["tenant"],
        params["month"],
        hard,
        usd=(used_usd - estimate, used_usd, limit_usd),
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
