"""Benchmark: usage activity from the rollups against a plain GROUP BY over the raw events.

    .venv/bin/python bench/activity.py [--events 1000000] [--database-url URL] [--export-only]
        [--ingestion-only] [--history-only] [--history-events 12000000]

Runs against PostgreSQL in its own database (default `tally_bench_usage`, created and
migrated if missing; earlier bench data is truncated). It loads, with generate_series:

- the main tenant (Europe/Paris): `--events` events over the last 30 days, a daily
  rhythm, 6 models (one without a pricing plan, one with a price change mid-range),
  ~70 % of the usage on 3,000 tickets each worked on for an hour or two, 12 consumers,
  8 hosts (90 % of the usage names one), 4 % failures;
- a small tenant with a tenth of the events (the growth figure), and other tenants with
  the rest of another `--events`, so the main tenant's rows are not alone in the table;

then builds the rollups from the events (`rollups_rebuild`) and prints:

1. `activity` for 24 h, 7 d and 30 d ending now (off the grain, so raw edges are read
   too) in both modes, against what the page of that mode shows from GROUP BY over raw
   events (`raw_activity`: the series with its buckets' cost, models, hosts, consumers,
   top tickets by cost; in Cost mode each host's and consumer's whole bill; cost joined
   to the plan in force), with the ratios. The sides are called in turn, each figure the
   median of 5 calls or of as many as fit in 2 s, after up to 10 warm-up calls within 1 s
   (`timed_together`); the raw side without parallel workers, as the activity reads
   (`serial_raw`). The totals of both are checked equal (cost and whole bill to the last
   decimal), and so are the consumers, hosts and top tickets. Also timed, for comparison
   with earlier runs: the raw side as this bench first had it (`first_raw_activity`),
   which left out the hosts and, in Tokens mode, the costs that page shows;
2. growth from 1/10 of the events to all of them, for both;
3. ingestion through `POST /api/v1/usage/events/` (DRF test client, batches of 1,000)
   against a bare `bulk_create` of the same events;
4. the CSV export of the main tenant's month (every event) against a plain `COPY` of
   the same priced rows (raw columns, cost joined to the plan in force, no formatting),
   median of 3, and its peak Python memory (tracemalloc) while streaming every event;
   then the aim lines, one per aim: `aim: activity_<range>_<mode>_over_raw <ratio> >= 10`,
   `aim: growth_30d_<mode>_at_10x_events <factor> <= 2`,
   `aim: ingestion_over_bare_insert <ratio> >= 0.5`, `aim: export_over_copy <ratio> <= 2`,
   each ending ok or short.

`--export-only` loads the main tenant alone and runs part 4 only (the machine is shared);
`--ingestion-only` runs part 3 alone.

5. `--history-only` (minutes at full size: not part of the default run): a tenant with
   `--history-events` events over the last 12 months (INSERT ... generate_series, the
   model rollup built in SQL as `rollups_rebuild` does: the page reads no other), the
   price change 15 days ago, and a tenant with one month of usage (1/120 of the
   events); times `usage_history` (the 12 cycles of the history page, SPEC §5.5; median
   of 5) and the whole page, and counts the queries of both tenants; it ends with
   `aim: history_12_months_ms <ms> <= 100 ok|short` (ok also needs the same query count
   for 12 months of data as for 1).

Not run by the test suite. Aims: 30 d at least 10x faster than the raw GROUP BY and
growing with buckets, not events; ingestion at least half the bare insert rate; the
export within twice the plain COPY, in bounded memory.
"""

import argparse
import os
import statistics
import sys
import time
import tracemalloc
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tally_bench_usage"
ZONE = "Europe/Paris"
TICKETS = 3000
HOSTS = 8  # 90 % of the usage names one of them
MODELS = [
    ("gpt-4o", "OpenAI", ("2.5", "10", "1.25")),
    ("gpt-4o-mini", "OpenAI", ("0.15", "0.6", "0.075")),
    ("claude-sonnet", "Anthropic", ("3", "15", "0.3")),
    ("claude-haiku", "Anthropic", ("0.8", "4", "0.08")),
    ("mistral-large", "Mistral", ("2", "6", "0.5")),
    ("llama-local", "self-hosted", None),  # no pricing plan: always unpriced
]
RUNS = 5
WARM_CALLS, WARM_SECONDS = 10, 1.0  # `timed_together`'s warm-up
TIMED_SECONDS, MAX_RUNS = 2.0, 100  # and how long it times, at least RUNS rounds
# 30 d activity over ten times the events may cost at most this much more: it grows with
# buckets (and rollup rows), not events; the raw GROUP BY grows about tenfold.
GROWTH_AIM = 2

from bench.task_cap import ensure_database, setup_django  # noqa: E402  (same database setup)


