"""The one step of the demo seed that writes times in the past.

Everything in the demo is created through the services, which stamp their rows with the
time of the call (`auto_now_add`, `timezone.now()`): the seed runs in seconds, the story it
tells spans months. So right after a service call, the rows it made get the moment in the
story when that happened, with these functions and nothing else. They change timestamps
only, never a count, a status or a cap: what the services decided stays as decided.

A row made during the seed has a time at or after `Story.started`, the wall-clock time the
seed began; a backdated one is before it. That is how a step finds the rows of the call it
follows (the alerts and deliveries a crossing raised, say) without knowing their ids.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from django.db.models import F

from licensing.models import License, LicenseAuditRecord, Tenant
from tasks.models import Gateway, Host, Schedule, Task, Ticket
from usage.notifications.models import Alert, Attempt, Delivery, Endpoint
from usage.projections import local_midnight


@dataclass(frozen=True)
class Story:
    """The seed's clock: when it started (wall clock) and the tenant's zone for local times."""

    started: datetime
    zone: ZoneInfo

    def at(self, day, hour: int, minute: int = 0, second: int = 0) -> datetime:
        """A local time of day on `day`, as an aware UTC instant."""
        return local_midnight(day, self.zone) + timedelta(
            hours=hour, minutes=minute, seconds=second
        )


def tasks_at(created: list[tuple[Task, datetime]]) -> None:
    """Each task created at its time, in one UPDATE."""
    for task, at in created:
        task.created_at = at
    Task.objects.bulk_update([task for task, _ in created], ["created_at"])


def ticket_at(ticket: Ticket, *, received: datetime, decided: datetime) -> None:
    """A ticket received at `received` and converted or refused by the engine at `decided`
    (its task, if any, created then too)."""
    ticket.refresh_from_db()
    Ticket.objects.filter(pk=ticket.pk).update(
        received_at=received,
        converted_at=decided if ticket.converted_at else None,
        refused_at=decided if ticket.refused_at else None,
    )
    if ticket.task_id:
        Task.objects.filter(pk=ticket.task_id).update(created_at=decided)
    ticket.refresh_from_db()


def schedule_at(schedule: Schedule, at: datetime) -> None:
    Schedule.objects.filter(pk=schedule.pk).update(created_at=at)


def assets_at(tenant: Tenant, at: datetime) -> None:
    """The tenant's hosts and gateways registered at `at` (the contract start)."""
    Host.objects.filter(tenant=tenant).update(created_at=at)
    Gateway.objects.filter(tenant=tenant).update(created_at=at)


def license_at(license: License, at: datetime) -> None:
    """A license applied at `at`; the license it replaced archived then (and its audit row)."""
    License.objects.filter(pk=license.pk).update(applied_at=at)
    License.objects.filter(
        tenant_id=license.tenant_id, status=License.Status.ARCHIVED, archived_at__gte=at
    ).update(archived_at=at)
    LicenseAuditRecord.objects.filter(license=license).update(at=at)


def endpoint_at(endpoint: Endpoint, at: datetime) -> None:
    Endpoint.objects.filter(pk=endpoint.pk).update(created_at=at)


def new_alerts_at(story: Story, at: datetime, *, tenant: Tenant | None = None) -> list[int]:
    """The alerts raised since the last backdating (of `tenant`, or of any: a sweep sees
    them all), and their deliveries, raised at `at`; their payload's `timestamp` says so
    too (it is the body their webhooks send). Returns the ids of the deliveries moved."""
    raised = Alert.objects.filter(raised_at__gte=story.started)
    alerts = list(raised if tenant is None else raised.filter(tenant=tenant))
    for alert in alerts:
        alert.raised_at = at
        alert.payload = {**alert.payload, "timestamp": at.isoformat()}
        alert.save(update_fields=["raised_at", "payload"])
    deliveries = Delivery.objects.filter(alert__in=alerts)
    ids = list(deliveries.values_list("pk", flat=True))
    deliveries.update(created_at=at)
    return ids


def attempt_at(delivery_id: int, at: datetime) -> None:
    """The delivery's latest attempt moved to start at `at`, and with it by the same shift
    what that attempt wrote: the delivery's delivered or next-attempt time (the wait the
    code chose is kept), its endpoint's failing-since and disabled times."""
    attempt = Attempt.objects.filter(delivery_id=delivery_id).latest("started_at", "id")
    shift, written = at - attempt.started_at, attempt.started_at
    Attempt.objects.filter(pk=attempt.pk).update(
        started_at=F("started_at") + shift, finished_at=F("finished_at") + shift
    )
    delivery = Delivery.objects.filter(pk=delivery_id)
    delivery.filter(delivered_at__gte=written).update(delivered_at=F("delivered_at") + shift)
    delivery.filter(next_attempt_at__gte=written).update(
        next_attempt_at=F("next_attempt_at") + shift
    )
    endpoint = Endpoint.objects.filter(deliveries__pk=delivery_id)
    endpoint.filter(failing_since__gte=written).update(failing_since=F("failing_since") + shift)
    endpoint.filter(disabled_at__gte=written).update(disabled_at=F("disabled_at") + shift)
