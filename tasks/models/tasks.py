"""Tasks and the lifetime counter the cap guard (tasks/guards.py) locks."""

from django.conf import settings
from django.db import models, transaction
from django.db.models import F, Q

from licensing.errors import DomainError
from licensing.models import Tenant
from licensing.selectors import FREE_TIER_CAPS
from tasks.models.assets import Host

# A task's description is instructions for an agent, not a log dump; a ticket keeps its
# whole body, and the engine cuts what it hands on to the task.
TASK_DESCRIPTION_MAX_LENGTH = 10_000
FREE_TIER_TASKS_CAP = FREE_TIER_CAPS["tasks"]


class UnguardedCreateRefused(DomainError):
    """A way of inserting tasks that cannot pass the cap guard (SPEC §3: `bulk_create` refuses)."""

    code = "unguarded_create_refused"
    http_status = 400


class TaskQuerySet(models.QuerySet):
    """The queryset of Task's default and base managers: `bulk_create` refuses on both."""

    def bulk_create(self, objs, *args, **kwargs):
        # bulk_create sends no signals and saves no instance: the guard would never see the rows.
        raise UnguardedCreateRefused(
            "Tasks cannot be bulk-created: each one must pass the tasks cap. "
            "Create them one by one with tasks.services.task_create."
        )


class Task(models.Model):
    """Work for the agents. Every row ever inserted counts against the lifetime tasks cap.

    The guard (`tasks.guards`) counts every inserted row in the transaction of its insert,
    whichever ORM path inserted it; `save()` only makes sure such a transaction exists.
    """

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
    description = models.TextField(blank=True, max_length=TASK_DESCRIPTION_MAX_LENGTH)
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

    objects = TaskQuerySet.as_manager()

    class Meta:
        ordering = ["-created_at", "-id"]
        # Django's internal manager too: `Task._base_manager.bulk_create` must refuse as well.
        base_manager_name = "objects"

    def __str__(self) -> str:
        return self.title

    def save(self, *args, savepoint: bool = True, **kwargs) -> None:
        """Save; an insert is counted by the cap guard in the same transaction.

        A new transaction is opened if none is; inside a caller's transaction a savepoint
        keeps that transaction usable after a refusal. `savepoint=False` is for a service
        whose own durable transaction holds nothing but this insert.
        """
        if not self._state.adding:
            return super().save(*args, **kwargs)
        # Insert and count in one transaction: a refused insert rolls back with the counter,
        # so an autocommit `Task.objects.create` can never leave an uncounted row.
        with transaction.atomic(using=kwargs.get("using"), savepoint=savepoint):
            super().save(*args, **kwargs)


class TaskCounter(models.Model):
    """The tenant's lifetime count of tasks ever created; locked to enforce the tasks cap.

    It also mirrors the tasks entitlement of the tenant's active license (written by
    `tasks.guards.mirror_entitlements` when a license is applied), so the guard's one
    conditional UPDATE decides without reading the license.
    """

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="task_counter")
    used = models.PositiveIntegerField(default=0)
    # The tasks cap in force (NULL: unlimited) and the last instant tasks may be created
    # (the license end plus licensing's clock leeway; NULL: no end), as licensing computes them.
    # A new row starts on the free tier (a tenant with no license yet).
    tasks_cap = models.PositiveIntegerField(null=True, blank=True, default=FREE_TIER_TASKS_CAP)
    open_until = models.DateTimeField(null=True, blank=True)
    license_jti = models.CharField(max_length=255, blank=True)  # "": the free tier
    # The tasks cap the last admitted task was counted under (NULL: unlimited). Written by
    # the same conditional UPDATE that increments `used`, so the constraint below is a
    # database backstop: no increment can carry `used` past the cap it was admitted under
    # (a license may lower `tasks_cap` below `used`, so the constraint cannot use that).
    admitted_cap = models.PositiveIntegerField(null=True, blank=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(admitted_cap__isnull=True) | Q(used__lte=F("admitted_cap")),
                name="task_counter_used_within_admitted_cap",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.used} tasks created"