def execute(sql: str, params=None) -> list:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall() if cursor.description else []


def make_tenant(label: str, now: datetime, *, with_tickets: bool):
    """A tenant with the models, plans (one price change 15 days ago) and tickets."""
    from licensing.models import Tenant
    from tasks.models import Gateway, Host, Ticket
    from usage.models import LlmModel, PricingPlan

    tenant = Tenant.objects.create(name=f"Bench {label}", slug=f"bench-{label}", timezone=ZONE)
    change = (now - timedelta(days=15)).replace(minute=0, second=0, microsecond=0)
    models = []
    for index, (name, provider, prices) in enumerate(MODELS):
        model = LlmModel.objects.create(tenant=tenant, name=name, provider=provider)
        models.append(model)
        if prices is None:
            continue
        values = [Decimal(p) for p in prices]
        PricingPlan.objects.create(
            model=model,
            input_per_million=values[0],
            output_per_million=values[1],
            cached_per_million=values[2],
            effective_at=datetime(2020, 1, 1, tzinfo=UTC),
        )
        if index == 0:  # a price change in the middle of the month
            PricingPlan.objects.create(
                model=model,
                input_per_million=values[0] * 2,
                output_per_million=values[1] * 2,
                cached_per_million=values[2] / 2,
                effective_at=change,
            )
    Host.objects.bulk_create(Host(tenant=tenant, name=f"host-{i}") for i in range(HOSTS))
    tickets = []
    if with_tickets:
        gateway = Gateway.objects.create(tenant=tenant, name="Jira", kind="jira", secret_hash="x")
        tickets = Ticket.objects.bulk_create(
            Ticket(tenant=tenant, gateway=gateway, external_id=f"INC-{i}", subject=f"Ticket {i}")
            for i in range(TICKETS)
        )
    return tenant, models, [t.id for t in tickets]


LOAD_SQL = """
INSERT INTO usage_usageevent (tenant_id, request_id, occurred_at, model_id, input_tokens,
    output_tokens, cached_tokens, ticket_id, task_id, consumer, succeeded, received_at, host_id)
SELECT %(tenant)s, 'b' || %(tenant)s || '-' || i, t, m,
    (random() * 3000)::int, (random() * 800)::int,
    CASE WHEN random() < 0.6 THEN (random() * 4000)::int ELSE 0 END,
    -- a ticket is worked on for about an hour: the one due at the event's time, or a neighbour
    CASE WHEN %(tickets)s > 0 AND random() < 0.7 THEN %(first_ticket)s + LEAST(
        %(tickets)s - 1, GREATEST(0, floor(EXTRACT(EPOCH FROM t - %(start)s::timestamptz)
        / (%(days)s * 86400) * %(tickets)s)::int + (random() * 2)::int - 1)) END,
    NULL, 'agent-' || (random() * 11)::int, random() > 0.04, now(),
    CASE WHEN random() < 0.9 THEN (%(hosts)s::int[])[1 + floor(random() * %(k_hosts)s)::int] END
FROM (
    SELECT i,
        %(start)s::timestamptz + floor(i::float8 / %(n)s * %(days)s) * interval '1 day'
        + make_interval(secs => mod((86400 * (0.42 + 0.3 * (random() + random() + random()
        - 1.5)))::int + 86400, 86400)) AS t,
        (%(models)s::int[])[1 + floor(power(random(), 1.6) * %(k)s)::int] AS m
    FROM generate_series(0, %(n)s - 1) AS i
) AS s
"""


def load(tenant, models, tickets, n: int, start: datetime, days: int = 30) -> float:
    from usage.services import rollups_rebuild

    began = time.perf_counter()
    load_events(tenant, models, tickets, n, start, days)
    rollups_rebuild(tenant=tenant)
    return time.perf_counter() - began


# The model rollup rebuilt as `rollups_rebuild` and migration 0004 do it, alone: the history
# page reads no other rollup, and the other three would add minutes over 12,000,000 events.
MODEL_ROLLUP_SQL = """
INSERT INTO usage_modelrollup (tenant_id, grain_seconds, grain_start, model_id, on_ticket,
    input_tokens, output_tokens, cached_tokens, succeeded_requests, failed_requests)
SELECT tenant_id, %(grain)s, (CAST(FLOOR(EXTRACT(EPOCH FROM occurred_at)) AS BIGINT)
    / %(grain)s) * %(grain)s, model_id, ticket_id IS NOT NULL,
    SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens),
    SUM(CASE WHEN succeeded THEN 1 ELSE 0 END), SUM(CASE WHEN succeeded THEN 0 ELSE 1 END)
FROM usage_usageevent WHERE tenant_id = %(tenant)s
GROUP BY tenant_id, 3, model_id, ticket_id IS NOT NULL ORDER BY 3
"""


