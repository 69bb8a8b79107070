"""`seed_demo`: a demo tenant whose every page has something to show, in one place.

Everything goes through the public services, as a user or agent would: the tenant and
its logins, a demo license, hosts, gateways and tasks (the guarded services), tickets
run through the engine, then LLM models, pricing plans and 30 days of usage. Stays well
under the demo license (hosts 12, gateways 5, tasks 500): 6 hosts, two gateways, 18
tasks plus the tickets' own.

Usage events go through `usage_events_record` in batches of 1,000, the same service as
the API, so the rollups stay exact. About 24,000 events: a daily rhythm in the tenant's
time zone (busy working hours, quiet nights and weekends), cached input, 3 % failures,
several agents and people, usage on the tenant's tickets and off them, one model with
no plan.
"""

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal

from django.conf import settings
from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from licensing.errors import CapReached
from licensing.jwt import encode_license
from licensing.keys import dev_key_pair, dev_keys_trusted, load_private_key
from licensing.models import License, Tenant
from licensing.services import license_apply, tenant_create, user_add
from tasks.engine import run_pass
from tasks.models import Gateway, Schedule, Task, Ticket
from tasks.services import gateway_create, host_register, task_create, ticket_receive
from usage.models import GRAIN_SECONDS
from usage.services import MAX_BATCH, llm_model_create, pricing_plan_create, usage_events_record

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


def seed_demo(*, progress: Progress | None = None) -> Tenant | None:
    """Create the demo tenant and its data; None (nothing added) when it exists already."""
    if Tenant.objects.filter(slug=DEMO_SLUG).exists():
        return None
    with transaction.atomic():
        tenant = seed_tenant()
    seed_license(tenant)  # its own durable transaction, before any data
    seed_assets(tenant)  # hosts, a webhook gateway, tasks (guarded services)
    seed_tickets(tenant)  # a gateway, tickets in each status, a schedule (durable services)
    seed_usage(tenant, progress=progress)  # models, plans, 30 days of use
    return tenant


# --- the tenant, its logins and a demo license ------------------------------------

DEMO_CAPS: dict[str, int | None] = {"hosts": 12, "gateways": 5, "tasks": 500}
DEMO_LICENSE_DAYS = 365

DEMO_SLUG = "demo"


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str


DEMO_LOGINS = (
    DemoLogin("admin", "tally-admin", "administrator"),
    DemoLogin("member", "tally-member", "member"),
)


def seed_tenant() -> Tenant:
    tenant = tenant_create(name="Acme Robotics", slug=DEMO_SLUG, timezone="Europe/Paris")
    for login in DEMO_LOGINS:
        user_add(
            tenant=tenant,
            username=login.username,
            admin=login.role == "administrator",
            password=login.password,
        )
    return tenant


def seed_license(tenant: Tenant) -> License | None:
    """Issue a demo contract license with the development key and apply it.

    Only where the development key is trusted (DEBUG=True, no LICENSE_PUBLIC_KEYS);
    elsewhere nothing is applied and the tenant stays on the free tier.
    """
    if not dev_keys_trusted():
        logger.warning(
            "No demo license: the development key is trusted only with DEBUG=True and no "
            "LICENSE_PUBLIC_KEYS; the demo tenant stays on the free tier."
        )
        return None
    private_key = load_private_key(dev_key_pair()[0])
    token = encode_license(
        private_key=private_key,
        subject=str(tenant.license_subject),
        kind="contract",
        caps=DEMO_CAPS,
        issuer=settings.LICENSE_ISSUER,
        days=DEMO_LICENSE_DAYS,
        customer=tenant.name,
    )
    return license_apply(tenant=tenant, token=token, acting_user=None)


# --- hosts, a webhook gateway and tasks, through the guarded services --------------

DEMO_HOSTS = ("web-1", "web-2", "web-3", "db-1", "db-2", "build-1")
DEMO_TASKS = (
    ("Restart the ingestion agent", "web-1", Task.Source.UI),
    ("Rotate the application logs", "web-2", Task.Source.UI),
    ("Vacuum the analytics database", "db-1", Task.Source.API),
    ("Check replication lag", "db-2", Task.Source.API),
    ("Clear the build cache", "build-1", Task.Source.UI),
    ("Patch OpenSSL on the web tier", "web-3", Task.Source.ADMIN),
)


