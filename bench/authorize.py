"""Benchmark: authorize calls/s for one tenant, and the overspend of a run that crosses its budget.

    .venv/bin/python bench/authorize.py [--workers 8] [--seconds 3] [--rounds 3]
                                        [--database-url URL]

Runs against PostgreSQL in its own database (default `tally_bench_authorize`, created and
migrated if missing), with worker PROCESSES, every worker authorizing calls for the same
tenant, so all of them contend on the one period row:

- http: `POST /api/v1/usage/authorize/` through Django's test client in each process (the
  whole stack: middleware, session authentication, DRF, the serializer, the service), an
  administrator's session, against a hard budget the run never reaches;
- service: `usage.budgets.services.authorize` called directly (the bare service rate),
  no `budget_usage_changed` receiver connected: each call is one message to PostgreSQL;
- receiver: the same with a no-op receiver connected, as the alert rules will be: the
  transaction then stays open across a round trip for the signal;
- crossing: the service against a hard budget the run crosses about a quarter of the way in;
  afterwards overspend = max(spent + reserved - limit, 0), which must be 0, and the
  reservations must add up to what the period holds.

Each call's estimate is $0.001 (500 input tokens at $1/M, 250 output tokens at $2/M). The
runs are interleaved for `--rounds` rounds and the median printed. Not run by the test
suite. Aim: 1,000 authorize calls/s or more for one tenant (SPEC §10), overspend 0.
"""

import argparse
import multiprocessing
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from task_cap import start_benchmark  # noqa: E402 (shared)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tally_bench_authorize"
UNLIMITED_ENOUGH = Decimal(10**9)
CALL = {"model": "bench-model", "input_tokens": 500, "max_output_tokens": 250}
ESTIMATE = Decimal("0.001")
AIM_RATE = 1000
WARM_UP_CALLS = 20


def make_tenant(label: str, limit_usd: Decimal) -> tuple[int, int]:
    """A tenant with a priced model, a hard budget and an administrator: (tenant, user)."""
    from django.contrib.auth import get_user_model

    from licensing.models import Membership, Tenant
    from usage.budgets.services import budget_set
    from usage.services import llm_model_create, pricing_plan_create

    stamp = time.time_ns()
    tenant = Tenant.objects.create(name=f"Bench {label}", slug=f"bench-{label}-{stamp}")
    model = llm_model_create(tenant=tenant, name=CALL["model"], provider="Bench")
    pricing_plan_create(
        model=model,
        input_per_million=Decimal(1),
        output_per_million=Decimal(2),
        cached_per_million=Decimal("0.5"),
        effective_at=_epoch(),
    )
    budget_set(tenant=tenant, limit_usd=limit_usd, limit_tokens=None, kind="hard")
    user = get_user_model().objects.create_user(f"bench-{stamp}", is_staff=True)
    Membership.objects.create(user=user, tenant=tenant)
    return tenant.pk, user.pk


def _text(value: Decimal) -> str:
    return format(value.normalize(), "f")


def _epoch():
    from datetime import UTC, datetime

    return datetime(2000, 1, 1, tzinfo=UTC)


def _no_op(sender, **kwargs) -> None:
    """A receiver that decides nothing crossed (what an alert rule does on most calls)."""


def worker(phase: str, tenant_id: int, user_id: int, number: int, start_at, seconds, results):
    """One process: warm up, wait for the common start, then authorize until the deadline."""
    from django.contrib.auth import get_user_model
    from django.db import connections
    from django.test import Client

    from licensing.models import Tenant
    from usage.budgets.services import BudgetExhausted, authorize

    tenant = Tenant.objects.get(pk=tenant_id)
    counter = iter(range(10**9))
    if phase == "receiver":
        from usage.budgets.signals import budget_usage_changed

        budget_usage_changed.connect(_no_op, weak=False)
    if phase == "http":
        client = Client()
        client.force_login(get_user_model().objects.get(pk=user_id))

        def authorize_one() -> bool:
            body = {**CALL, "request_id": f"{phase}-{number}-{next(counter)}"}
            response = client.post("/api/v1/usage/authorize/", body, "application/json")
            if response.status_code not in (200, 403):
                raise RuntimeError(f"{response.status_code}: {response.content[:300]!r}")
            return response.status_code == 200

    else:

        def authorize_one() -> bool:
            try:
                authorize(tenant=tenant, request_id=f"{phase}-{number}-{next(counter)}", **CALL)
            except BudgetExhausted:
                return False
            return True

    allowed = refused = 0
    for _ in range(WARM_UP_CALLS):  # connections, caches, the first period row
        if authorize_one():
            allowed += 1
        else:
            refused += 1
    if phase != "crossing":  # a crossing run counts every call: the budget is what matters
        allowed = refused = 0
    start_at.wait()  # every worker warm: the measured seconds start together
    deadline = time.time() + seconds
    while time.time() < deadline:
        if authorize_one():
            allowed += 1
        else:
            refused += 1
    results.put((allowed, refused))
    connections.close_all()