def model_rollups_rebuild(tenant) -> None:
    from usage.models import MODEL_GRAINS

    execute("DELETE FROM usage_modelrollup WHERE tenant_id = %s", [tenant.id])
    for grain in MODEL_GRAINS:
        execute(MODEL_ROLLUP_SQL, {"grain": grain, "tenant": tenant.id})


def load_events(tenant, models, tickets, n: int, start: datetime, days: int = 30) -> None:
    from tasks.models import Host

    hosts = list(Host.objects.filter(tenant=tenant).values_list("id", flat=True))
    execute(
        LOAD_SQL,
        {
            "days": days,
            "tenant": tenant.id,
            "tickets": len(tickets),
            "first_ticket": tickets[0] if tickets else 0,
            "n": n,
            "start": start,
            "models": [m.id for m in models],
            "k": len(models),
            "hosts": hosts,
            "k_hosts": len(hosts),
        },
    )


# --- the raw GROUP BY that answers the same questions -------------------------------

BUCKET_SQL = {
    "5m": "date_bin('5 minutes', e.occurred_at AT TIME ZONE %(zone)s, timestamp '2000-01-01')",
    "15m": "date_bin('15 minutes', e.occurred_at AT TIME ZONE %(zone)s, timestamp '2000-01-01')",
    "1h": "date_trunc('hour', e.occurred_at AT TIME ZONE %(zone)s)",
    "6h": "date_bin('6 hours', e.occurred_at AT TIME ZONE %(zone)s, timestamp '2000-01-01')",
    "1d": "date_trunc('day', e.occurred_at AT TIME ZONE %(zone)s)",
}
PLANS_CTE = """
WITH p AS (
    SELECT model_id, input_per_million AS ip, output_per_million AS op,
        cached_per_million AS cp, effective_at AS f,
        LEAD(effective_at) OVER (PARTITION BY model_id ORDER BY effective_at) AS u
    FROM usage_pricingplan
)
"""
RANGE = "e.tenant_id = %(tenant)s AND e.occurred_at >= %(start)s AND e.occurred_at < %(end)s"
PRICED = (
    "JOIN p ON p.model_id = e.model_id AND e.occurred_at >= p.f "
    "AND (p.u IS NULL OR e.occurred_at < p.u)"
)
COST = "SUM(e.input_tokens * p.ip + e.output_tokens * p.op + e.cached_tokens * p.cp) / 1000000"


def raw_activity(tenant, start: datetime, end: datetime, bucket: str, mode: str) -> dict:
    """What the page of `mode` shows, from GROUP BY over the raw events: both pages show
    the series (tokens; ticket-linked cost in its table), the models, providers, hosts,
    consumers and top tickets by cost; Cost mode adds the whole bill of each consumer and
    host, the unattributed spend and the unpriced tokens. A statement per breakdown, as
    one would write it with no rollups (cost joined to the plan in force)."""
    params = {"tenant": tenant.id, "start": start, "end": end, "zone": ZONE}
    unpriced = (
        "SUM(e.input_tokens + e.output_tokens + e.cached_tokens) FILTER (WHERE p.model_id IS NULL)"
    )
    # Per bucket, model and ticket-or-not: the series, the models and the providers (and
    # in Cost mode the models' unpriced tokens).
    series = execute(
        f"{PLANS_CTE} SELECT {BUCKET_SQL[bucket]} AS b, e.model_id, e.ticket_id IS NOT NULL, "
        "SUM(e.input_tokens), SUM(e.output_tokens), SUM(e.cached_tokens), "
        "COUNT(*) FILTER (WHERE e.succeeded), COUNT(*) FILTER (WHERE NOT e.succeeded), "
        f"{COST}{f', {unpriced}' if mode == 'cost' else ''} FROM usage_usageevent e "
        f"LEFT {PRICED} WHERE {RANGE} GROUP BY 1, 2, 3",
        params,
    )
    figures = (
        "SUM(e.input_tokens + e.output_tokens + e.cached_tokens), COUNT(*), "
        "COUNT(*) FILTER (WHERE NOT e.succeeded)"
    )
    if mode == "cost":  # each consumer's and host's whole bill, and its unpriced tokens
        figures += f", {COST}, {unpriced}"
        source = f"{PLANS_CTE} SELECT {{key}}, {figures} FROM usage_usageevent e LEFT {PRICED}"
    else:
        source = f"SELECT {{key}}, {figures} FROM usage_usageevent e"
    consumers = execute(f"{source.format(key='e.consumer')} WHERE {RANGE} GROUP BY 1", params)
    hosts = execute(  # named, as the page names them
        f"SELECT summed.*, h.name FROM ({source.format(key='e.host_id')} WHERE {RANGE} "
        "GROUP BY 1) AS summed LEFT JOIN tasks_host h ON h.id = summed.host_id",
        params,
    )
    tickets = execute(
        f"{PLANS_CTE}, ranked AS (SELECT e.ticket_id, {COST} AS c, "
        "SUM(e.input_tokens + e.output_tokens + e.cached_tokens) AS t "
        f"FROM usage_usageevent e {PRICED} WHERE {RANGE} AND e.ticket_id IS NOT NULL "
        "GROUP BY 1 ORDER BY c DESC, t DESC, 1 LIMIT 11) "
        "SELECT ranked.*, k.external_id, k.subject FROM ranked "
        "JOIN tasks_ticket k ON k.id = ranked.ticket_id ORDER BY c DESC, t DESC, 1",
        params,
    )

    def figures_by_key(rows) -> dict:  # key: (tokens, whole bill or None in Tokens mode)
        if mode == "cost":
            return {key: (tokens, cost) for key, tokens, _, _, cost, *_ in rows}
        return {key: (tokens, None) for key, tokens, *_ in rows}

    return {
        "tokens": sum(r[3] + r[4] + r[5] for r in series),
        "cost": sum((r[8] for r in series if r[2] and r[8] is not None), Decimal(0)),
        "whole_bill": sum((r[8] for r in series if r[8] is not None), Decimal(0)),
        "consumers": figures_by_key(consumers),
        "hosts": figures_by_key(hosts),
        "tickets": [ticket_id for ticket_id, *_ in tickets],
    }


