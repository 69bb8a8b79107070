from django.urls import path

from tasks import api, ticket_api

urlpatterns: list = [
    path("tasks/", api.TaskListCreateApi.as_view(), name="api-tasks"),
    path("tasks/<int:pk>/", api.TaskDetailApi.as_view(), name="api-task"),
    path("hosts/", api.HostListCreateApi.as_view(), name="api-hosts"),
    path("hosts/<int:pk>/", api.HostDetailApi.as_view(), name="api-host"),
    path("gateways/", api.GatewayListCreateApi.as_view(), name="api-gateways"),
    path("gateways/<int:pk>/", api.GatewayDetailApi.as_view(), name="api-gateway"),
]
urlpatterns += ticket_api.urlpatterns  # gateway deliveries, tickets, schedules
