"""The other tenants of the demo, so the operators' Overview has rows to sort by risk:

- Initech, whose year-long contract ended today and was not renewed (expired: a hard block),
  after its 30- and 7-day warnings;
- Globex, on a 30-day trial twenty days in, near its 100-task cap and projected to reach
  it within days;
- Umbrella Health, a young contract with room to spare.

Each with an administrator (no password: operators open them from the Overview), hosts,
tasks spread over its time, and a little LLM usage this month.
"""

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from licensing.models import Tenant
from licensing.services import tenant_create, user_add
from tasks.services import host_register, task_create
from usage.demo import history, llm
from usage.demo.history import Story
from usage.demo.licenses import demo_license_apply
from usage.projections import local_midnight
from usage.task_counts import task_count_snapshot_take

# The days with a task count snapshot: the projection reads the last week; Acme's story
# runs the worker's whole sweep over its last month, which would take the missing ones.
SNAPSHOT_DAYS = timedelta(days=32)
SMALL_MODELS = (llm.Model("gpt-4o", "OpenAI", ("2.00", "8.00", "1.00"), None, 1.0),)
SMALL_CONSUMERS: tuple[llm.Consumer, ...] = (
    ("agent-ops", 0.7, 1.0, ("node-1",)),
    ("ops-lead", 0.3, 0.5, ()),
)


@dataclass(frozen=True)
class Other:
    name: str
    slug: str
    zone: str
    kind: str
    caps: dict[str, int | None]
    days_ago: int  # the license was issued this many days ago (plus `seconds_ago`)
    days: int
    hosts: int
    tasks: int  # created over the license's time so far, growing
    seconds_ago: int = 0


# Ends 50 s before the seed starts: `license_apply` still accepts it and the tenant is not
# expired for 10 more seconds (60 s of clock leeway, SPEC §2), long enough to register its
# hosts and tasks; by the end of the seed it has expired, as if it had run its year.
INITECH = Other(
    "Initech", "initech", "America/Chicago", "contract",
    {"hosts": 10, "gateways": 2, "tasks": 300}, 365, 365, 8, 120, seconds_ago=50,
)  # fmt: skip
GLOBEX = Other(
    "Globex", "globex", "Asia/Tokyo", "trial",
    {"hosts": 3, "gateways": 1, "tasks": 100}, 20, 30, 2, 88,
)  # fmt: skip
UMBRELLA = Other(
    "Umbrella Health", "umbrella", "Europe/London", "contract",
    {"hosts": 50, "gateways": 10, "tasks": 10000}, 40, 365, 5, 60,
)  # fmt: skip


def seed_other(story: Story, other: Other) -> Tenant:
    tenant = tenant_create(name=other.name, slug=other.slug, timezone=other.zone)
    user_add(tenant=tenant, username=f"{other.slug}-admin", admin=True)
    now = story.started
    issued_at = now - timedelta(days=other.days_ago, seconds=other.seconds_ago)
    license = demo_license_apply(
        tenant, caps=other.caps, issued_at=issued_at, days=other.days, kind=other.kind
    )
    if license is not None:
        history.license_at(license, issued_at)
        # What applying raised (the nearest license-end threshold already passed) was
        # raised when it was applied; for a license applied a year ago and ended now (the
        # `license.expired` applying it raised), when it ended.
        ends = license.expires_at
        history.new_alerts_at(
            story, ends if ends is not None and ends <= now else issued_at, tenant=tenant
        )
    for number in range(other.hosts):
        host_register(tenant=tenant, name=f"node-{number + 1}")
    history.assets_at(tenant, issued_at + timedelta(hours=1))
    history.new_alerts_at(story, issued_at + timedelta(hours=1), tenant=tenant)
    if license is not None:  # on the free tier (no development key), no history of tasks
        _tasks(story, tenant, other, start=issued_at)
    _usage(tenant, other, now=now)
    return tenant


def _tasks(story: Story, tenant: Tenant, other: Other, *, start: datetime) -> None:
    """`other.tasks` tasks over the days since `start`, more each day; a count snapshot at
    each local midnight of the projection's window (what the worker's sweep would have
    taken), and the alerts they crossed at the last task."""
    rng = random.Random(other.slug)
    days = max(1, (story.started - start).days)
    # Day d of `days` gets a share growing with d (weights 1, 2, ..., days).
    weights = [d + 1 for d in range(days)]
    counts = [round(other.tasks * w / sum(weights)) for w in weights]
    first = start.astimezone(tenant.zone).date() + timedelta(days=1)
    last = start
    for offset, count in enumerate(counts):
        day = first + timedelta(days=offset)
        midnight = local_midnight(day, tenant.zone)
        if midnight >= story.started:
            break
        if story.started - midnight <= SNAPSHOT_DAYS:
            task_count_snapshot_take(tenant=tenant, now=midnight)
        times = sorted(
            midnight + timedelta(hours=9, seconds=rng.randrange(9 * 3600)) for _ in range(count)
        )
        times = [at for at in times if at < story.started]
        history.tasks_at(
            [
                (task_create(tenant=tenant, title="Routine maintenance", source="api"), at)
                for at in times
            ]
        )
        last = times[-1] if times else last
    history.new_alerts_at(story, last, tenant=tenant)


def _usage(tenant: Tenant, other: Other, *, now: datetime) -> None:
    start = now - timedelta(days=min(other.days_ago, 30))
    llm.models_create(
        tenant,
        first_plan_at=llm.on_the_grain(start - timedelta(days=1)),
        change_at=llm.on_the_grain(start),
        models=SMALL_MODELS,
    )
    records = list(
        llm.events(
            random.Random(other.slug),
            tenant,
            start=start,
            end=now,
            volume=llm.Volume(0.3, 0.8),
            prefix=other.slug,
            models=SMALL_MODELS,
            consumers=SMALL_CONSUMERS,
        )
    )
    llm.record(tenant, records)
