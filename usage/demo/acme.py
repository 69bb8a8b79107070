"""Acme Robotics, the demo's main tenant: six months of a contract, told day by day.

- The contract began CONTRACT_DAYS_AGO days ago (a year long) with a 150-task cap. Work
  grows month by month; the 80, 95 and 100 % alerts fire on the way; at the cap, tasks
  and a Jira ticket are refused (`task_cap_reached`, "150 of 150": the first license, in
  Settings > License's history); three days later the vendor's upgrade (1,200 tasks, same
  end date) is applied and the refused tickets are retried, all but one that was no
  longer needed: it is still there, rejected, with its reason and a Retry button.
- Each local day opens with the worker's sweep (`sweep_alerts(now=...)`), which takes the
  day's task count snapshot from the real counter: the snapshots are the history the
  tasks projection reads, so the Plan card projects the run-out from the last week's rate
  (plus the schedule registered today), before the license ends; the banner says so.
- Tickets come in through the Jira gateway and the engine (`run_pass`) turns them into
  tasks; a recurring ticket registered today ticks every six hours; one ticket arrives
  after the last pass, for the engine of `bin/demo` to convert.
- Alerts go to a local receiver (delivered, each attempt logged) and, from this month, to
  a PagerDuty bridge added with the wrong port (failing, retried on the code's schedule).
- LLM usage over the whole contract, and a hard budget 91 % used this month (`llm`).
"""

import logging
import random
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from django.contrib.auth.models import User
from django.utils import timezone

from licensing.errors import CapReached, LicenseExpired
from licensing.models import License, Tenant
from licensing.services import tenant_create, user_add
from tasks.engine import run_pass
from tasks.models import Gateway, Host, Schedule, Task, Ticket
from tasks.services import gateway_create, host_register, task_create, ticket_receive, ticket_retry
from usage.demo import alerts, history, llm
from usage.demo.history import Story
from usage.demo.licenses import demo_license_apply
from usage.notifications.models import Alert, AlertType
from usage.notifications.sweep import projection_alert_raise, sweep_alerts
from usage.projections import local_midnight, month_of
from usage.task_counts import task_count_snapshot_take

logger = logging.getLogger(__name__)

DEMO_SLUG = "demo"
DEMO_NAME = "Acme Robotics"
DEMO_ZONE = "Europe/Paris"
CONTRACT_DAYS_AGO = 190
CONTRACT_DAYS = 365
FIRST_CAPS: dict[str, int | None] = {"hosts": 12, "gateways": 5, "tasks": 150}
DEMO_CAPS: dict[str, int | None] = {"hosts": 12, "gateways": 5, "tasks": 1200}  # in force now
UPGRADE_AFTER_DAYS = 3  # the vendor's turnaround after the first refusal
SCHEDULE_EVERY_MINUTES = 360
TICKET_SHARE = 0.2  # of the tasks, those that come as Jira tickets
# Tasks per weekday: from START a day at the contract start to about START + GROWTH now,
# growing faster lately (a power of the time elapsed); weekends see a quarter of that.
TASKS_START, TASKS_GROWTH, TASKS_CURVE = 0.6, 7.0, 1.3
USAGE_VOLUME = llm.Volume(start=1.0, end=6.0)
FULL_SWEEP = timedelta(days=31)  # the days the whole sweep runs (see `_sweep`)

DEMO_HOSTS = ("web-1", "web-2", "web-3", "db-1", "db-2", "build-1")
TASK_TITLES = (
    "Restart the ingestion agent",
    "Rotate the application logs",
    "Vacuum the analytics database",
    "Check replication lag",
    "Clear the build cache",
    "Patch OpenSSL on the web tier",
    "Renew the staging certificate",
    "Collect a heap dump of the API",
    "Prune old container images",
    "Run the nightly backup check",
    "Resize the log volume",
    "Reload the load balancer configuration",
)
TICKET_SUBJECTS = (
    "Disk almost full on {host}",
    "Agent not reporting on {host}",
    "High memory on {host}",
    "Failed deployment on {host}",
    "Slow queries reported on {host}",
    "Certificate expiring on {host}",
)
NO_LONGER_NEEDED = "Print spooler stuck on build-1"  # fixed by hand: never retried


@dataclass
class Acme:
    """What the story's later steps need from its earlier ones."""

    tenant: Tenant
    hosts: dict[str, Host]
    jira: Gateway
    jira_secret: str
    member: User | None
    administrator: User | None
    contract_start: datetime
    tickets: int = 0
    refused_tickets: list[Ticket] = field(default_factory=list)
    first_refusal: date | None = None
    upgraded: bool = False
    projected: set[tuple[int, str]] = field(default_factory=set)  # the sweep's `already`