def first_raw_activity(tenant, start: datetime, end: datetime, bucket: str, mode: str) -> None:
    """The raw side as this bench first had it, kept to compare with earlier runs: the
    series and the consumers' tokens, and in Cost mode the buckets' ticket-linked cost and
    the top tickets; not the hosts, nor (Tokens mode) the costs its page also shows."""
    params = {"tenant": tenant.id, "start": start, "end": end, "zone": ZONE}
    execute(
        f"SELECT {BUCKET_SQL[bucket]} AS b, e.model_id, e.ticket_id IS NOT NULL, "
        "SUM(e.input_tokens), SUM(e.output_tokens), SUM(e.cached_tokens), "
        "COUNT(*) FILTER (WHERE e.succeeded), COUNT(*) FILTER (WHERE NOT e.succeeded) "
        f"FROM usage_usageevent e WHERE {RANGE} GROUP BY 1, 2, 3",
        params,
    )
    execute(
        "SELECT e.consumer, SUM(e.input_tokens + e.output_tokens + e.cached_tokens) "
        f"FROM usage_usageevent e WHERE {RANGE} GROUP BY 1",
        params,
    )
    if mode == "cost":
        execute(
            f"{PLANS_CTE} SELECT {BUCKET_SQL[bucket]} AS b, e.model_id, {COST} "
            f"FROM usage_usageevent e {PRICED} WHERE {RANGE} AND e.ticket_id IS NOT NULL "
            "GROUP BY 1, 2",
            params,
        )
        execute(
            f"{PLANS_CTE} SELECT e.ticket_id, {COST} AS c FROM usage_usageevent e {PRICED} "
            f"WHERE {RANGE} AND e.ticket_id IS NOT NULL GROUP BY 1 ORDER BY c DESC LIMIT 10",
            params,
        )


def timed(function, runs: int = RUNS) -> tuple[float, object]:
    """`timed_together` of one function."""
    [(seconds, value)] = timed_together([function], runs)
    return seconds, value


def timed_together(functions, runs: int = RUNS) -> list[tuple[float, object]]:
    """The median seconds of each function's calls, and what its last call returned: each
    warmed first, up to WARM_CALLS calls within WARM_SECONDS (at least one), then called
    in turn, one call of each a round, for `runs` rounds and more while the rounds have
    taken under TIMED_SECONDS (at most MAX_RUNS).

    Warming: plans and caches warm in one call; Python's specializing interpreter quickens
    code that has run a few times (the 24 h activity took ~9.5 ms over its first 5 calls
    against ~8.3 ms after). In turn, and for a second or more: this machine's speed comes
    and goes in bursts (the same 24 h activity took 8.6 to 15 ms from one run of 5 calls
    to the next, minutes apart), so the sides of a ratio are timed through the same bursts,
    and a short figure over more calls than 5."""
    for function in functions:
        warming = time.perf_counter()
        for _ in range(WARM_CALLS):
            function()
            if time.perf_counter() - warming > WARM_SECONDS:
                break
    times: list[list[float]] = [[] for _ in functions]
    values: list[object] = [None] * len(functions)
    began_rounds = time.perf_counter()
    while len(times[0]) < runs or (
        time.perf_counter() - began_rounds < TIMED_SECONDS and len(times[0]) < MAX_RUNS
    ):
        for index, function in enumerate(functions):
            began = time.perf_counter()
            values[index] = function()
            times[index].append(time.perf_counter() - began)
    return [(statistics.median(t), value) for t, value in zip(times, values, strict=True)]