def seed_assets(tenant: Tenant) -> None:
    """Register the demo hosts and a webhook gateway, and create some tasks."""
    hosts = {name: host_register(tenant=tenant, name=name) for name in DEMO_HOSTS}
    gateway, secret = gateway_create(tenant=tenant, name="Alerts webhook", kind="webhook")
    logger.info("Demo gateway %s (id %s) ingest secret: %s", gateway.name, gateway.pk, secret)
    member = get_user_model().objects.filter(membership__tenant=tenant, is_staff=False).first()
    for round_number in range(3):
        for title, host_name, source in DEMO_TASKS:
            task_create(
                tenant=tenant,
                title=title if round_number == 0 else f"{title} (again)",
                description="Created by seed_demo.",
                host=hosts[host_name],
                source=source,
                creator=member if source != Task.Source.API else None,
            )


# --- tickets through a Jira gateway and the engine ---------------------------------


def seed_tickets(tenant: Tenant) -> tuple[Gateway, str]:
    """Deliver demo tickets and run the engine for the tenant; returns the gateway and secret."""
    gateway, secret = gateway_create(tenant=tenant, name="Jira (IT operations)", kind="jira")
    deliveries = [
        ("OPS-101", "Restart the stuck ingestion agent on web-3", None),
        ("OPS-102", "Rotate the TLS certificates on the edge hosts", None),
        ("OPS-103", "Check disk usage on the database hosts", {"every_minutes": 15}),
        ("OPS-104", "Reindex the search cluster", None),
    ]
    tickets = {
        external_id: ticket_receive(
            gateway=gateway, external_id=external_id, subject=subject, recurrence=recurrence
        )[0]
        for external_id, subject, recurrence in deliveries
    }
    _record_old_refusal(tickets["OPS-104"])
    run_pass(tenant=tenant)
    # As if the schedule had been registered one interval ago: the next pass fires its first tick.
    Schedule.objects.filter(ticket=tickets["OPS-103"]).update(next_run_at=timezone.now())
    run_pass(tenant=tenant)
    ticket_receive(
        gateway=gateway,
        external_id="OPS-105",
        subject="Upgrade the agent on the build hosts",
        body="Delivered after the engine's last pass: it waits for `run_engine`.",
    )
    logger.info(
        "Demo gateway %s: POST /api/v1/gateways/%s/tickets/ with Authorization: Bearer %s",
        gateway.name,
        gateway.pk,
        secret,
    )
    return gateway, secret


def _record_old_refusal(ticket: Ticket) -> None:
    """A ticket refused last month, when the tenant was on the 50-task free tier."""
    refusal = CapReached("tasks", used=50, cap=50)
    Ticket.objects.filter(pk=ticket.pk).update(
        status=Ticket.Status.REJECTED,
        refusal_code=refusal.code,
        refusal_detail=refusal.detail,
        refused_at=timezone.now() - timedelta(days=30),
    )


# --- LLM models, pricing plans and 30 days of usage --------------------------------

DAYS = 30
EVENTS_PER_WORKING_HOUR = 80
# (name, provider, price before the change, price after the change or None, share of use)
MODELS = [
    ("gpt-4o", "OpenAI", ("2.50", "10.00", "1.25"), ("2.00", "8.00", "1.00"), 0.35),
    ("gpt-4o-mini", "OpenAI", ("0.15", "0.60", "0.075"), None, 0.30),
    ("claude-sonnet", "Anthropic", ("3.00", "15.00", "0.30"), ("3.00", "12.00", "0.30"), 0.25),
    ("llama-local", "self-hosted", None, None, 0.10),  # no pricing plan: shown apart
]
CONSUMERS = ["agent-triage", "agent-disk-cleaner", "agent-patcher", "alice", "bob"]
# Relative activity per local hour (0-23): people and agents work in office hours.
HOURLY = [1, 1, 1, 1, 1, 2, 3, 6, 10, 12, 12, 11, 8, 10, 12, 12, 11, 9, 6, 4, 3, 2, 1, 1]