def seed_acme(story: Story, *, logins, receiver_url: str | None, progress=None) -> Tenant:
    now = story.started
    tenant = tenant_create(name=DEMO_NAME, slug=DEMO_SLUG, timezone=DEMO_ZONE)
    users = {
        login.role: user_add(
            tenant=tenant,
            username=login.username,
            admin=login.role == "administrator",
            password=login.password,
        )
        for login in logins
        if login.role in ("administrator", "member")
    }
    today = now.astimezone(tenant.zone).date()
    first_day = today - timedelta(days=CONTRACT_DAYS_AGO)
    contract_start = story.at(first_day, 9)
    license = demo_license_apply(
        tenant,
        caps=FIRST_CAPS,
        issued_at=contract_start,
        days=CONTRACT_DAYS,
        acting_user=users.get("administrator"),
    )
    if license is not None:
        history.license_at(license, contract_start)
    if receiver_url is not None:
        alerts.receiver_endpoint_create(tenant, receiver_url, at=contract_start)
    acme = _assets(tenant, users, contract_start)
    rng = random.Random(16)
    # The months of tasks need the contract: without the development key (no license),
    # the tenant stays on the free tier with no history, far from its 50 tasks.
    for offset in range(CONTRACT_DAYS_AGO + 1 if license is not None else 0):
        _one_day(story, acme, rng, first_day + timedelta(days=offset))
    _today_at_the_engine(story, acme)
    month_start = month_of(now, tenant.zone).starts_at

    def dead_endpoint() -> None:
        if receiver_url is not None:
            alerts.dead_endpoint_create(tenant, at=month_start + timedelta(minutes=1))

    llm.models_create(
        tenant,
        first_plan_at=llm.on_the_grain(contract_start - timedelta(days=1)),
        change_at=llm.on_the_grain(now - timedelta(days=llm.PRICE_CHANGE_DAYS_AGO)),
    )
    llm.story_usage(
        tenant,
        start=contract_start,
        now=now,
        month_start=month_start,
        volume=USAGE_VOLUME,
        before_the_month=dead_endpoint,
        after_batch=lambda at: alerts.deliver_new_alerts(story, at=at),
        progress=progress,
    )
    logger.info(
        "Demo gateway %s: POST /api/v1/gateways/%s/tickets/ with Authorization: Bearer %s",
        acme.jira.name,
        acme.jira.pk,
        acme.jira_secret,
    )
    return tenant


def _assets(tenant: Tenant, users: dict, contract_start: datetime) -> Acme:
    hosts = {name: host_register(tenant=tenant, name=name) for name in DEMO_HOSTS}
    gateway_create(tenant=tenant, name="Alerts webhook", kind="webhook")
    jira, secret = gateway_create(tenant=tenant, name="Jira (IT operations)", kind="jira")
    history.assets_at(tenant, contract_start + timedelta(minutes=30))
    return Acme(
        tenant,
        hosts,
        jira,
        secret,
        users.get("member"),
        users.get("administrator"),
        contract_start,
    )


def tasks_on(day_number: int, days: int, weekday: int) -> float:
    """The expected tasks of a day of the contract (0 = its first day)."""
    rate = TASKS_START + TASKS_GROWTH * (day_number / days) ** TASKS_CURVE
    return rate / 4 if weekday >= 5 else rate


def _one_day(story: Story, acme: Acme, rng: random.Random, day: date) -> None:
    """A local day of the story: the sweep at midnight, then the day's tasks and tickets;
    the engine's pass over the day's tickets; the day's alerts delivered."""
    midnight = local_midnight(day, story.zone)
    sweep_at = midnight + timedelta(minutes=1)
    if sweep_at >= story.started:
        return
    _sweep(story, acme, sweep_at)
    alerts.deliver_new_alerts(story, at=sweep_at)
    number = (day - acme.contract_start.astimezone(story.zone).date()).days
    refused_days = (day - acme.first_refusal).days if acme.first_refusal else -1
    if not acme.upgraded and refused_days >= UPGRADE_AFTER_DAYS:
        _upgrade(story, acme, story.at(day, 8, 40))
    expected = tasks_on(number, CONTRACT_DAYS_AGO, day.weekday())
    times = sorted(
        story.at(day, 8) + timedelta(seconds=rng.randrange(11 * 3600))
        for _ in range(llm.poisson(rng, expected))
    )
    times = [at for at in times if at < story.started - timedelta(minutes=5)]
    tickets: list[tuple[Ticket, datetime]] = []
    created: list[tuple[Task, datetime]] = []
    for at in times:
        if rng.random() < TICKET_SHARE:
            tickets.append(_ticket(acme, rng, at))
            continue
        task = _task(acme, rng)
        if task is not None:
            created.append((task, at))
        elif not acme.refused_tickets and not tickets:
            # The first refusal: a Jira ticket meets the same one minutes later.
            acme.first_refusal = acme.first_refusal or day
            tickets.append(_ticket(acme, rng, at + timedelta(minutes=7), NO_LONGER_NEEDED))
    history.tasks_at(created)
    if tickets:
        run_pass(tenant=acme.tenant)  # the engine, which ran all day: one pass is the same
        for ticket, at in tickets:
            history.ticket_at(ticket, received=at, decided=at + timedelta(seconds=20))
            if ticket.status == Ticket.Status.REJECTED:
                acme.refused_tickets.append(ticket)
                acme.first_refusal = acme.first_refusal or day
    if times:
        # The alerts the day's tasks crossed (80, 95, 100 %), at its last task.
        alerts.deliver_new_alerts(story, at=times[-1] + timedelta(seconds=30))


