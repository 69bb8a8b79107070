"""Page forms for tasks, hosts and gateways: input only; the services decide and count."""

from typing import cast

from django import forms

from licensing.models import Tenant
from tasks.models import Gateway, Host
from tasks.models.tasks import TASK_DESCRIPTION_MAX_LENGTH


class TaskForm(forms.Form):
    title = forms.CharField(max_length=300)
    description = forms.CharField(
        required=False,
        max_length=TASK_DESCRIPTION_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    host = forms.ModelChoiceField(
        queryset=Host.objects.none(), required=False, empty_label="No target host"
    )

    def __init__(self, *args, tenant: Tenant, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # Only the tenant's own hosts can be chosen: another tenant's id is "not a choice".
        host = cast(forms.ModelChoiceField, self.fields["host"])
        host.queryset = Host.objects.filter(tenant=tenant)


class HostForm(forms.Form):
    name = forms.CharField(max_length=200)


class GatewayForm(forms.Form):
    name = forms.CharField(max_length=200)
    kind = forms.ChoiceField(choices=Gateway.Kind.choices)
