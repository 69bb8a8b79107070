"""Races on PostgreSQL: threads and processes authorizing against one hard budget of $10.

Estimates vary (from $0.04 to $1.40), so the last dollars are fought over by calls of
different sizes. After every run: spent + reserved <= $10, the sum of the allowed estimates
equals what is reserved (to the last decimal), and every refusal is `budget_exhausted`.
"""

import multiprocessing
import threading
from decimal import Decimal

import pytest
from django.db import close_old_connections, connection, connections, transaction
from django.utils import timezone

from licensing.models import Tenant
from tests.usage.budgets.budget_helpers import call, hard_budget, period_of, priced_model
from usage.budgets.models import Reservation
from usage.budgets.services import BudgetExhausted, reservations_expire, reservations_settle
from usage.budgets.signals import budget_usage_changed

pytestmark = [pytest.mark.django_db(transaction=True)]

THREADS = 16
PROCESSES = 3
LIMIT = Decimal(10)
ESTIMATES = ("0.04", "0.12", "0.2", "0.36", "0.52", "0.8", "1", "1.4")


def _attempts(tenant: Tenant, prefix: str, count: int) -> tuple[Decimal, int, list[str]]:
    """`count` calls of varied estimates; (allowed total, refused, refusal codes)."""
    allowed, refused, codes = Decimal(0), 0, []
    for number in range(count):
        estimate = ESTIMATES[(number + len(prefix)) % len(ESTIMATES)]
        try:
            allowed += call(tenant, f"{prefix}-{number}", estimate).reserved_usd
        except BudgetExhausted as refusal:
            refused += 1
            codes.append(refusal.code)
    return allowed, refused, codes


def _check(tenant: Tenant, allowed: Decimal, refused: int, codes: list[str]) -> None:
    period = period_of(tenant)
    assert period.spent_usd + period.reserved_usd <= LIMIT
    assert period.reserved_usd == allowed
    assert refused > 0, "the run must cross the budget"
    assert set(codes) == {"budget_exhausted"}
    rows = Reservation.objects.filter(tenant=tenant)
    assert sum(r.estimate_usd for r in rows) == allowed
    # The last call refused left less room than the smallest estimate... or the one it asked.
    assert LIMIT - period.reserved_usd < max(Decimal(e) for e in ESTIMATES)


def _in_threads(run) -> None:
    """`run(number)` in THREADS threads released at once; their errors fail the test."""
    barrier = threading.Barrier(THREADS)
    errors: list[BaseException] = []

    def wrapped(number: int) -> None:
        try:
            barrier.wait()
            run(number)
        except BaseException as error:  # reported below, in the test's thread
            errors.append(error)
        finally:
            connection.close()  # each thread has its own connection

    threads = [threading.Thread(target=wrapped, args=(number,)) for number in range(THREADS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors, errors


def test_sixteen_threads_never_reserve_past_a_hard_budget(tenant_a):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")
    results: list[tuple] = []

    _in_threads(lambda number: results.append(_attempts(tenant_a, f"t{number}", 8)))

    _check(
        tenant_a,
        sum((r[0] for r in results), Decimal(0)),
        sum(r[1] for r in results),
        [code for r in results for code in r[2]],
    )


def _process_worker(tenant_id: int, prefix: str, barrier, queue) -> None:
    close_old_connections()
    tenant = Tenant.objects.get(pk=tenant_id)
    barrier.wait()
    try:
        queue.put(_attempts(tenant, prefix, 40))
    finally:
        connections.close_all()


def test_three_processes_never_reserve_past_a_hard_budget(tenant_a):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")
    connections.close_all()  # forked children must not share the parent's connection
    context = multiprocessing.get_context("fork")
    barrier, queue = context.Barrier(PROCESSES), context.Queue()
    processes = [
        context.Process(target=_process_worker, args=(tenant_a.pk, f"p{n}", barrier, queue))
        for n in range(PROCESSES)
    ]
    for process in processes:
        process.start()
    outcomes = [queue.get(timeout=120) for _ in processes]
    for process in processes:
        process.join(timeout=60)
        assert process.exitcode == 0

    _check(
        tenant_a,
        sum((o[0] for o in outcomes), Decimal(0)),
        sum(o[1] for o in outcomes),
        [code for o in outcomes for code in o[2]],
    )


def test_settling_and_expiring_while_threads_authorize_keeps_the_books_exact(tenant_a):
    """Authorizations race with settlements (actual = estimate - $0.01) and an expiry run;
    afterwards reserved is exactly the unsettled estimates, spent exactly the actuals."""
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")

    def run(number: int) -> None:
        for attempt in range(6):
            request_id = f"s{number}-{attempt}"
            try:
                reserved = call(tenant_a, request_id, ESTIMATES[attempt]).reserved_usd
            except BudgetExhausted:
                continue
            if attempt % 2:
                settled = [(request_id, reserved - Decimal("0.01"), 1, timezone.now())]
                with transaction.atomic(durable=True):  # as ingestion's transaction
                    reservations_settle(tenant=tenant_a, settled=settled)
        if number == 0:
            reservations_expire()  # none old enough: gives nothing back

    _in_threads(run)

    period = period_of(tenant_a)
    rows = list(Reservation.objects.filter(tenant=tenant_a))
    assert period.reserved_usd == sum(r.estimate_usd for r in rows if r.status == "reserved")
    assert period.spent_usd == sum(r.actual_usd for r in rows if r.status == "settled")
    assert period.spent_usd + period.reserved_usd <= LIMIT


def test_one_request_id_asked_by_sixteen_threads_at_once_reserves_once(tenant_a):
    priced_model(tenant_a)
    hard_budget(tenant_a, "10")
    answers: list[int] = []

    _in_threads(lambda _: answers.append(call(tenant_a, "the-same-call", "0.52").reservation_id))

    assert len(set(answers)) == 1 and len(answers) == THREADS
    assert period_of(tenant_a).reserved_usd == Decimal("0.52")
    # The session is usable after a duplicate's failed message (no aborted block left over).
    assert call(tenant_a, "next", "0.04").reserved_usd == Decimal("0.04")


def test_with_a_receiver_connected_it_writes_in_the_reservation_transaction(tenant_a):
    """The receiver's write commits with the reservation, and a refusal sends nothing."""
    priced_model(tenant_a)
    hard_budget(tenant_a, "1")
    seen = []

    def receiver(sender, **kwargs):
        assert connection.in_atomic_block
        seen.append((kwargs["dimension"], kwargs["used_before"], kwargs["used_after"]))

    budget_usage_changed.connect(receiver)
    try:
        call(tenant_a, "a", "0.8")
        call(tenant_a, "a", "0.8")  # asked again: nothing changes, nothing sent
        with pytest.raises(BudgetExhausted):
            call(tenant_a, "b", "0.4")
    finally:
        budget_usage_changed.disconnect(receiver)

    assert seen == [("usd", Decimal(0), Decimal("0.8")), ("tokens", 0, 600_000)]
    assert period_of(tenant_a).reserved_usd == Decimal("0.8")
