"""The Usage page's query string (range and mode) and the models & pricing forms."""

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal
from typing import Any, cast
from urllib.parse import urlencode
from zoneinfo import ZoneInfo

from django import forms
from django.utils import timezone as django_timezone

from licensing.errors import DomainError
from usage.buckets import EARLIEST, LATEST, RANGE_OUT_OF_BOUNDS
from usage.models import LlmModel, PricingPlan
from usage.services import llm_model_create, pricing_plan_create, quarter_hour_after

PRESETS: dict[str, tuple[str, timedelta]] = {
    "24h": ("24 h", timedelta(hours=24)),
    "7d": ("7 d", timedelta(days=7)),
    "30d": ("30 d", timedelta(days=30)),
}
DEFAULT_RANGE = "30d"
MODES = (("cost", "Cost"), ("tokens", "Tokens"))
DEFAULT_MODE = "cost"
FILTERS = ("model", "consumer", "host")  # the API's names for them, too


@dataclass(frozen=True)
class ActivityQuery:
    """A resolved request for the Activity section: `[start, end)` as aware times, and a mode."""

    range: str  # a preset key or "custom"
    mode: str
    start: datetime
    end: datetime
    # The custom range as the dates a person typed (end inclusive), for the form.
    start_date: date | None = None
    end_date: date | None = None
    # What the section is narrowed to ('' for none): names, as the API takes them.
    model: str = ""
    consumer: str = ""
    host: str = ""

    def query_string(self, **changes: str) -> str:
        """The URL's query for this view with `changes`, so links keep the rest; a filter
        changed to '' is cleared."""
        filters = {name: changes.pop(name, getattr(self, name)) for name in FILTERS}
        params = {"range": self.range, "mode": self.mode, **changes}
        if params["range"] == "custom":
            assert self.start_date is not None and self.end_date is not None  # custom has both
            params.update(start=self.start_date.isoformat(), end=self.end_date.isoformat())
        params.update({name: value for name, value in filters.items() if value})
        return urlencode(params)

    @property
    def filters(self) -> dict[str, str]:
        """The filters set, by name."""
        return {name: getattr(self, name) for name in FILTERS if getattr(self, name)}

    def export_query_string(self) -> str:
        return urlencode({"start": self.start.isoformat(), "end": self.end.isoformat()})


class ActivityQueryForm(forms.Form):
    """`?range=24h|7d|30d|custom&start=YYYY-MM-DD&end=YYYY-MM-DD&mode=cost|tokens`, and
    optionally `model=`, `consumer=`, `host=` (names) to narrow the section.

    Custom dates are whole days in the tenant's time zone, the end day included.
    """

    range = forms.ChoiceField(
        choices=[*((key, label) for key, (label, _) in PRESETS.items()), ("custom", "Custom")],
        required=False,
    )
    start = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    end = forms.DateField(required=False, widget=forms.DateInput(attrs={"type": "date"}))
    mode = forms.ChoiceField(choices=MODES, required=False)
    model = forms.CharField(required=False, max_length=200)
    consumer = forms.CharField(required=False, max_length=200)
    host = forms.CharField(required=False, max_length=200)

    def clean(self):
        data = cast(dict[str, Any], super().clean())  # Form.clean returns cleaned_data
        if not data.get("range"):
            has_dates = data.get("start") or data.get("end")
            data["range"] = "custom" if has_dates else DEFAULT_RANGE
        data["mode"] = data.get("mode") or DEFAULT_MODE
        if data["range"] == "custom" and not (data.get("start") and data.get("end")):
            raise forms.ValidationError("A custom range needs both a start and an end date.")
        # Checked here, before the end day is turned into the next midnight (no overflow).
        first, last = EARLIEST.date(), LATEST.date() - timedelta(days=1)
        if data["range"] == "custom" and not all(
            first <= data[name] <= last for name in ("start", "end")
        ):
            raise forms.ValidationError(RANGE_OUT_OF_BOUNDS)
        return data

    def activity_query(self, *, zone: ZoneInfo, now: datetime) -> ActivityQuery:
        """The half-open range to ask the selector for; call after `is_valid()`."""
        data = self.cleaned_data
        filters: dict[str, str] = {name: data.get(name) or "" for name in FILTERS}
        if data["range"] != "custom":
            start, end = now - PRESETS[data["range"]][1], now
            return ActivityQuery(data["range"], data["mode"], start, end, None, None, **filters)
        start = datetime.combine(data["start"], time.min, tzinfo=zone)
        end = datetime.combine(data["end"] + timedelta(days=1), time.min, tzinfo=zone)
        return ActivityQuery(
            "custom", data["mode"], start, end, data["start"], data["end"], **filters
        )


