"""The Django admin for operators: tickets (with a retry action) and schedules with their ticks."""

from django.contrib import admin, messages

from tasks.models import Schedule, ScheduleTick, Ticket
from tasks.tickets import schedules_pause, schedules_resume, tickets_retry_rejected


@admin.register(Ticket)
class TicketAdmin(admin.ModelAdmin):
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

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False

    @admin.action(description="Retry the selected rejected tickets")
    def retry_rejected(self, request, queryset):
        selected = queryset.count()
        retried = tickets_retry_rejected(tickets=queryset)
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
    fields = ["due_at", "fired_at", "status", "task", "refusal_code", "slots_skipped"]
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
        paused = schedules_pause(schedules=queryset)
        self.message_user(request, f"{paused} schedules paused.", messages.SUCCESS)

    @admin.action(description="Resume the selected schedules")
    def resume(self, request, queryset):
        resumed = schedules_resume(schedules=queryset)
        self.message_user(
            request,
            f"{resumed} schedules resumed; a run missed while paused fires once, then on time.",
            messages.SUCCESS,
        )
