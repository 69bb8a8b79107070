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
    path("schedules/", views.schedule_list, name="schedules"),
]
