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
        period_ensure(params["tenant"], month)
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
    send_changes(
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