def seed_usage(tenant: Tenant, *, progress: Callable[[int, int], None] | None = None) -> int:
    """Create the demo models, plans and usage; returns the number of events stored."""
    rng = random.Random(2026)
    now = timezone.now().replace(microsecond=0)
    start = now - timedelta(days=DAYS)
    # A price change in the middle of the range, on the pricing grain (a quarter hour).
    change = now - timedelta(days=DAYS // 2)
    change -= timedelta(seconds=change.timestamp() % GRAIN_SECONDS)
    first_plan = start - timedelta(days=30)
    first_plan -= timedelta(seconds=first_plan.timestamp() % GRAIN_SECONDS)
    for name, provider, before, after, _ in MODELS:
        model = llm_model_create(tenant=tenant, name=name, provider=provider)
        # Newest plan first: a past plan is accepted only as a model's first plan or
        # before it (it then prices only usage that had no price), the public rule of
        # pricing_plan_create, so the demo needs no way around it.
        for prices, effective_at in ((after, change), (before, first_plan)):
            if prices is not None:
                pricing_plan_create(
                    model=model,
                    input_per_million=Decimal(prices[0]),
                    output_per_million=Decimal(prices[1]),
                    cached_per_million=Decimal(prices[2]),
                    effective_at=effective_at,
                )

    tickets = list(Ticket.objects.filter(tenant=tenant).values_list("id", flat=True))
    events = list(_events(rng, tenant, start, now, tickets))
    total = len(events)
    for offset in range(0, total, MAX_BATCH):
        usage_events_record(tenant=tenant, events=events[offset : offset + MAX_BATCH])
        if progress:
            progress(min(offset + MAX_BATCH, total), total)
    return total


def _events(rng: random.Random, tenant: Tenant, start, end, tickets: list[int]):
    zone = tenant.zone
    names = [m[0] for m in MODELS]
    weights = [m[4] for m in MODELS]
    hour = start.replace(minute=0, second=0)
    number = 0
    while hour < end:
        local = hour.astimezone(zone)
        next_hour = hour + timedelta(hours=1)
        rate = EVENTS_PER_WORKING_HOUR * HOURLY[local.hour] / 12
        if local.weekday() >= 5:
            rate /= 4
        for _ in range(_poisson(rng, rate)):
            at = hour + timedelta(seconds=rng.randrange(3600))
            if not start <= at < end:
                continue
            model = rng.choices(names, weights)[0]
            prompt = int(rng.lognormvariate(7.5, 0.8))
            cached = int(prompt * rng.choice([0, 0, 0.3, 0.6, 0.8]))
            number += 1
            yield {
                "request_id": f"demo-{number:06d}",
                "occurred_at": at,
                "model": model,
                "input_tokens": min(prompt - cached, 2**31 - 1),
                "cached_tokens": cached,
                "output_tokens": int(rng.lognormvariate(5.5, 0.9)),
                "ticket": rng.choice(tickets) if tickets and rng.random() < 0.65 else None,
                "consumer": rng.choice(CONSUMERS),
                "succeeded": rng.random() > 0.03,
            }
        hour = next_hour


def _poisson(rng: random.Random, mean: float) -> int:
    """A Poisson draw (Knuth); means here are small."""
    limit, count, product = 2.718281828459045**-mean, 0, rng.random()
    while product > limit:
        count += 1
        product *= rng.random()
    return count


def progress_bar(stream, label: str = "LLM usage", width: int = 30) -> Callable[[int, int], None]:
    """A one-line text progress bar for `seed_usage(progress=...)` on a command's stdout."""

    def show(done: int, total: int) -> None:
        filled = width * done // total
        bar = "#" * filled + "." * (width - filled)
        stream.write(f"\r  {label} [{bar}] {done:,}/{total:,} events", ending="")
        if done >= total:
            stream.write("")
        stream.flush()

    return show