@contextmanager
def serial_raw():
    """The raw GROUP BYs without parallel workers, as the activity reads (one backend each
    side). Whether PostgreSQL planned them parallel came and went with ANALYZE's sample
    from one load to the next, and on 2 cores a parallel plan was the slower one at 24 h
    (the consumers' GROUP BY: 78 ms with 2 workers, 12 ms without): the raw 24 h figure
    swung between 25 and 93 ms, and with it the ratio."""
    execute("SET max_parallel_workers_per_gather = 0")
    try:
        yield
    finally:
        execute("RESET max_parallel_workers_per_gather")


def compare(tenant, now: datetime, length: timedelta, bucket: str, mode: str, first=False):
    """Median seconds of the activity and of the raw side of its page (and, `first`, of
    the first raw side: else None), and the number of buckets."""
    from usage.selectors import activity

    start = now - length
    sides = [
        lambda: activity(tenant=tenant, start=start, end=now, mode=mode, bucket=bucket),
        lambda: raw_activity(tenant, start, now, bucket, mode),
    ]
    if first:
        sides.append(lambda: first_raw_activity(tenant, start, now, bucket, mode))
    with serial_raw():  # (the activity sets it for its own statements: no change there)
        (fast, result), (slow, raw), *rest = timed_together(sides)
    first_slow = rest[0][0] if rest else None
    assert result.tokens.total == raw["tokens"], (result.tokens.total, raw["tokens"])
    assert result.cost.total == raw["cost"], (result.cost.total, raw["cost"])
    assert result.whole_bill.total == raw["whole_bill"], (result.whole_bill, raw["whole_bill"])
    check_breakdowns(result, raw)
    return fast, slow, first_slow, len(result.series)


def check_breakdowns(result, raw: dict) -> None:
    """The activity's consumers, hosts (tokens; whole bill in Cost mode) and top tickets
    are the raw side's."""
    for rows, key, expected in (
        (result.top_consumers, "consumer", raw["consumers"]),
        (result.by_host, "host_id", raw["hosts"]),
    ):
        for row in rows:
            tokens, cost = expected[getattr(row, key)]
            assert row.tokens.total == tokens, (row, tokens)
            assert cost is None or row.cost.total == (cost or 0), (row, cost)
    assert [t.ticket_id for t in result.top_tickets] == raw["tickets"][: len(result.top_tickets)]


# --- ingestion ---------------------------------------------------------------------


def ingestion(now: datetime, batches: int) -> tuple[float, float]:
    from rest_framework.test import APIClient

    from tests.factories import UserFactory
    from usage.models import UsageEvent

    api_tenant, api_models, api_tickets = make_tenant("api", now, with_tickets=True)
    bulk_tenant, bulk_models, bulk_tickets = make_tenant("bulk", now, with_tickets=True)
    admin = UserFactory(username="bench-admin", is_staff=True, tenant=api_tenant)
    client = APIClient()
    client.force_authenticate(admin)

    def batch(number: int) -> list[dict]:
        base = now - timedelta(hours=6)
        return [
            {
                "request_id": f"api-{number}-{i}",
                "occurred_at": (base + timedelta(seconds=number * 1000 + i)).isoformat(),
                "model": MODELS[i % 5][0],
                "input_tokens": 1000 + i,
                "output_tokens": 200,
                "cached_tokens": 300,
                "ticket_index": i % 50,
                "consumer": f"agent-{i % 12}",
                "succeeded": i % 25 != 0,
            }
            for i in range(1000)
        ]

    payloads = [batch(number) for number in range(batches)]
    bodies = [
        [
            {
                **{k: v for k, v in r.items() if k != "ticket_index"},
                "ticket": api_tickets[r["ticket_index"]],
            }
            for r in records
        ]
        for records in payloads
    ]
    began = time.perf_counter()
    for body in bodies:
        response = client.post("/api/v1/usage/events/", {"events": body}, format="json")
        assert response.status_code == 201, response.content[:300]
    api_rate = batches * 1000 / (time.perf_counter() - began)

    by_name = {m.name: m.id for m in bulk_models}
    began = time.perf_counter()
    for records in payloads:
        UsageEvent.objects.bulk_create(
            UsageEvent(
                tenant=bulk_tenant,
                request_id=r["request_id"],
                occurred_at=datetime.fromisoformat(r["occurred_at"]),
                model_id=by_name[r["model"]],
                input_tokens=r["input_tokens"],
                output_tokens=r["output_tokens"],
                cached_tokens=r["cached_tokens"],
                ticket_id=bulk_tickets[r["ticket_index"]],
                consumer=r["consumer"],
                succeeded=r["succeeded"],
            )
            for r in records
        )
    bulk_rate = batches * 1000 / (time.perf_counter() - began)
    return api_rate, bulk_rate