def run(phase: str, tenant_id: int, user_id: int, workers: int, seconds: float) -> dict:
    from django.db import connections

    connections.close_all()  # never share the parent's connection with forked workers
    context = multiprocessing.get_context("fork")
    results, start_at = context.Queue(), context.Barrier(workers)
    processes = [
        context.Process(
            target=worker, args=(phase, tenant_id, user_id, n, start_at, seconds, results)
        )
        for n in range(workers)
    ]
    for process in processes:
        process.start()
    allowed = refused = 0
    for _ in processes:
        a, r = results.get(timeout=seconds + 600)
        allowed, refused = allowed + a, refused + r
    for process in processes:
        process.join()
    return {"allowed": allowed, "refused": refused, "rate": (allowed + refused) / seconds}


def books(tenant_id: int) -> tuple[Decimal, Decimal, Decimal]:
    """(limit, spent + reserved, sum of the reservations' estimates) of the tenant's period."""
    from django.db.models import Sum

    from usage.budgets.models import BudgetPeriod, Reservation

    period = BudgetPeriod.objects.get(tenant_id=tenant_id)
    estimates = Reservation.objects.filter(tenant_id=tenant_id).aggregate(s=Sum("estimate_usd"))
    return period.limit_usd, period.spent_usd + period.reserved_usd, estimates["s"] or Decimal(0)


PHASES = ("http", "service", "receiver")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--workers", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    options = parser.parse_args()
    start_benchmark("Authorize", options)
    workers, seconds = options.workers, options.seconds
    rates: dict[str, list[float]] = {phase: [] for phase in PHASES}
    exact = True
    for _round in range(options.rounds):
        for phase in PHASES:
            tenant_id, user_id = make_tenant(phase, UNLIMITED_ENOUGH)
            result = run(phase, tenant_id, user_id, workers, seconds)
            rates[phase].append(result["rate"])
            _limit, used, estimates = books(tenant_id)
            exact = exact and used == estimates and result["refused"] == 0
    median = {phase: statistics.median(values) for phase, values in rates.items()}
    for phase in PHASES:
        runs = ", ".join(f"{rate:.0f}" for rate in rates[phase])
        print(f"  {phase:<9} {median[phase]:8.1f} authorize calls/s   (runs: {runs})")
    print(f"  reserved = sum of the allowed estimates after every run: {exact}")

    # The warm-up's calls plus about a quarter of what the slowest service run reserved.
    calls = workers * WARM_UP_CALLS + int(min(rates["service"]) * seconds / 4)
    limit = (calls * ESTIMATE).quantize(ESTIMATE)
    tenant_id, user_id = make_tenant("crossing", limit)
    crossing = run("crossing", tenant_id, user_id, workers, seconds)
    limit, used, estimates = books(tenant_id)
    overspend = max(used - limit, Decimal(0))
    print(
        f"  crossing: hard budget ${limit}, allowed {crossing['allowed']}, refused "
        f"{crossing['refused']}, spent + reserved ${_text(used)}, reservations "
        f"${_text(estimates)}, overspend ${_text(overspend)}"
    )
    rate = median["http"]
    verdict = "ok" if rate >= AIM_RATE else "short"
    print(f"aim: authorize_per_second {rate:.0f} >= {AIM_RATE} {verdict}")
    fine = overspend == 0 and used == estimates and crossing["refused"] > 0
    print(f"aim: overspend_usd {_text(overspend)} == 0 {'ok' if fine else 'short'}")


if __name__ == "__main__":
    main()