def default_activity_query(*, zone: ZoneInfo, now: datetime) -> ActivityQuery:
    form = ActivityQueryForm({})
    form.is_valid()
    return form.activity_query(zone=zone, now=now)


class LlmModelForm(forms.Form):
    """Add a model; the service refuses a name the tenant already has."""

    name = forms.CharField(max_length=200, help_text="As agents name it in usage events.")
    provider = forms.CharField(max_length=200)

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant

    def save(self) -> LlmModel:
        return llm_model_create(tenant=self.tenant, **self.cleaned_data)

    @staticmethod
    def success_message(model: LlmModel) -> str:
        return f"Model {model.name} added. Define a pricing plan so its usage has a cost."


def _price_field(label: str) -> forms.DecimalField:
    return forms.DecimalField(
        label=label,
        min_value=Decimal(0),
        max_digits=14,
        decimal_places=6,
        widget=forms.NumberInput(attrs={"step": "any", "placeholder": "e.g. 3.00"}),
    )


class PricingPlanForm(forms.Form):
    """Add a pricing plan: USD per million tokens from a quarter hour in the tenant's zone."""

    model = forms.ModelChoiceField(queryset=LlmModel.objects.none(), empty_label=None)
    input_per_million = _price_field("Input, USD per million tokens")
    cached_per_million = _price_field("Cached input, USD per million tokens")
    output_per_million = _price_field("Output, USD per million tokens")
    effective_at = forms.DateTimeField(
        label="Takes effect at",
        widget=forms.DateTimeInput(attrs={"type": "datetime-local", "step": 900}),
        input_formats=["%Y-%m-%dT%H:%M", "%Y-%m-%d %H:%M"],
    )

    def __init__(self, *args, tenant, **kwargs):
        super().__init__(*args, **kwargs)
        self.tenant = tenant
        model = cast(forms.ModelChoiceField, self.fields["model"])
        model.queryset = LlmModel.objects.filter(tenant=tenant).order_by("name")
        self.fields["effective_at"].help_text = (
            f"A quarter hour (:00, :15, :30 or :45), in {tenant.timezone} time, from now "
            "on and after the model's latest recorded usage (or before the model's first "
            "plan). Usage before it keeps the price it had."
        )
        if not self.is_bound and "effective_at" not in self.initial:
            start = quarter_hour_after(django_timezone.now()).astimezone(tenant.zone)
            self.initial["effective_at"] = start.strftime("%Y-%m-%dT%H:%M")

    def clean_effective_at(self) -> datetime:
        # Typed as the tenant's wall-clock time, whatever zone the server runs in.
        wall = django_timezone.make_naive(self.cleaned_data["effective_at"])
        zone = self.tenant.zone
        earlier, later = wall.replace(tzinfo=zone, fold=0), wall.replace(tzinfo=zone, fold=1)
        if earlier.utcoffset() != later.utcoffset():
            # A daylight-saving change: the wall time was skipped or happens twice. Either
            # guess would move the plan by an hour without a word, so ask for another time.
            shown = f"{wall:%Y-%m-%d %H:%M} "
            if earlier.astimezone(UTC).astimezone(zone).replace(tzinfo=None) != wall:
                raise forms.ValidationError(
                    f"{shown}does not exist in {zone.key}: the clocks go forward over it that "
                    "day. Choose another time."
                )
            raise forms.ValidationError(
                f"{shown}happens twice in {zone.key}: the clocks go back over it that day. "
                "Choose a time outside that hour."
            )
        return earlier

    def save(self) -> PricingPlan:
        return pricing_plan_create(**self.cleaned_data)

    @staticmethod
    def success_message(plan: PricingPlan) -> str:
        return f"Pricing plan for {plan.model.name} added."


def add_refusal_to_form(form: forms.Form, refusal: DomainError) -> None:
    """Put a service's refusal on the fields it names, or on the whole form."""
    errors = getattr(refusal, "errors", None) or {}
    named = {field: messages for field, messages in errors.items() if field in form.fields}
    for field, field_messages in named.items():
        for message in field_messages if isinstance(field_messages, list) else [field_messages]:
            form.add_error(field, str(message))
    if not named:
        form.add_error(None, refusal.detail)