PLAIN_COPY_SQL = """
COPY (
    WITH {plans}
    SELECT e.occurred_at, e.request_id, m.name, m.provider, e.input_tokens, e.output_tokens,
        e.cached_tokens, e.ticket_id, e.task_id, e.consumer, e.succeeded, {cost}
    FROM usage_usageevent e JOIN usage_llmmodel m ON m.id = e.model_id {join}
    WHERE e.tenant_id = %s AND e.occurred_at >= %s AND e.occurred_at < %s
    ORDER BY e.occurred_at, e.id
) TO STDOUT WITH (FORMAT csv)
"""


def plain_copy(tenant, start: datetime, end: datetime) -> int:
    """PostgreSQL's COPY of the priced rows, read and dropped: the bytes it wrote."""
    from django.db import connection

    from usage.pricing_sql import cost_sql, period_join, plan_periods_cte

    # The plan in force joined as the export joins it: the gap is the export's formatting.
    plans = "model AS (SELECT id FROM usage_llmmodel WHERE tenant_id = %s), " + (
        plan_periods_cte(models="model")
    )
    sql = PLAIN_COPY_SQL.format(plans=plans, cost=cost_sql("e"), join=period_join("e"))
    size = 0
    params = [tenant.id, tenant.id, start, end]
    with connection.cursor() as cursor, cursor.copy(sql, params) as copy:
        for data in copy:
            size += len(data)
    return size


def export_size(tenant, start: datetime, end: datetime) -> int:
    from usage.api.export import export_rows

    return sum(len(block) for block in export_rows(tenant=tenant, start=start, end=end))


def export_against_copy(tenant, now: datetime) -> tuple[float, float, int, int]:
    """Median seconds of the export and of the plain COPY of the month, and their sizes."""
    start, end = now - timedelta(days=31), now
    export_seconds, export_bytes = timed(lambda: export_size(tenant, start, end), runs=3)
    copy_seconds, copy_bytes = timed(lambda: plain_copy(tenant, start, end), runs=3)
    return export_seconds, copy_seconds, export_bytes, copy_bytes


def export_peak(tenant, now: datetime) -> tuple[int, int, float, int]:
    from usage.api.export import export_rows

    tracemalloc.start()
    began = time.perf_counter()
    lines = size = 0
    for block in export_rows(tenant=tenant, start=now - timedelta(days=31), end=now):
        lines += block.count(b"\n")  # the bench's cells hold no newline
        size += len(block)
    seconds = time.perf_counter() - began
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return lines - 1, size, seconds, peak


# --- the history page -----------------------------------------------------------------


def history_queries(tenant, now: datetime) -> int:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from usage.selectors.history import usage_history

    with CaptureQueriesContext(connection) as captured:
        usage_history(tenant=tenant, now=now)
    return len(captured.captured_queries)


def history_page_seconds(tenant, now: datetime) -> tuple[float, int]:
    """Median seconds of GET /usage/history/ (Django's test client, an administrator
    logged in) and its query count."""
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from tests.factories import UserFactory

    client = Client()
    client.force_login(UserFactory(username="bench-history", is_staff=True, tenant=tenant))

    def get() -> int:
        response = client.get("/usage/history/", HTTP_HOST="localhost")
        assert response.status_code == 200, response.status_code
        return len(response.content)

    seconds, _ = timed(get)
    with CaptureQueriesContext(connection) as captured:
        get()
    return seconds, len(captured.captured_queries)


