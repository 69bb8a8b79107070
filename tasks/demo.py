"""The hosts, gateways and tasks part of `seed_demo`, through the guarded services.

Stays well under the demo license (hosts 12, gateways 5, tasks 500): 6 hosts, a webhook
gateway (the tickets part adds a Jira one), 18 tasks.
"""

import logging

from django.contrib.auth import get_user_model

from licensing.models import Tenant
from tasks.models import Task
from tasks.services import gateway_create, host_register, task_create

logger = logging.getLogger(__name__)

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
