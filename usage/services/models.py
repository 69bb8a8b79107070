"""Writing LLM models and their pricing plans."""

from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from licensing.models import Tenant
from usage.buckets import BOUNDS, in_bounds
from usage.errors import UsageRefused
from usage.models import GRAIN_SECONDS, LlmModel, PricingPlan, UsageEvent


def llm_model_create(*, tenant: Tenant, name: str, provider: str) -> LlmModel:
    """Create a model for `tenant`. Raises UsageRefused (code `model_exists`) if the
    tenant already has a model of that name, or `invalid` for an empty name/provider."""
    name, provider = (name or "").strip(), (provider or "").strip()
    errors = {}
    if not name or len(name) > 200:
        errors["name"] = ["A model needs a name of 1 to 200 characters."]
    if not provider or len(provider) > 200:
        errors["provider"] = ["A model needs a provider of 1 to 200 characters."]
    if errors:
        raise UsageRefused(f"The model is not valid: check {', '.join(errors)}.", errors=errors)
    with transaction.atomic(durable=True):
        if LlmModel.objects.filter(tenant=tenant, name=name).exists():
            raise UsageRefused(
                f"A model named {name!r} exists already.",
                code="model_exists",
                errors={"name": [f"A model named {name!r} exists already."]},
            )
        return LlmModel.objects.create(tenant=tenant, name=name, provider=provider)


def pricing_plan_create(
    *,
    model: LlmModel,
    input_per_million: Decimal,
    output_per_million: Decimal,
    cached_per_million: Decimal,
    effective_at: datetime,
) -> PricingPlan:
    """Add a plan for `model`, in force from `effective_at` until the model's next plan.

    Prices are non-negative Decimal USD per million tokens (6 decimal places at most).
    `effective_at` must be aware and on a 15-minute UTC boundary (…:00, :15, :30, :45,
    seconds zero), so that cost computed from the 15-minute rollups is exact; a second
    plan at the same time for the same model is refused. Refusals raise UsageRefused
    naming the field.

    A plan may not take effect before now, nor at or before the model's latest recorded
    usage, which may be dated up to a day ahead (`pricing_plan_in_the_past` either way):
    activity and the export price each event with the plans that exist when they are
    read, so such a plan would rewrite the cost of usage already recorded (SPEC §5.3).
    The one exception is a plan before the model's first plan: it prices only usage that
    had no price, so no cost already shown changes.
    """
    sent = {
        "input_per_million": input_per_million,
        "output_per_million": output_per_million,
        "cached_per_million": cached_per_million,
    }
    prices, errors = _checked_prices(sent)
    problem = _effective_at_problem(effective_at)
    if problem:
        errors["effective_at"] = [problem]
    if errors:
        raise UsageRefused(
            f"The pricing plan is not valid: check {', '.join(errors)}.", errors=errors
        )
    with transaction.atomic(durable=True):
        # Lock the model: two plans posted at once must not both pass as "before the
        # first plan" (the second would then reprice what the first had just priced).
        # It also orders this plan against a batch of the model's usage: the batch's
        # foreign-key check takes a key-share lock on this row, so a batch either commits
        # before the latest-usage query below (and is seen) or after this plan.
        LlmModel.objects.select_for_update().filter(pk=model.pk).first()
        plans = PricingPlan.objects.filter(model=model)
        if plans.filter(effective_at=effective_at).exists():
            message = f"{model.name} already has a plan taking effect at that time."
            raise UsageRefused(
                message, code="pricing_plan_exists", errors={"effective_at": [message]}
            )
        first = plans.order_by("effective_at").values_list("effective_at", flat=True).first()
        if first is not None and effective_at >= first:  # before the first plan: no repricing
            _refuse_if_it_reprices(model, effective_at=effective_at, first=first)
        return PricingPlan.objects.create(
            model=model, effective_at=effective_at.astimezone(UTC), **prices
        )


def _checked_prices(sent: dict) -> tuple[dict[str, Decimal], dict[str, list[str]]]:
    """The prices as Decimal, and {field: [message]} for those that are not prices."""
    prices: dict[str, Decimal] = {}
    errors: dict[str, list[str]] = {}
    for field, value in sent.items():
        try:
            price = Decimal(str(value))
        except (InvalidOperation, ValueError, TypeError):
            errors[field] = ["A price is a decimal number of USD per million tokens."]
            continue
        if not price.is_finite() or price < 0 or price >= Decimal(10**8):
            errors[field] = ["A price is a non-negative amount below 100,000,000 USD."]
        elif price != price.quantize(Decimal("0.000001")):
            errors[field] = ["A price has at most 6 decimal places."]
        prices[field] = price
    return prices, errors


def _effective_at_problem(effective_at) -> str | None:
    if not isinstance(effective_at, datetime) or timezone.is_naive(effective_at):
        return "Give the time the plan takes effect with its offset."
    if not in_bounds(effective_at):
        return f"A plan takes effect {BOUNDS}."
    if effective_at.timestamp() % GRAIN_SECONDS:
        return (
            "A plan takes effect on a quarter hour in UTC (…:00, :15, :30 or :45, zero "
            "seconds), so that cost is exact in every report."
        )
    return None


def earliest_plan_time(now: datetime) -> datetime:
    """The first quarter hour at or after `now`: the earliest a new plan may take effect."""
    quarter, epoch = timedelta(seconds=GRAIN_SECONDS), datetime(1970, 1, 1, tzinfo=UTC)
    return epoch + -(-(now - epoch) // quarter) * quarter


def quarter_hour_after(instant: datetime) -> datetime:
    """The first quarter hour strictly after `instant` (a plan from `instant` prices it)."""
    return earliest_plan_time(instant + timedelta(microseconds=1))


def _refuse_if_it_reprices(model: LlmModel, *, effective_at: datetime, first: datetime) -> None:
    """`pricing_plan_in_the_past` unless the plan starts from now on and after the model's
    latest recorded usage (which may be dated up to a day ahead)."""
    earliest = earliest_plan_time(timezone.now())
    latest_usage = UsageEvent.objects.filter(tenant=model.tenant_id, model=model).aggregate(
        latest=Max("occurred_at")
    )["latest"]
    held_by_usage = latest_usage is not None and quarter_hour_after(latest_usage) > earliest
    if held_by_usage:
        earliest = quarter_hour_after(latest_usage)
    if effective_at < earliest:
        message = _in_the_past_message(
            model,
            earliest=earliest,
            first=first,
            latest_usage=latest_usage if held_by_usage else None,
        )
        raise UsageRefused(
            message, code="pricing_plan_in_the_past", errors={"effective_at": [message]}
        )


def _in_the_past_message(
    model: LlmModel, *, earliest: datetime, first: datetime, latest_usage: datetime | None
) -> str:
    """Why `earliest` is the earliest: now, or (`latest_usage` given) usage dated ahead."""
    zone = model.tenant.zone

    def local(instant: datetime) -> str:
        return f"{instant.astimezone(zone):%Y-%m-%d %H:%M} ({zone.key})"

    if latest_usage is not None:
        reason = (
            "A pricing plan cannot take effect before usage already recorded: "
            f"{model.name} has usage recorded up to {local(latest_usage)}, and it keeps the "
            "price it had."
        )
    else:
        reason = (
            "A pricing plan cannot take effect in the past: usage already recorded keeps "
            "the price it had."
        )
    return (
        f"{reason} Choose {local(earliest)} or later, or a time before the first plan of "
        f"{model.name} ({local(first)}), which only prices usage that had no price."
    )