def history_part(events: int) -> None:
    """Part 5: the history page over `events` events in 12 months, against one month."""
    from django.conf import settings
    from django.utils import timezone

    from usage.models import ModelRollup
    from usage.selectors.history import cycle_months, usage_history

    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "localhost"]
    now = timezone.now().replace(microsecond=0)
    year, year_models, year_tickets = make_tenant("year", now, with_tickets=True)
    # From the first local day of the oldest of the 12 cycles to yesterday: every event in one.
    start = cycle_months(year.zone, now, 12)[0].starts_at
    days = (now - start).days
    print(
        f"\n5. the history page: {events:,} events over the {days} days ending "
        f"{now:%Y-%m-%d %H:%M} UTC (12 cycles in {ZONE})"
    )
    # The bench's own database: no commit waits for its WAL flush (the load is minutes).
    execute("SET synchronous_commit = off")
    began = time.perf_counter()
    load_events(year, year_models, year_tickets, events, start, days=days)
    print(f"   {events:,} events inserted in {time.perf_counter() - began:.0f} s")
    began = time.perf_counter()
    model_rollups_rebuild(year)
    print(f"   model rollups built (SQL) in {time.perf_counter() - began:.0f} s")
    month, month_models, month_tickets = make_tenant("month", now, with_tickets=True)
    load_events(
        month, month_models, month_tickets, max(events // 120, 1000), now - timedelta(days=30)
    )
    model_rollups_rebuild(month)
    for table in ("usage_usageevent", "usage_modelrollup", "usage_pricingplan", "usage_llmmodel"):
        execute(f"VACUUM ANALYZE {table}")
    rollup_rows = ModelRollup.objects.filter(tenant=year).count()
    seconds, history = timed(lambda: usage_history(tenant=year, now=timezone.now()))
    assert sum(row.cycle.requests.total for row in history.rows) == events
    usage_history(tenant=month, now=now)  # warmed as the year's was (models and plans kept)
    queries_year, queries_month = history_queries(year, now), history_queries(month, now)
    page_seconds, page_queries = history_page_seconds(year, now)
    print(
        f"   model rollup rows of the tenant: {rollup_rows:,}; every event in one of the 12 cycles"
    )
    print(f"   usage_history, 12 cycles: {seconds * 1000:.1f} ms (median of {RUNS} calls or more)")
    print(f"   queries: {queries_year} for 12 months of data, {queries_month} for 1 month")
    print(f"   GET /usage/history/: {page_seconds * 1000:.1f} ms, {page_queries} queries")
    milliseconds = seconds * 1000
    ok = milliseconds <= 100 and queries_year == queries_month
    print(f"aim: history_12_months_ms {milliseconds:.1f} <= 100 {'ok' if ok else 'short'}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--batches", type=int, default=20, help="API ingestion batches of 1,000")
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    parser.add_argument(
        "--export-only", action="store_true", help="load the main tenant; run part 4 only"
    )
    parser.add_argument(
        "--history-only", action="store_true", help="run part 5 only (the history page)"
    )
    parser.add_argument(
        "--ingestion-only", action="store_true", help="run part 3 only (loads nothing else)"
    )
    parser.add_argument("--history-events", type=int, default=12_000_000)
    args = parser.parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.contrib.auth import get_user_model
    from django.db.models import Count
    from django.utils import timezone

    from usage.models import ConsumerRollup, HostRollup, ModelRollup, TicketRollup

    # This database is the benchmark's own: start from no tenants at all.
    execute("TRUNCATE licensing_tenant CASCADE")
    get_user_model().objects.filter(username__in=["bench-admin", "bench-history"]).delete()

    if args.history_only:
        history_part(args.history_events)
        return
    if args.ingestion_only:
        print(ingestion_part(timezone.now().replace(microsecond=0), args.batches))
        return
    now = timezone.now().replace(microsecond=0)
    data_start = (now - timedelta(days=30)).replace(second=0)
    n, small = args.events, args.events // 10
    print(f"Loading {n:,} events for the main tenant, {small:,} for a small one and ")
    print(f"{n - small:,} for 3 other tenants, over 30 days ending {now:%Y-%m-%d %H:%M} UTC ...")
    main_tenant, main_models, main_tickets = make_tenant("main", now, with_tickets=True)
    small_tenant, small_models, small_tickets = make_tenant("small", now, with_tickets=True)
    seconds = load(main_tenant, main_models, main_tickets, n, data_start)
    print(f"  main tenant loaded and rolled up in {seconds:.1f} s")
    if args.export_only:
        for table in ("usage_usageevent", "usage_pricingplan", "usage_llmmodel"):
            execute(f"VACUUM ANALYZE {table}")
        export_part(main_tenant, now)
        return
    load(small_tenant, small_models, small_tickets, small, data_start)
    for i in range(3):
        other, other_models, other_tickets = make_tenant(f"other-{i}", now, with_tickets=True)
        load(other, other_models, other_tickets, (n - small) // 3, data_start)
    # As autovacuum would after a load: statistics and the visibility map up to date.
    for table in (
        "usage_usageevent",
        "usage_modelrollup",
        "usage_consumerrollup",
        "usage_ticketrollup",
        "usage_hostrollup",
        "usage_pricingplan",  # without statistics the raw cost join scans every event
        "usage_llmmodel",
        "tasks_ticket",
    ):
        execute(f"VACUUM ANALYZE {table}")
    # The load's writes flushed now, not by the checkpointer during the timings (the first
    # figure, 24 h, was ~15 % slower in a run than the same reads a minute later), and then
    # written back by the kernel (os.sync): its writeback of the checkpoint's dirty pages
    # slowed the first figure still (24 h tokens 11.4 ms against ~9.5 ms a minute later; the
    # same 10.4 vs 8.9 ms right after writing 800 MB to a file, and after a sync).
    execute("CHECKPOINT")
    os.sync()
    print("  main tenant rollup rows by grain (seconds):")
    for rollup in (ModelRollup, ConsumerRollup, TicketRollup, HostRollup):
        counts = (
            rollup.objects.filter(tenant=main_tenant)
            .values_list("grain_seconds")
            .annotate(rows=Count("id"))
            .order_by("grain_seconds")
        )
        print(f"    {rollup.__name__:<15}" + ", ".join(f"{g}: {c:,}" for g, c in counts))

    print(
        "\n1. activity (rollups + raw edges) vs GROUP BY over raw events, called in turn:"
        " medians of 5 calls or more (2 s), after up to 10 warm-up calls in 1 s"
    )
    print(
        f"   {'range':<6} {'mode':<7} {'buckets':>7} {'activity':>10} {'raw':>10} {'ratio':>7}"
        f" {'first raw':>10} {'ratio':>7}"
    )
    ranges = [
        ("24 h", timedelta(hours=24), "5m"),
        ("7 d", timedelta(days=7), "1h"),
        ("30 d", timedelta(days=30), "6h"),
    ]
    aims = []
    for label, length, bucket in ranges:
        for mode in ("tokens", "cost"):
            fast, slow, first, count = compare(main_tenant, now, length, bucket, mode, first=True)
            print(
                f"   {label:<6} {mode:<7} {count:>7} {fast * 1000:>8.1f}ms {slow * 1000:>8.1f}ms "
                f"{slow / fast:>6.1f}x {first * 1000:>8.1f}ms {first / fast:>6.1f}x"
            )
            ratio = slow / fast
            name = f"activity_{label.replace(' ', '')}_{mode}_over_raw"
            aims.append(f"aim: {name} {ratio:.1f} >= 10 {'ok' if ratio >= 10 else 'short'}")

    print(f"\n2. growth, 30 d: {small:,} -> {n:,} events")
    for mode in ("tokens", "cost"):
        fast_small, slow_small, *_ = compare(small_tenant, now, timedelta(days=30), "6h", mode)
        fast_big, slow_big, *_ = compare(main_tenant, now, timedelta(days=30), "6h", mode)
        print(
            f"   {mode:<7} activity {fast_small * 1000:.1f} -> {fast_big * 1000:.1f} ms "
            f"(x{fast_big / fast_small:.1f});  raw {slow_small * 1000:.1f} -> "
            f"{slow_big * 1000:.1f} ms (x{slow_big / slow_small:.1f})"
        )
        growth = fast_big / fast_small
        aims.append(
            f"aim: growth_30d_{mode}_at_10x_events {growth:.1f} <= {GROWTH_AIM} "
            f"{'ok' if growth <= GROWTH_AIM else 'short'}"
        )

    aims.append(ingestion_part(now, args.batches))
    export_part(main_tenant, now, aims)


def ingestion_part(now: datetime, batches: int) -> str:
    """Part 3; returns its aim line."""
    api_rate, bulk_rate = ingestion(now, batches)
    print(f"\n3. ingestion, {batches} batches of 1,000")
    print(
        f"   POST /api/v1/usage/events/ (checks, idempotency, rollups): {api_rate:>7,.0f} events/s"
    )
    print(
        f"   bare bulk_create of the same events:                       {bulk_rate:>7,.0f} events/s"
    )
    ratio = api_rate / bulk_rate
    print(f"   ratio: {ratio:.2f}")
    return f"aim: ingestion_over_bare_insert {ratio:.2f} >= 0.5 {'ok' if ratio >= 0.5 else 'short'}"


def export_part(tenant, now: datetime, aims: list[str] | None = None) -> None:
    """Part 4, then every aim line (those of parts 1 and 3 in `aims`, then the export's)."""
    export_seconds, copy_seconds, export_bytes, copy_bytes = export_against_copy(tenant, now)
    lines, size, seconds, peak = export_peak(tenant, now)
    print("\n4. CSV export of the main tenant's month against a plain COPY, median of 3")
    print(
        f"   export (COPY of the CSV cells, streamed): {export_seconds:.2f} s, "
        f"{export_bytes / 1e6:.0f} MB"
    )
    print(
        f"   plain COPY of the same priced rows:       {copy_seconds:.2f} s, "
        f"{copy_bytes / 1e6:.0f} MB"
    )
    print(
        f"   {lines:,} events, {size / 1e6:.0f} MB of CSV in {seconds:.1f} s under tracemalloc; "
        f"peak Python memory {peak / 1e6:.1f} MB"
    )
    ratio = export_seconds / copy_seconds
    print()
    for line in aims or []:
        print(line)
    print(f"aim: export_over_copy {ratio:.2f} <= 2 {'ok' if ratio <= 2 else 'short'}")


if __name__ == "__main__":
    main()
