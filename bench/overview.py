"""Benchmark: the operators' Overview (SPEC §9) over many tenants and events.

    .venv/bin/python bench/overview.py [--tenants 1000] [--events 1000000] [--database-url URL]

Runs against PostgreSQL in its own database (default `tally_bench_overview`, created and
migrated if missing; earlier bench data is deleted). Every row is written straight into
the tables with generate_series (it measures the page, not ingestion): tenants in a mix
of zones, active licenses (licensed, expiring, expired; some on the free tier), hosts,
gateways, task counters, one budget period per tenant for its current month, alerts over
the last fortnight, endpoints (some failing or disabled), one LLM model per tenant and
`--events` usage events spread evenly over the tenants and the last 30 days, with the
model rollups at every grain built from them by GROUP BY.

It counts the page's queries with 10 tenants loaded, then loads the rest and counts them
again, and times the page: the median of several GETs through Django's test client as an
operator. Not run by the test suite; always exits 0.
"""

import argparse
import statistics
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bench.task_cap import ensure_database, setup_django  # noqa: E402  (same database setup)

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/tally_bench_overview"
AIM_MS = 300
RUNS = 7
ZONES = ["UTC", "Europe/Paris", "America/New_York", "Asia/Tokyo", "Australia/Sydney"]

SEED_SQL = [
    # tenants numbered [first, first + count)
    """INSERT INTO licensing_tenant (name, slug, license_subject, timezone, created_at)
    SELECT 'Bench tenant ' || n, 'bench-' || n, gen_random_uuid(),
        (%(zones)s::text[])[1 + n %% array_length(%(zones)s::text[], 1)], now()
    FROM generate_series(%(first)s, %(first)s + %(count)s - 1) AS n""",
    # a tenant in ten stays on the free tier; the others hold a contract or a trial that
    # ends between 20 days ago and a year from now (some expired, some within 30 days)
    """INSERT INTO licensing_license (tenant_id, jti, kind, customer, hosts_cap, gateways_cap,
        tasks_cap, issued_at, starts_at, expires_at, token, claims, status, applied_by_name,
        applied_at)
    SELECT t.id, 'bench-' || t.id, CASE WHEN t.id %% 7 = 0 THEN 'trial' ELSE 'contract' END,
        t.name, 20, 10, 5000, now() - interval '90 days', now() - interval '90 days',
        now() + (t.id %% 385 - 20) * interval '1 day', 'bench', '{}'::jsonb, 'active',
        'bench', now() - interval '90 days'
    FROM licensing_tenant t WHERE t.id > %(after)s AND t.id %% 10 <> 0""",
    """INSERT INTO tasks_host (tenant_id, name, created_at)
    SELECT t.id, 'host-' || h, now() FROM licensing_tenant t, generate_series(1, 1 + t.id %% 12) h
    WHERE t.id > %(after)s""",
    """INSERT INTO tasks_gateway (tenant_id, name, kind, secret_hash, created_at, revoked_at)
    SELECT t.id, 'gw-' || g, 'jira', 'x', now(), CASE WHEN g = 1 THEN now() END
    FROM licensing_tenant t, generate_series(1, 1 + t.id %% 4) g WHERE t.id > %(after)s""",
    """INSERT INTO tasks_taskcounter (tenant_id, used, tasks_cap, license_jti)
    SELECT t.id, (t.id * 37) %% 5200, NULL, '' FROM licensing_tenant t WHERE t.id > %(after)s""",
    """INSERT INTO usage_budget (tenant_id, limit_usd, kind, updated_at)
    SELECT t.id, 100 + t.id %% 900, 'hard', now() FROM licensing_tenant t
    WHERE t.id > %(after)s AND t.id %% 3 <> 0""",
    """INSERT INTO usage_budgetperiod (tenant_id, month, ends_at, limit_usd, hard, spent_usd,
        spent_tokens, reserved_usd, reserved_tokens, latest_day_spent_usd)
    SELECT t.id, date_trunc('month', now() AT TIME ZONE t.timezone)::date,
        (date_trunc('month', now() AT TIME ZONE t.timezone) + interval '1 month')
            AT TIME ZONE t.timezone,
        b.limit_usd, true, (t.id * 13) %% 1000, 0, 0, 0, 0
    FROM licensing_tenant t LEFT JOIN usage_budget b ON b.tenant_id = t.id
    WHERE t.id > %(after)s""",
    """INSERT INTO usage_alert (tenant_id, type, dimension, threshold, scope, event_id,
        raised_at, payload, muted)
    SELECT t.id, 'quota.threshold_crossed', 'tasks', a, 'bench-' || t.id,
        'evt_bench_' || t.id || '_' || a, now() - (a / 10.0) * interval '1 day', '{}'::jsonb,
        false
    FROM licensing_tenant t, unnest(ARRAY[80, 95, 100]) a WHERE t.id > %(after)s""",
    """INSERT INTO usage_endpoint (tenant_id, kind, url, description, secret, created_at,
        failing_since, disabled_at)
    SELECT t.id, 'webhook', 'https://hooks.example.com/' || t.id || '/' || e, '', 'whsec_x',
        now(), CASE WHEN (t.id + e) %% 5 = 0 THEN now() - interval '1 day' END,
        CASE WHEN (t.id + e) %% 11 = 0 THEN now() END
    FROM licensing_tenant t, generate_series(1, 2) e WHERE t.id > %(after)s""",
    """INSERT INTO usage_llmmodel (tenant_id, name, provider, created_at)
    SELECT t.id, 'gpt-4o', 'OpenAI', now() FROM licensing_tenant t WHERE t.id > %(after)s""",
    """INSERT INTO usage_usageevent (tenant_id, request_id, occurred_at, model_id, input_tokens,
        output_tokens, cached_tokens, consumer, succeeded, received_at)
    SELECT m.tenant_id, 'r' || g, now() - random() * interval '30 days', m.id,
        (random() * 3000)::int, (random() * 800)::int, 0, 'agent', random() > 0.04, now()
    FROM usage_llmmodel m, generate_series(1, %(per_tenant)s) g WHERE m.tenant_id > %(after)s""",
]
ROLLUP_SQL = """
INSERT INTO usage_modelrollup (tenant_id, grain_seconds, grain_start, model_id, on_ticket,
    input_tokens, output_tokens, cached_tokens, succeeded_requests, failed_requests)
SELECT tenant_id, %(grain)s, floor(EXTRACT(EPOCH FROM occurred_at) / %(grain)s)::bigint * %(grain)s,
    model_id, ticket_id IS NOT NULL, SUM(input_tokens), SUM(output_tokens), SUM(cached_tokens),
    COUNT(*) FILTER (WHERE succeeded), COUNT(*) FILTER (WHERE NOT succeeded)
FROM usage_usageevent WHERE tenant_id > %(after)s
GROUP BY 1, 2, 3, 4, 5
"""


