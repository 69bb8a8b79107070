"""`seed_demo`: a demo whose every page tells a story, written through the services.

The main tenant, Acme Robotics (`acme`), is six months into a year-long contract: it
outgrew its first license, was upgraded, and at its current rate runs out of tasks before
the contract ends; its LLM usage covers the months, with a price change, a heavy agent, a
model nobody priced and a hard budget 91 % used this month; its alerts went to a local
receiver and one endpoint is failing. Three more tenants (`tenants`) give the operators'
Overview rows in each state. An operator logs into the Django admin.

Everything is created through the public services (`license_apply` with tokens signed by
the development key, `task_create`, `ticket_receive` and the engine, the ingestion
service, `budget_set`, the endpoints and the delivery code). The story's past comes from
one clearly separated step (`history`): right after a service call, its rows get the
moment in the story when it happened. Idempotent: nothing is added when the demo tenant
exists already. About 25 s of CPU (the ingestion and the engine passes), longer on a busy machine.
"""

import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from zoneinfo import ZoneInfo

from django.contrib.auth import get_user_model
from django.utils import timezone

from licensing.models import Tenant
from licensing.selectors import CLOCK_LEEWAY, tenant_entitlements
from usage.demo import alerts
from usage.demo.acme import DEMO_CAPS, DEMO_NAME, DEMO_SLUG, DEMO_ZONE, seed_acme
from usage.demo.history import Story
from usage.demo.tenants import GLOBEX, INITECH, UMBRELLA, seed_other
from usage.notifications.sweep import sweep_alerts

__all__ = ["DEMO_CAPS", "DEMO_LOGINS", "DEMO_NAME", "DEMO_SLUG", "progress_bar", "seed_demo"]

logger = logging.getLogger(__name__)

Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class DemoLogin:
    username: str
    password: str
    role: str  # "administrator" and "member" of the demo tenant, or "operator"


DEMO_LOGINS = (
    DemoLogin("admin", "tally-admin", "administrator"),
    DemoLogin("member", "tally-member", "member"),
    DemoLogin("operator", "tally-operator", "operator"),
)


def seed_demo(*, progress: Progress | None = None) -> Tenant | None:
    """Create the demo tenants, logins and story; None (nothing added) when it exists already."""
    if Tenant.objects.filter(slug=DEMO_SLUG).exists():
        return None
    story = Story(started=timezone.now(), zone=ZoneInfo(DEMO_ZONE))
    receiver = alerts.LocalReceiver() if alerts.local_endpoints_allowed() else nullcontext()
    with receiver as url:
        initech = seed_other(story, INITECH)  # first: it must register its tasks before it expires
        tenant = seed_acme(story, logins=DEMO_LOGINS, receiver_url=url, progress=progress)
        seed_other(story, GLOBEX)
        seed_other(story, UMBRELLA)
        _wait_until_expired(initech)
        # The worker's sweep as it runs now: Initech's license has expired, Globex's trial
        # is projected to run out; alerts the operators see in the Overview.
        sweep_alerts()
        alerts.deliver_new_alerts(story, at=timezone.now())
    _operator()
    return tenant


def _wait_until_expired(tenant: Tenant) -> None:
    """Wait, if need be, for the tenant's license to expire (its end and the clock leeway
    past). Initech's expires 10 s into the seed (`tenants.INITECH`); the rest of the seed
    used to take longer than that, but a faster one (ingestion got faster) must not sweep
    while the license still counts as licensed."""
    ends_at = tenant_entitlements(tenant).ends_at
    if ends_at is None:  # no development key: Initech has no license at all
        return
    wait = (ends_at + CLOCK_LEEWAY - timezone.now()).total_seconds()
    if wait >= 0:
        time.sleep(wait + 0.1)  # strictly past the leeway: it admits creates up to its end


def _operator() -> None:
    """The platform operator: the Django admin and its Overview (SPEC §1: `is_superuser`;
    the admin's login form also asks for `is_staff`), in no tenant."""
    login = next(login for login in DEMO_LOGINS if login.role == "operator")
    get_user_model().objects.create_superuser(
        username=login.username, email="", password=login.password
    )


def progress_bar(stream, label: str = "LLM usage", width: int = 30) -> Progress:
    """A one-line text progress bar for `seed_demo(progress=...)` on a command's stdout."""

    def show(done: int, total: int) -> None:
        filled = width * done // total
        bar = "#" * filled + "." * (width - filled)
        stream.write(f"\r  {label} [{bar}] {done:,}/{total:,} events", ending="")
        if done >= total:
            stream.write("")
        stream.flush()

    return show
