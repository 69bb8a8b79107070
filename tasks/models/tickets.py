from django.db import models

from licensing.models import Tenant
from tasks.models.assets import Gateway


class Ticket(models.Model):
    """Work delivered by a gateway: stored first, never deleted by the engine."""

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        CONVERTED = "converted", "Converted"
        REJECTED = "rejected", "Rejected"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="tickets")
    gateway = models.ForeignKey(Gateway, on_delete=models.PROTECT, related_name="tickets")
    external_id = models.CharField(max_length=255)
    subject = models.CharField(max_length=500)
    body = models.TextField(blank=True)
    recurrence = models.JSONField(null=True, blank=True)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    refusal_code = models.CharField(max_length=64, blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "external_id"], name="ticket_external_id_unique_per_gateway"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.subject}"
