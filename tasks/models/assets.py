"""Hosts and gateways: what counts against the hosts and gateways caps while registered."""

from django.db import models

from licensing.models import Tenant


class Host(models.Model):
    """A machine the tenant's agents run on; counts against the hosts cap while registered."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="hosts")
    name = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class GatewayQuerySet(models.QuerySet):
    def registered(self) -> "GatewayQuerySet":
        """The gateways that count against the cap and may deliver: not revoked."""
        return self.filter(revoked_at__isnull=True)


class Gateway(models.Model):
    """A source of tickets (ServiceNow, Jira, a webhook); counts against the gateways cap
    until it is revoked. It is never deleted: its tickets are kept."""

    class Kind(models.TextChoices):
        SERVICENOW = "servicenow", "ServiceNow"
        JIRA = "jira", "Jira"
        WEBHOOK = "webhook", "Webhook"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="gateways")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Only a hash of the ingest secret is kept; the secret is shown once, at creation. Indexed:
    # a delivery finds its gateway by the hash, so a wrong secret costs one index probe.
    secret_hash = models.CharField(max_length=128, db_index=True)
    created_at = models.DateTimeField(auto_now_add=True)
    revoked_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Removed: no longer counted against the gateways cap; deliveries are refused.",
    )

    objects = GatewayQuerySet.as_manager()

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
