"""The Django admin for operators (SPEC §1): tasks, hosts, gateways, tickets and schedules."""

from typing import ClassVar

from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpResponseRedirect

from licensing.errors import DomainError, validation_sentence
from tasks import services
from tasks.models import (
    EngineHeartbeat,
    Gateway,
    Host,
    Schedule,
    ScheduleTick,
    Task,
    TaskCounter,
    Ticket,
)
from tasks.models.tasks import TASK_DESCRIPTION_MAX_LENGTH


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
            # Django's private view body, without the transaction; not in the stubs.
            return self._changeform_view(  # type: ignore[attr-defined]
                request, object_id, form_url, extra_context
            )
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

    def delete_view(self, request, object_id, extra_context=None):
        # host_delete commits in its own durable transaction, as in changeform_view above.
        # Django's private view body, without the transaction; not in the stubs.
        return self._delete_view(request, object_id, extra_context)  # type: ignore[attr-defined]

    def delete_model(self, request, obj) -> None:
        services.host_delete(host=obj)  # frees the slot through the guard, like the pages

    def delete_queryset(self, request, queryset) -> None:
        for host in queryset.select_related("tenant"):
            services.host_delete(host=host)


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


class ReadOnlyAdmin(admin.ModelAdmin):
    """A record operators read and never add, change or delete here."""

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(TaskCounter)
class TaskCounterAdmin(ReadOnlyAdmin):
    """The lifetime counters, read-only: only the cap guard moves them."""

    list_display = ["tenant", "used", "admitted_cap"]
    list_select_related = ["tenant"]


@admin.register(EngineHeartbeat)
class EngineHeartbeatAdmin(ReadOnlyAdmin):
    """When an engine last finished a pass over every tenant: only the engine writes it."""

    list_display = ["last_pass_at"]


@admin.register(Ticket)
class TicketAdmin(ReadOnlyAdmin):
    """Tickets are the record of what gateways delivered: read-only, never added or deleted here."""

    list_display = [
        "external_id",
        "subject",
        "tenant",
        "gateway",
        "status",
        "refusal_code",
        "task",
        "received_at",
    ]
    list_filter = ["status", "refusal_code", "gateway__kind", "tenant"]
    search_fields = ["external_id", "subject", "tenant__name", "gateway__name"]
    list_select_related = ["tenant", "gateway", "task"]
    date_hierarchy = "received_at"
    actions = ["retry_rejected"]

    @admin.action(description="Retry the selected rejected tickets")
    def retry_rejected(self, request, queryset):
        selected = queryset.count()
        retried = services.tickets_retry_rejected(tickets=queryset)
        if retried:
            self.message_user(
                request,
                f"{retried} rejected tickets are pending again; "
                "the engine converts them on its next pass if the license allows it.",
                messages.SUCCESS,
            )
        if selected > retried:
            self.message_user(
                request,
                f"{selected - retried} selected tickets were not rejected: left as they are.",
                messages.WARNING,
            )


class ScheduleTickInline(admin.TabularInline):
    model = ScheduleTick
    fields: ClassVar[tuple[str, ...]] = (
        "due_at",
        "fired_at",
        "status",
        "task",
        "refusal_code",
        "slots_skipped",
    )
    readonly_fields = fields
    ordering = ["-due_at"]
    extra = 0
    max_num = 0
    can_delete = False
    show_change_link = False


@admin.register(Schedule)
class ScheduleAdmin(admin.ModelAdmin):
    """Schedules come from tickets; operators may pause and resume them."""

    list_display = ["title", "tenant", "every_minutes", "next_run_at", "status", "last_tick_at"]
    list_filter = ["status", "tenant"]
    search_fields = ["title", "ticket__external_id", "tenant__name"]
    list_select_related = ["tenant"]
    readonly_fields = [
        "tenant",
        "ticket",
        "title",
        "description",
        "every_minutes",
        "next_run_at",
        "status",
        "last_tick_at",
        "created_at",
    ]
    inlines = [ScheduleTickInline]
    actions = ["pause", "resume"]

    def has_add_permission(self, request) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Pause the selected schedules")
    def pause(self, request, queryset):
        paused = services.schedules_pause(schedules=queryset)
        self.message_user(request, f"{paused} schedules paused.", messages.SUCCESS)

    @admin.action(description="Resume the selected schedules")
    def resume(self, request, queryset):
        resumed = services.schedules_resume(schedules=queryset)
        self.message_user(
            request,
            f"{resumed} schedules resumed: each runs next at its first slot after now; runs "
            "missed while paused are not made up.",
            messages.SUCCESS,
        )
