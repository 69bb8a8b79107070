"""The tickets part of `seed_demo`: a gateway, tickets in each status and a schedule."""

import logging
from datetime import timedelta

from django.utils import timezone

from licensing.errors import CapReached
from licensing.models import Tenant
from tasks.engine import run_pass
from tasks.models import Gateway, Schedule, Ticket
from tasks.services import gateway_create, ticket_receive

logger = logging.getLogger(__name__)


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
