from django.urls import path

from tasks.api import assets, tickets

urlpatterns: list = [
    path("tasks/", assets.TaskListCreateApi.as_view(), name="api-tasks"),
    path("tasks/<int:pk>/", assets.TaskDetailApi.as_view(), name="api-task"),
    path("hosts/", assets.HostListCreateApi.as_view(), name="api-hosts"),
    path("hosts/<int:pk>/", assets.HostDetailApi.as_view(), name="api-host"),
    path("gateways/", assets.GatewayListCreateApi.as_view(), name="api-gateways"),
    path("gateways/<int:pk>/", assets.GatewayDetailApi.as_view(), name="api-gateway"),
    path(
        "gateways/<int:gateway_id>/tickets/",
        tickets.TicketDeliveryApi.as_view(),
        name="api-ticket-delivery",
    ),
    path("tickets/", tickets.TicketListApi.as_view(), name="api-tickets"),
    path("tickets/<int:pk>/", tickets.TicketDetailApi.as_view(), name="api-ticket"),
    path("tickets/<int:pk>/retry/", tickets.TicketRetryApi.as_view(), name="api-ticket-retry"),
    path(
        "tickets/retry-rejected/",
        tickets.TicketsRetryRejectedApi.as_view(),
        name="api-tickets-retry-rejected",
    ),
    path("schedules/", tickets.ScheduleListApi.as_view(), name="api-schedules"),
    path(
        "schedules/<int:pk>/pause/", tickets.SchedulePauseApi.as_view(), name="api-schedule-pause"
    ),
    path(
        "schedules/<int:pk>/resume/",
        tickets.ScheduleResumeApi.as_view(),
        name="api-schedule-resume",
    ),
]