def _sweep(story: Story, acme: Acme, at: datetime) -> None:
    """The worker's sweep on the first minute of a day: the whole sweep (`sweep_alerts`,
    every tenant: Initech's license-end warnings come from it) over the last FULL_SWEEP
    days. Before those, for speed, only what it does for Acme: the day's task count
    snapshot, and the tasks projection until its alert has fired for the license in force
    (the sweep's own functions, so the same rules)."""
    if story.started - at <= FULL_SWEEP:
        sweep_alerts(now=at)
        return
    task_count_snapshot_take(tenant=acme.tenant, now=at)
    scope = (
        License.objects.filter(tenant=acme.tenant, status=License.Status.ACTIVE)
        .values_list("jti", flat=True)
        .first()
        or ""
    )
    if (acme.tenant.pk, scope) not in acme.projected:
        projection_alert_raise(tenant=acme.tenant, now=at, already=acme.projected)
        if Alert.objects.filter(tenant=acme.tenant, type=AlertType.QUOTA_PROJECTED, scope=scope):
            acme.projected.add((acme.tenant.pk, scope))


def _task(acme: Acme, rng: random.Random) -> Task | None:
    """A task of the day through the guarded service; None when the cap refused it."""
    source = rng.choices([Task.Source.UI, Task.Source.API, Task.Source.ADMIN], [0.55, 0.4, 0.05])[0]
    host = rng.choice(list(acme.hosts.values()))
    creator = {Task.Source.UI: acme.member, Task.Source.ADMIN: acme.administrator}.get(source)
    try:
        task = task_create(
            tenant=acme.tenant,
            title=rng.choice(TASK_TITLES),
            description=f"On {host.name}.",
            host=host,
            source=source,
            creator=creator,
        )
    except (CapReached, LicenseExpired):
        return None  # refused, as the page said then
    return task


def _ticket(
    acme: Acme, rng: random.Random, at: datetime, subject: str = ""
) -> tuple[Ticket, datetime]:
    """A ticket delivered by Jira at `at` (the engine's pass decides it later that day)."""
    acme.tickets += 1
    subject = subject or rng.choice(TICKET_SUBJECTS).format(host=rng.choice(DEMO_HOSTS))
    ticket, _ = ticket_receive(
        gateway=acme.jira, external_id=f"OPS-{100 + acme.tickets}", subject=subject
    )
    return ticket, at


def _upgrade(story: Story, acme: Acme, at: datetime) -> None:
    """The vendor's upgrade: more tasks, the same end date; then the administrator retries
    the refused tickets, all but the one that was fixed by hand meanwhile."""
    contract_start = acme.contract_start
    issued_at = contract_start + timedelta(days=(at - contract_start).days)
    license = demo_license_apply(
        acme.tenant,
        caps=DEMO_CAPS,
        issued_at=issued_at,
        days=CONTRACT_DAYS - (issued_at - contract_start).days,
        acting_user=acme.administrator,
    )
    acme.upgraded = True
    if license is None:
        return
    history.license_at(license, issued_at)
    alerts.deliver_new_alerts(story, at=issued_at)
    retried_at = issued_at + timedelta(minutes=20)
    retried = acme.refused_tickets[1:]  # the first was fixed by hand meanwhile
    received = {ticket.pk: ticket.received_at for ticket in retried}
    for ticket in retried:
        ticket_retry(ticket=ticket)
    run_pass(tenant=acme.tenant)
    for ticket in retried:
        history.ticket_at(ticket, received=received[ticket.pk], decided=retried_at)


def _today_at_the_engine(story: Story, acme: Acme) -> None:
    """Today: a ticket asking for recurring work, converted and its schedule's first tick
    fired; then one delivered after the engine's last pass (bin/demo's engine converts it)."""
    now = timezone.now()
    midnight = local_midnight(now.astimezone(story.zone).date(), story.zone)
    received = now - min(timedelta(hours=3), (now - midnight) / 2)
    ticket, _ = ticket_receive(
        gateway=acme.jira,
        external_id=f"OPS-{100 + acme.tickets + 1}",
        subject="Check disk usage on the database hosts",
        recurrence={"every_minutes": SCHEDULE_EVERY_MINUTES},
    )
    run_pass(tenant=acme.tenant)
    history.ticket_at(ticket, received=received, decided=received + timedelta(seconds=20))
    schedule = Schedule.objects.filter(ticket=ticket).first()
    if schedule is not None:
        history.schedule_at(schedule, received + timedelta(seconds=20))
        # As if registered one interval ago: the next pass fires its first tick now.
        Schedule.objects.filter(pk=schedule.pk).update(next_run_at=timezone.now())
        run_pass(tenant=acme.tenant)
    ticket_receive(
        gateway=acme.jira,
        external_id=f"OPS-{100 + acme.tickets + 2}",
        subject="Upgrade the agent on the build hosts",
        body="Delivered after the engine's last pass: it waits for `run_engine`.",
    )
    alerts.deliver_new_alerts(story, at=timezone.now())
