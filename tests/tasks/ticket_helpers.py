"""Shared by the tickets, engine and schedules tests: gateways, deliveries, licenses."""

from datetime import UTC, datetime, timedelta

from django.utils import timezone

from licensing.models import License
from tasks.models import Gateway, Task, TaskCounter, Ticket
from tasks.services import gateway_create, ticket_receive
from tests.factories import LicenseFactory

# The instant the `clock` fixture (tests/tasks/conftest.py) stands at: a Monday, 09:00 UTC.
REGISTERED = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """`minutes` after REGISTERED."""
    return REGISTERED + timedelta(minutes=minutes)


def gateway_for(tenant, *, name: str = "Jira", kind: str = Gateway.Kind.JIRA):
    """A gateway made the real way; returns (gateway, ingest secret)."""
    return gateway_create(tenant=tenant, name=name, kind=kind)


def receive(gateway, external_id: str, *, subject: str = "Disk almost full", **fields) -> Ticket:
    ticket, _created = ticket_receive(
        gateway=gateway, external_id=external_id, subject=subject, **fields
    )
    return ticket


def license_with(tenant, *, tasks_cap: int | None = 100, expired: bool = False) -> License:
    """Make a new license the tenant's active one (the previous one is archived)."""
    now = timezone.now()
    License.objects.filter(tenant=tenant, status=License.Status.ACTIVE).update(
        status=License.Status.ARCHIVED, archived_at=now
    )
    return LicenseFactory(
        tenant=tenant,
        tasks_cap=tasks_cap,
        issued_at=now - timedelta(days=30),
        expires_at=now - timedelta(days=1) if expired else None,
    )


def tasks_used(tenant) -> int:
    return TaskCounter.objects.get(tenant=tenant).used


def task_rows(tenant) -> int:
    return Task.objects.filter(tenant=tenant).count()
