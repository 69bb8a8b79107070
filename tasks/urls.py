from django.urls import path

from tasks import views

urlpatterns = [
    path("", views.home, name="home"),
    path("tasks/", views.task_list, name="tasks"),
    path("tasks/<int:pk>/delete/", views.task_delete, name="task-delete"),
    path("hosts/", views.host_list, name="hosts"),
    path("hosts/<int:pk>/delete/", views.host_delete, name="host-delete"),
    path("gateways/", views.gateway_list, name="gateways"),
    path("gateways/<int:pk>/remove/", views.gateway_remove, name="gateway-remove"),
    path("tickets/", views.ticket_list, name="tickets"),
    path("tickets/<int:pk>/retry/", views.ticket_retry, name="ticket-retry"),
    path("tickets/retry-rejected/", views.tickets_retry_rejected, name="tickets-retry-rejected"),
    path("schedules/", views.schedule_list, name="schedules"),
    path("schedules/<int:pk>/pause/", views.schedule_pause, name="schedule-pause"),
    path("schedules/<int:pk>/resume/", views.schedule_resume, name="schedule-resume"),
]
