"""LLM models, their pricing plans, usage events and the rollups that make activity fast.

Why rollups, and why these grains
---------------------------------
`activity` over a month must not scan every event. Each event is also added, in the
same transaction, to summary rows ("rollups") keyed by a UTC grain (Unix seconds, so
bucketing is plain integer arithmetic on every database). Every real time-zone offset
and DST change is on a 15-minute boundary, so every local bucket (15 min, 1 h, 6 h, a
day of 23, 24 or 25 hours) is a union of whole 15-minute grains; 5-minute buckets (the
24 h preset) need 5-minute grains; hour grains serve whole-hour zones (most of them).

- `ModelRollup` at 300 s, 900 s, 3600 s and 86400 s by (model, on a ticket or not): the
  series, totals, requests, by-model, unpriced and unattributed figures. The UTC day
  grain serves the history's months (SPEC §5.5): a range cut at each local month edge is
  whole UTC days inside and hours (or quarter hours) at its edges, so 12 months read
  about 4,000 day rows where hours would be 100,000: 12 cycles over 12,000,000 events in
  45.1 ms, 9 queries as for one month of data (bench/activity.py part 5, 2026-12-02; hour
  grains alone took 321 ms at 120,000 events).
- `ConsumerRollup` at SUMMARY_GRAINS (900 s, 3600 s, 21600 s, 86400 s) by (consumer,
  model): top consumers and their cost. They break usage down, never into buckets, so any
  grains serve: a trailing 24 h reads three 6-hour grains and the hours and quarter hours
  at its edges (~1,500 rows for its consumers, hosts and tickets where hours alone read
  ~3,100: bench/activity.py, 2026-12-04).
- `TicketRollup` at SUMMARY_GRAINS by (ticket, model): top tickets by cost.
- `HostRollup` at SUMMARY_GRAINS by (host, model), no host as null: usage by host.

The summary rollups carry the model because cost is per model (and plan period).

A range is read coarse grains first, finer grains for what is left at its edges, and
raw events only for the partial 5- or 15-minute grains at its very ends. Pricing plans
take effect on a 15-minute boundary (refused otherwise) and a range is also cut at
every plan change inside it, so no rollup row straddles two prices: cost is exact.
"""

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models

from licensing.models import Tenant

# Tokens per event are below 2^31 (SPEC/issue); sums live in 64-bit columns.
TOKENS_LIMIT = 2**31 - 1
FINE_GRAIN_SECONDS = 300
GRAIN_SECONDS = 900  # the pricing grain, and the finest grain of every rollup but one
MODEL_GRAINS = (86400, 3600, GRAIN_SECONDS, FINE_GRAIN_SECONDS)  # coarsest first
# Consumers, hosts, tickets: totals, never buckets, so no grain need fit a zone's days (6 h).
SUMMARY_GRAINS = (86400, 21600, 3600, GRAIN_SECONDS)


