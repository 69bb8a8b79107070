from django import forms

from usage.notifications.models import AlertType, Endpoint


class EndpointForm(forms.Form):
    url = forms.URLField(
        label="URL",
        max_length=2000,
        assume_scheme="https",
        widget=forms.URLInput(attrs={"placeholder": "https://example.com/tally-webhook"}),
    )
    kind = forms.ChoiceField(choices=Endpoint.Kind.choices, initial=Endpoint.Kind.WEBHOOK)
    description = forms.CharField(max_length=200, required=False)


class MuteForm(forms.Form):
    type = forms.ChoiceField(
        label="Alert", choices=[(t.value, t.label) for t in AlertType if t != AlertType.TEST]
    )
    dimension = forms.ChoiceField(
        choices=[("", "any"), ("hosts", "hosts"), ("gateways", "gateways"), ("tasks", "tasks")],
        required=False,
    )
    threshold = forms.TypedChoiceField(
        coerce=int, empty_value=None, required=False,
        choices=[("", "any"), ("80", "80 %"), ("95", "95 %"), ("100", "100 %"), ("30", "30 days"),
                 ("7", "7 days"), ("1", "1 day"), ("0", "at expiry")],
    )  # fmt: skip


class EmailForm(forms.Form):
    enabled = forms.BooleanField(required=False)
