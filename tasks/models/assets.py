from django.conf import settings
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


class Gateway(models.Model):
    """A source of tickets (ServiceNow, Jira, a webhook); counts against the gateways cap."""

    class Kind(models.TextChoices):
        SERVICENOW = "servicenow", "ServiceNow"
        JIRA = "jira", "Jira"
        WEBHOOK = "webhook", "Webhook"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="gateways")
    name = models.CharField(max_length=200)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    # Only a hash of the ingest secret is kept; the secret is shown once, at creation.
    secret_hash = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Task(models.Model):
    """Work for the agents. Every row ever inserted counts against the lifetime tasks cap."""

    class Kind(models.TextChoices):
        AD_HOC = "ad_hoc", "Ad hoc"
        RECURRING = "recurring", "Recurring"

    class Source(models.TextChoices):
        UI = "ui", "UI"
        API = "api", "API"
        ADMIN = "admin", "Admin"
        GATEWAY = "gateway", "Gateway"
        SCHEDULE = "schedule", "Schedule"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tasks")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    host = models.ForeignKey(
        Host, null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.AD_HOC)
    source = models.CharField(max_length=16, choices=Source.choices)
    creator = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    ticket = models.ForeignKey(
        "tasks.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="tasks"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return self.title


class TaskCounter(models.Model):
    """The tenant's lifetime count of tasks ever created; locked to enforce the tasks cap."""

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="task_counter")
    used = models.PositiveIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.tenant}: {self.used} tasks created"