class LlmModel(models.Model):
    """An LLM a tenant's agents call (the SPEC's "model"); named in usage events by `name`."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="llm_models")
    name = models.CharField(max_length=200)
    provider = models.CharField(max_length=200)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        verbose_name = "LLM model"
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "name"], name="llm_model_name_unique_per_tenant"
            )
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.provider})"


class PricingPlan(models.Model):
    """USD per million tokens for one model, from `effective_at` until the model's next plan.

    Plans are never edited: a price change is a new plan, so cost already recorded
    before it never changes. `effective_at` is on a 15-minute UTC boundary.
    """

    model = models.ForeignKey(LlmModel, on_delete=models.CASCADE, related_name="pricing_plans")
    input_per_million = models.DecimalField(
        max_digits=14, decimal_places=6, validators=[MinValueValidator(Decimal(0))]
    )
    output_per_million = models.DecimalField(
        max_digits=14, decimal_places=6, validators=[MinValueValidator(Decimal(0))]
    )
    cached_per_million = models.DecimalField(
        max_digits=14, decimal_places=6, validators=[MinValueValidator(Decimal(0))]
    )
    effective_at = models.DateTimeField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["model", "effective_at"]
        constraints = [
            models.UniqueConstraint(
                fields=["model", "effective_at"], name="pricing_plan_one_per_model_and_time"
            )
        ]

    def __str__(self) -> str:
        return f"{self.model.name} from {self.effective_at:%Y-%m-%d %H:%M} UTC"


def _tokens_field() -> models.PositiveIntegerField:
    return models.PositiveIntegerField(default=0, validators=[MaxValueValidator(TOKENS_LIMIT)])


class UsageEvent(models.Model):
    """One LLM request, as reported by an agent. Idempotent by `request_id` per tenant."""

    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="usage_events")
    request_id = models.CharField(max_length=200)
    occurred_at = models.DateTimeField()
    # PROTECT: a model with usage cannot vanish from under its cost.
    model = models.ForeignKey(LlmModel, on_delete=models.PROTECT, related_name="usage_events")
    input_tokens = _tokens_field()  # uncached input
    output_tokens = _tokens_field()
    cached_tokens = _tokens_field()
    # PROTECT: the ticket rollups name the ticket; deleting it would orphan its cost.
    ticket = models.ForeignKey(
        "tasks.Ticket",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="usage_events",
    )
    task = models.ForeignKey(
        "tasks.Task", null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_events"
    )
    # SET_NULL, not PROTECT: deleting a host frees a slot under the hosts cap (tasks keep
    # running without a target, the same rule); a host with usage must stay deletable. Its
    # usage stays counted, as "no host" (`usage.receivers` folds its host rollups first).
    host = models.ForeignKey(
        "tasks.Host", null=True, blank=True, on_delete=models.SET_NULL, related_name="usage_events"
    )
    consumer = models.CharField(max_length=200, blank=True)
    succeeded = models.BooleanField(default=True)
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-occurred_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "request_id"], name="usage_event_request_id_unique_per_tenant"
            )
        ]
        indexes = [
            models.Index(fields=["tenant", "occurred_at"], name="usage_event_tenant_time"),
            # An activity filtered by consumer or host reads its events (no rollup crosses
            # them with the series' grains): `usage.selectors.filters`.
            models.Index(
                fields=["tenant", "consumer", "occurred_at"], name="usage_event_consumer_time"
            ),
            models.Index(
                fields=["tenant", "host", "occurred_at"],
                name="usage_event_host_time",
                condition=models.Q(host__isnull=False),
            ),
        ]

    def __str__(self) -> str:
        return f"{self.request_id} ({self.model_id}) at {self.occurred_at:%Y-%m-%d %H:%M:%S}"


class _Rollup(models.Model):
    """Summed tokens and requests of the events in one grain; kept in step by the services."""

    # No index of its own: the unique key leads with (tenant, grain_seconds, grain_start),
    # and a tenant-only index tempts the planner into scanning all of a tenant's rows.
    tenant = models.ForeignKey(Tenant, on_delete=models.CASCADE, related_name="+", db_index=False)
    grain_seconds = models.PositiveIntegerField(default=GRAIN_SECONDS)
    grain_start = models.BigIntegerField(help_text="Start of the UTC grain, in Unix seconds.")
    input_tokens = models.BigIntegerField(default=0)
    output_tokens = models.BigIntegerField(default=0)
    cached_tokens = models.BigIntegerField(default=0)
    succeeded_requests = models.BigIntegerField(default=0)
    failed_requests = models.BigIntegerField(default=0)

    class Meta:
        abstract = True


class ModelRollup(_Rollup):
    """Usage per grain (MODEL_GRAINS), model, and whether it was linked to a ticket."""

    model = models.ForeignKey(LlmModel, on_delete=models.CASCADE, related_name="+")
    on_ticket = models.BooleanField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "grain_seconds", "grain_start", "model", "on_ticket"],
                name="model_rollup_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.model_id}/{self.on_ticket} @ {self.grain_start}+{self.grain_seconds}s"


class ConsumerRollup(_Rollup):
    """Usage per grain (SUMMARY_GRAINS), consumer ('' when the event named none) and model."""

    consumer = models.CharField(max_length=200)
    model = models.ForeignKey(LlmModel, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "grain_seconds", "grain_start", "consumer", "model"],
                name="consumer_rollup_grain_key",
            )
        ]

    def __str__(self) -> str:
        return f"{self.consumer!r}/{self.model_id} @ {self.grain_start}+{self.grain_seconds}s"


class HostRollup(_Rollup):
    """Usage per grain (SUMMARY_GRAINS), host (null: no host) and model: usage by host."""

    # CASCADE is only a backstop: a host's rows are folded into the no-host rows before
    # the host is deleted (`usage.receivers`), as its events' host becomes null.
    host = models.ForeignKey("tasks.Host", null=True, on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(LlmModel, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            # NULLS NOT DISTINCT: one no-host row per grain and model, so the upsert's
            # ON CONFLICT adds to it instead of inserting another.
            models.UniqueConstraint(
                fields=["tenant", "grain_seconds", "grain_start", "host", "model"],
                name="host_rollup_grain_key",
                nulls_distinct=False,
            )
        ]

    def __str__(self) -> str:
        return f"host {self.host_id}/{self.model_id} @ {self.grain_start}+{self.grain_seconds}s"


class TicketRollup(_Rollup):
    """Ticket-linked usage per grain (SUMMARY_GRAINS), ticket and model: top tickets by cost."""

    ticket = models.ForeignKey("tasks.Ticket", on_delete=models.CASCADE, related_name="+")
    model = models.ForeignKey(LlmModel, on_delete=models.CASCADE, related_name="+")

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["tenant", "grain_seconds", "grain_start", "ticket", "model"],
                name="ticket_rollup_grain_key",
            )
        ]

    def __str__(self) -> str:
        return f"ticket {self.ticket_id}/{self.model_id} @ {self.grain_start}+{self.grain_seconds}s"


from usage.budgets.models import Budget, BudgetPeriod, Reservation  # noqa: E402,F401

# Notifications (SPEC §7) keep their rows in this app; imported here so Django loads them.
from usage.notifications.models import (  # noqa: E402, F401
    Alert,
    Attempt,
    Delivery,
    Endpoint,
    Mute,
    NotificationSettings,
)
from usage.task_counts import TaskCountSnapshot  # noqa: E402,F401
