"""The Django admin for operators (SPEC §1): each part of the tasks app registers its models."""

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from licensing.errors import DomainError, validation_sentence
from tasks import (
    services,
    ticket_admin,  # noqa: F401  tickets and schedules
)
from tasks.models import Gateway, Host, Task, TaskCounter
from tasks.models.assets import TASK_DESCRIPTION_MAX_LENGTH


class CreateThroughServiceAdmin(admin.ModelAdmin):
    """Adding goes through a tasks.services function, like every other entry point.

    A refusal (cap reached, license expired, bad input) is shown to the operator as an
    error message on the add form: no 500, and no "added successfully".
    """

    def create(self, request, form):
        raise NotImplementedError

    def changeform_view(self, request, object_id=None, form_url="", extra_context=None):
        if object_id is None and request.method == "POST":
            # The service commits in its own durable transaction; the admin's usual
            # transaction around the view would enclose it.
            return self._changeform_view(request, object_id, form_url, extra_context)
        return super().changeform_view(request, object_id, form_url, extra_context)

    def save_model(self, request, obj, form, change) -> None:
        if change:
            return super().save_model(request, obj, form, change)
        try:
            created = self.create(request, form)
        except DomainError as refusal:
            self._refuse(request, refusal.detail)
            return
        except ValidationError as error:
            self._refuse(request, validation_sentence(error))
            return
        obj.pk = created.pk
        obj._state.adding = False
        obj._state.db = created._state.db

    def _refuse(self, request, sentence: str) -> None:
        request.create_refused = True
        self.message_user(request, sentence, messages.ERROR)

    def log_addition(self, request, obj, message):
        if getattr(request, "create_refused", False):
            return None
        return super().log_addition(request, obj, message)

    def response_add(self, request, obj, post_url_continue=None):
        if getattr(request, "create_refused", False):
            return HttpResponseRedirect(request.get_full_path())
        return super().response_add(request, obj, post_url_continue)


@admin.register(Task)
class TaskAdmin(CreateThroughServiceAdmin):
    list_display = ["title", "tenant", "kind", "source", "host", "creator", "created_at"]
    list_filter = ["kind", "source", "tenant"]
    search_fields = ["title", "tenant__name"]
    list_select_related = ["tenant", "host", "creator"]
    date_hierarchy = "created_at"
    raw_id_fields = ["host"]

    def get_fields(self, request, obj=None):
        if obj is None:
            return ["tenant", "title", "description", "host", "kind"]
        return ["tenant", "title", "description", "host", "kind", "source", "creator", "ticket"]

    def get_readonly_fields(self, request, obj=None):
        if obj is None:
            return []
        fixed = ["tenant", "host", "kind", "source", "creator", "ticket"]
        if len(obj.description) > TASK_DESCRIPTION_MAX_LENGTH:
            fixed.append("description")  # a task from before the limit: kept whole, not editable
        return fixed

    def create(self, request, form) -> Task:
        data = form.cleaned_data
        return services.task_create(
            tenant=data["tenant"],
            title=data["title"],
            description=data["description"],
            host=data["host"],
            kind=data["kind"],
            source=Task.Source.ADMIN,
            creator=request.user,
        )


@admin.register(Host)
class HostAdmin(CreateThroughServiceAdmin):
    list_display = ["name", "tenant", "created_at"]
    list_filter = ["tenant"]
    search_fields = ["name", "tenant__name"]
    list_select_related = ["tenant"]

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["tenant"]

    def create(self, request, form) -> Host:
        return services.host_register(
            tenant=form.cleaned_data["tenant"], name=form.cleaned_data["name"]
        )


@admin.register(Gateway)
class GatewayAdmin(CreateThroughServiceAdmin):
    """Gateways are revoked, never deleted: the tickets they delivered are kept."""

    list_display = ["name", "tenant", "kind", "created_at", "revoked_at"]
    list_filter = ["kind", ("revoked_at", admin.EmptyFieldListFilter), "tenant"]
    search_fields = ["name", "tenant__name"]
    list_select_related = ["tenant"]
    actions = ["revoke_gateways"]

    def get_fields(self, request, obj=None):
        return (
            ["tenant", "name", "kind"] if obj is None else ["tenant", "name", "kind", "revoked_at"]
        )

    def get_readonly_fields(self, request, obj=None):
        return [] if obj is None else ["tenant", "kind", "revoked_at"]

    def has_delete_permission(self, request, obj=None) -> bool:
        # A delete could only fail (its tickets protect it) or lose tickets: revoke instead.
        return False

    @admin.action(description="Revoke the selected gateways (frees their slots, keeps tickets)")
    def revoke_gateways(self, request, queryset):
        revoked = 0
        for gateway in queryset.registered().select_related("tenant"):
            try:
                services.gateway_revoke(gateway=gateway)
            except DomainError as refusal:
                self.message_user(request, f"{gateway.name}: {refusal.detail}", messages.ERROR)
                continue
            revoked += 1
        self.message_user(
            request,
            f"{revoked} gateways revoked: their deliveries are refused and their slots are free; "
            "their tickets are kept.",
            messages.SUCCESS,
        )

    def create(self, request, form) -> Gateway:
        data = form.cleaned_data
        gateway, secret = services.gateway_create(
            tenant=data["tenant"], name=data["name"], kind=data["kind"]
        )
        self.message_user(
            request,
            f"Ingest secret of “{gateway.name}”, shown only now: {secret}",
            messages.WARNING,
        )
        return gateway


@admin.register(TaskCounter)
class TaskCounterAdmin(admin.ModelAdmin):
    """The lifetime counters, read-only: only the cap guard moves them."""

    list_display = ["tenant", "used", "admitted_cap"]
    list_select_related = ["tenant"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False
