"""The notification rows: channels (settings, endpoints, mutes), alerts, deliveries, attempts.

They belong to the `usage` app (`app_label`), which keeps the product at three apps; usage is
the top layer, so it may read licensing and tasks, and neither of them knows about alerts.
"""

import secrets

from django.db import models
from django.db.models import Q

from licensing.models import Tenant

SECRET_PREFIX = "whsec_"


def new_event_id() -> str:
    return f"evt_{secrets.token_hex(12)}"


def new_webhook_secret() -> str:
    """A Standard Webhooks secret: `whsec_` and 32 random bytes in base64."""
    import base64

    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(32)).decode()


class AlertType(models.TextChoices):
    QUOTA_THRESHOLD = "quota.threshold_crossed", "Quota threshold crossed"
    QUOTA_PROJECTED = "quota.projected_exhaustion", "Tasks cap projected to run out"
    LICENSE_EXPIRING = "license.expiring", "License ending soon"
    LICENSE_EXPIRED = "license.expired", "License expired"
    BUDGET_THRESHOLD = "budget.threshold_crossed", "Budget threshold crossed"
    TEST = "test", "Test event"


class NotificationSettings(models.Model):
    """Per-tenant switches; a tenant without a row has the defaults (email on)."""

    tenant = models.OneToOneField(
        Tenant, on_delete=models.CASCADE, related_name="notification_settings"
    )
    email_enabled = models.BooleanField(default=True)

    class Meta:
        app_label = "usage"
        verbose_name_plural = "notification settings"

    def __str__(self) -> str:
        return f"Notification settings of {self.tenant}"


class Endpoint(models.Model):
    """A webhook endpoint (signed per Standard Webhooks) or a Slack incoming webhook."""

    class Kind(models.TextChoices):
        WEBHOOK = "webhook", "Webhook"
        SLACK = "slack", "Slack"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="endpoints")
    kind = models.CharField(max_length=16, choices=Kind.choices, default=Kind.WEBHOOK)
    url = models.URLField(max_length=2000)
    description = models.CharField(max_length=200, blank=True)
    # The signing key: HMAC needs the key itself, so it is kept (never shown after creation
    # or rotation, not in the admin, not in the API).
    secret = models.CharField(max_length=100, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    # The first failure of the current run of failures; cleared by a success.
    failing_since = models.DateTimeField(null=True, blank=True)
    disabled_at = models.DateTimeField(null=True, blank=True)
    removed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "usage"
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.url}"

    @property
    def status(self) -> str:
        if self.disabled_at is not None:
            return "disabled"
        if self.failing_since is not None:
            return "failing"
        return "healthy"


class Mute(models.Model):
    """Alerts of this (type, dimension, threshold) are recorded as muted and sent nowhere."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="alert_mutes")
    type = models.CharField(max_length=40, choices=AlertType.choices)
    dimension = models.CharField(max_length=16, blank=True)  # "" = every dimension
    threshold = models.IntegerField(null=True, blank=True)  # null = every threshold

    class Meta:
        app_label = "usage"
        ordering = ["type", "dimension", "threshold"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "type", "dimension", "threshold"],
                name="one_mute_per_alert_kind",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"Mute {self.type} {self.dimension or '*'} {self.threshold or '*'}"


class Alert(models.Model):
    """One alert, raised once per (tenant, type, dimension, threshold, scope).

    `scope` is the license jti (quota and license alerts; "" on the free tier) or the budget
    period. The partial unique constraint is what makes it fire once under any concurrency:
    the insert is `ON CONFLICT DO NOTHING`. Re-arming (a host count falling back below a
    threshold) sets `rearmed_at`, which takes the row out of the constraint so the next
    crossing inserts a new one; the old row stays in the log.
    """

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="alerts")
    type = models.CharField(max_length=40, choices=AlertType.choices)
    dimension = models.CharField(max_length=16, blank=True)
    threshold = models.IntegerField(null=True, blank=True)
    scope = models.CharField(max_length=255, blank=True)
    event_id = models.CharField(max_length=40, unique=True)  # new_event_id(), set by who raises it
    raised_at = models.DateTimeField()
    payload = models.JSONField()
    muted = models.BooleanField(default=False)
    rearmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "usage"
        ordering = ["-raised_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "type", "dimension", "threshold", "scope"],
                condition=Q(rearmed_at__isnull=True),
                name="alert_fires_once_until_rearmed",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        parts = [
            self.type,
            self.dimension,
            f"{self.threshold}" if self.threshold is not None else "",
        ]
        return " ".join(part for part in parts if part)


class Delivery(models.Model):
    """An alert to one channel: email (to the administrators), a webhook or a Slack endpoint."""

    class Channel(models.TextChoices):
        EMAIL = "email", "Email"
        WEBHOOK = "webhook", "Webhook"
        SLACK = "slack", "Slack"

    class Status(models.TextChoices):
        PENDING = "pending", "Pending"
        DELIVERED = "delivered", "Delivered"
        FAILED = "failed", "Failed"

    alert = models.ForeignKey(Alert, on_delete=models.CASCADE, related_name="deliveries")
    channel = models.CharField(max_length=16, choices=Channel.choices)
    endpoint = models.ForeignKey(
        Endpoint, null=True, blank=True, on_delete=models.SET_NULL, related_name="deliveries"
    )
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PENDING)
    created_at = models.DateTimeField(auto_now_add=True)
    delivered_at = models.DateTimeField(null=True, blank=True)
    next_attempt_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)

    class Meta:
        app_label = "usage"
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "deliveries"

    def __str__(self) -> str:
        return f"{self.alert} -> {self.channel} ({self.status})"


class Attempt(models.Model):
    """One try of a delivery. Written as `in_progress` (committed) before the call, so a
    worker killed mid-call leaves a trace in the log, then completed with the outcome."""

    class Outcome(models.TextChoices):
        IN_PROGRESS = "in_progress", "In progress (or interrupted)"
        SUCCEEDED = "succeeded", "Succeeded"
        RETRYING = "retrying", "Failed, will retry"
        FAILED = "failed", "Failed"

    delivery = models.ForeignKey(Delivery, on_delete=models.CASCADE, related_name="attempts")
    started_at = models.DateTimeField()
    finished_at = models.DateTimeField(null=True, blank=True)
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.IN_PROGRESS)
    status_code = models.IntegerField(null=True, blank=True)
    latency_ms = models.IntegerField(null=True, blank=True)
    # The first 2 KB of the answer, or the error.
    response_excerpt = models.TextField(blank=True)
    error = models.TextField(blank=True)

    class Meta:
        app_label = "usage"
        ordering = ["started_at", "id"]

    def __str__(self) -> str:
        return f"Attempt {self.started_at:%Y-%m-%d %H:%M:%S} {self.outcome}"
