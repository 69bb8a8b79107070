"""Monthly LLM budgets, their periods and the reservations of authorized calls (SPEC §8.2).

- `Budget`: what an administrator set, one per tenant: a USD and/or a token limit, hard
  or soft. It applies to the current month and the months after.
- `BudgetPeriod`: one row per (tenant, calendar month in the tenant's zone), created on
  demand by the first authorization or usage of the month (no reset job). It carries the
  month's limits (copied from the budget, kept in step by `budget_set`), so the one
  conditional UPDATE that reserves reads everything it compares from its own row.
- `Reservation`: one per authorized request_id (idempotent per tenant): the estimate held
  on the period until the usage event settles it or it expires.
"""

from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from licensing.models import Tenant

# Token counts times prices of 6 decimal places per million tokens: 12 places are exact.
MONEY: dict[str, Any] = {"max_digits": 30, "decimal_places": 12}


class Budget(models.Model):
    class Kind(models.TextChoices):
        HARD = "hard", "Hard: refuse calls that would pass it"
        SOFT = "soft", "Soft: allow, and alert"

    tenant = models.OneToOneField(Tenant, on_delete=models.CASCADE, related_name="llm_budget")
    limit_usd = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    limit_tokens = models.BigIntegerField(null=True, blank=True)
    kind = models.CharField(max_length=8, choices=Kind.choices, default=Kind.HARD)
    updated_at = models.DateTimeField(auto_now=True)
    updated_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=Q(limit_usd__isnull=False) | Q(limit_tokens__isnull=False),
                name="budget_has_a_limit",
            ),
            models.CheckConstraint(
                condition=(Q(limit_usd__isnull=True) | Q(limit_usd__gte=0))
                & (Q(limit_tokens__isnull=True) | Q(limit_tokens__gte=0)),
                name="budget_limits_not_negative",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant}: {self.kind} budget"


class BudgetPeriod(models.Model):
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="budget_periods")
    month = models.DateField(help_text="The first day of the calendar month (tenant's zone).")
    ends_at = models.DateTimeField(help_text="The month's end in UTC (the next month's start).")
    limit_usd = models.DecimalField(max_digits=18, decimal_places=6, null=True, blank=True)
    limit_tokens = models.BigIntegerField(null=True, blank=True)
    hard = models.BooleanField(default=False)
    spent_usd = models.DecimalField(default=Decimal(0), **MONEY)
    spent_tokens = models.BigIntegerField(default=0)
    reserved_usd = models.DecimalField(default=Decimal(0), **MONEY)
    reserved_tokens = models.BigIntegerField(default=0)
    # The latest local day with spend and its spend: "today so far" for the projection.
    latest_day = models.DateField(null=True, blank=True)
    latest_day_spent_usd = models.DecimalField(default=Decimal(0), **MONEY)

    class Meta:
        ordering = ["-month"]
        constraints = [
            models.UniqueConstraint(fields=["tenant", "month"], name="budget_period_one_per_month"),
            # A backstop against giving an estimate back twice (settled and expired).
            models.CheckConstraint(
                condition=Q(reserved_usd__gte=0) & Q(reserved_tokens__gte=0),
                name="budget_period_reserved_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(spent_usd__gte=0) & Q(spent_tokens__gte=0),
                name="budget_period_spent_not_negative",
            ),
            models.CheckConstraint(
                condition=Q(latest_day_spent_usd__lte=F("spent_usd")),
                name="budget_period_day_within_month",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.tenant} {self.month:%Y-%m}"


class Reservation(models.Model):
    class Status(models.TextChoices):
        RESERVED = "reserved", "Reserved"
        SETTLED = "settled", "Settled"
        EXPIRED = "expired", "Expired"

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+")
    period = models.ForeignKey(BudgetPeriod, on_delete=models.CASCADE, related_name="reservations")
    request_id = models.CharField(max_length=200)
    model = models.ForeignKey("usage.LlmModel", on_delete=models.CASCADE, related_name="+")
    consumer = models.CharField(max_length=200, blank=True)
    ticket = models.ForeignKey(
        "tasks.Ticket", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    input_tokens = models.PositiveIntegerField()
    max_output_tokens = models.PositiveIntegerField()
    priced = models.BooleanField()
    estimate_usd = models.DecimalField(**MONEY)
    estimate_tokens = models.BigIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RESERVED)
    created_at = models.DateTimeField()
    settled_at = models.DateTimeField(null=True, blank=True)
    actual_usd = models.DecimalField(null=True, blank=True, **MONEY)
    actual_tokens = models.BigIntegerField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "request_id"], name="reservation_request_id_unique_per_tenant"
            )
        ]
        indexes = [
            # The expiry sweep: unsettled reservations, oldest first.
            models.Index(
                fields=["created_at"],
                condition=Q(status="reserved"),
                name="reservation_unsettled",
            )
        ]

    def __str__(self) -> str:
        return f"{self.request_id} ({self.status})"
