from django.db import models
from django.db.models import Q

from licensing.models import Tenant
from tasks.models.assets import Gateway

# The shortest interval a schedule may run at; a shorter recurrence runs at this one.
MIN_SCHEDULE_MINUTES = 5


class Ticket(models.Model):
    """Work delivered by a gateway: stored first, never deleted by the engine.

    It ends `converted` (into `task`, and a schedule when it asked for recurrence) or
    `rejected` with the refusal code, and a rejected ticket can be put back to `pending`.
    """

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
    refusal_detail = models.TextField(blank=True)
    refused_at = models.DateTimeField(null=True, blank=True)
    task = models.OneToOneField(
        "tasks.Task",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="converted_from",
        help_text="The task this ticket became.",
    )
    converted_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["gateway", "external_id"], name="ticket_external_id_unique_per_gateway"
            ),
        ]
        indexes = [
            # The engine's queue: pending tickets, oldest first.
            models.Index(fields=["status", "received_at"], name="ticket_status_received"),
            # The tickets page's engine health: a tenant's oldest pending ticket, and how many
            # are pending or rejected, from the index alone.
            models.Index(
                fields=["tenant", "status", "received_at"], name="ticket_tenant_status_received"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.external_id}: {self.subject}"


class Schedule(models.Model):
    """Recurring work registered from a ticket: each tick creates a `recurring` task."""

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        BLOCKED = "blocked", "Blocked"  # the last tick was refused; later ticks still try
        PAUSED = "paused", "Paused"  # an operator stopped it; the engine skips it

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="schedules")
    ticket = models.OneToOneField(Ticket, on_delete=models.PROTECT, related_name="schedule")
    title = models.CharField(max_length=300)
    description = models.TextField(blank=True)
    every_minutes = models.PositiveIntegerField()
    next_run_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.ACTIVE)
    last_tick_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["next_run_at", "id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(every_minutes__gte=MIN_SCHEDULE_MINUTES),
                name="schedule_every_minutes_at_least_5",
            ),
        ]
        indexes = [
            # The engine's queue: due schedules.
            models.Index(fields=["status", "next_run_at"], name="schedule_status_next_run"),
        ]

    def __str__(self) -> str:
        return f"{self.title} (every {self.every_minutes} min)"


class ScheduleTick(models.Model):
    """One firing of a schedule: the task it created, or blocked with the refusal code."""

    class Status(models.TextChoices):
        CREATED = "created", "Created"
        BLOCKED = "blocked", "Blocked"

    schedule = models.ForeignKey(Schedule, on_delete=models.CASCADE, related_name="ticks")
    due_at = models.DateTimeField(help_text="The slot this tick was due at.")
    fired_at = models.DateTimeField()
    status = models.CharField(max_length=16, choices=Status.choices)
    task = models.ForeignKey(
        "tasks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refusal_code = models.CharField(max_length=64, blank=True)
    refusal_detail = models.TextField(blank=True)
    slots_skipped = models.PositiveIntegerField(
        default=0, help_text="Slots missed while no engine ran; only one catch-up tick fires."
    )

    class Meta:
        ordering = ["-due_at", "-id"]
        constraints = [
            # A backstop against two engines firing the same slot.
            models.UniqueConstraint(fields=["schedule", "due_at"], name="tick_once_per_slot"),
        ]

    def __str__(self) -> str:
        return f"{self.schedule} at {self.due_at:%Y-%m-%d %H:%M}: {self.status}"