def execute(sql: str, params=None) -> None:
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(sql, params)


def clear() -> None:
    for table in [
        "usage_modelrollup", "usage_usageevent", "usage_llmmodel", "usage_endpoint",
        "usage_alert", "usage_budgetperiod", "usage_budget", "tasks_taskcounter",
        "tasks_gateway", "tasks_host", "licensing_license", "licensing_membership",
        "licensing_tenant",
    ]:  # fmt: skip
        execute(f"TRUNCATE {table} CASCADE")


def seed(first: int, count: int, per_tenant: int) -> float:
    from django.db import connection

    from usage.models import MODEL_GRAINS

    began = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("SELECT COALESCE(MAX(id), 0) FROM licensing_tenant")
        after = cursor.fetchone()[0]
    params = {"zones": ZONES, "first": first, "count": count, "after": after,
              "per_tenant": per_tenant}  # fmt: skip
    for sql in SEED_SQL:
        execute(sql, params)
    for grain in MODEL_GRAINS:
        execute(ROLLUP_SQL, {"grain": grain, "after": after})
    execute("ANALYZE")
    return time.perf_counter() - began


def operator_client():
    from django.contrib.auth import get_user_model
    from django.test import Client

    user, _ = get_user_model().objects.get_or_create(
        username="bench-operator", defaults={"is_staff": True, "is_superuser": True}
    )
    client = Client()
    client.force_login(user)
    return client


def page_queries(client) -> tuple[int, int]:
    """The page's queries and its tenants (asked once first, to warm caches)."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    client.get("/admin/overview/")
    with CaptureQueriesContext(connection) as captured:
        response = client.get("/admin/overview/")
    assert response.status_code == 200, response.status_code
    return len(captured.captured_queries), response.context["tenant_count"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--tenants", type=int, default=1000)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--database-url", default=DEFAULT_DATABASE_URL)
    args = parser.parse_args()
    ensure_database(args.database_url)
    setup_django(args.database_url)
    from django.test.utils import setup_test_environment

    setup_test_environment()  # the test client's hosts, and the response's context
    per_tenant = max(args.events // args.tenants, 1)
    clear()
    client = operator_client()

    small = min(10, args.tenants)
    seconds = seed(0, small, per_tenant)
    queries_small, rows_small = page_queries(client)
    print(f"{rows_small} tenants, {rows_small * per_tenant:,} events loaded in {seconds:.1f} s: "
          f"{queries_small} queries")  # fmt: skip

    seconds = seed(small, args.tenants - small, per_tenant)
    queries_large, rows_large = page_queries(client)
    print(f"{rows_large} tenants, {rows_large * per_tenant:,} events loaded in {seconds:.1f} s: "
          f"{queries_large} queries")  # fmt: skip

    timings = []
    for _ in range(RUNS):
        began = time.perf_counter()
        response = client.get("/admin/overview/")
        timings.append((time.perf_counter() - began) * 1000)
        assert response.status_code == 200
    csv_began = time.perf_counter()
    client.get("/admin/overview/export.csv")
    csv_ms = (time.perf_counter() - csv_began) * 1000
    median = statistics.median(timings)
    print(f"page: median {median:.1f} ms of {RUNS} (min {min(timings):.1f}, "
          f"max {max(timings):.1f}); CSV {csv_ms:.1f} ms")  # fmt: skip

    ratio = queries_large / queries_small
    print(f"aim: overview_ms {median:.0f} <= {AIM_MS} {'ok' if median <= AIM_MS else 'short'}")
    print(
        f"aim: overview_queries_1000_over_10_tenants {ratio:g} == 1 "
        f"{'ok' if ratio == 1 else 'short'}"
    )


if __name__ == "__main__":
    try:
        main()
    except Exception as error:  # the aim lines are printed even when a run fails
        print(f"bench failed: {error!r}")
        print("aim: overview_ms nan <= 300 short")
        print("aim: overview_queries_1000_over_10_tenants nan == 1 short")
    sys.exit(0)
