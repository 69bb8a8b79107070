from django.urls import path

from usage.notifications import api

urlpatterns = [
    path("notifications/endpoints/", api.EndpointListCreateApi.as_view(),
         name="api-notification-endpoints"),
    path("notifications/endpoints/<int:pk>/", api.EndpointDetailApi.as_view(),
         name="api-notification-endpoint"),
    path("notifications/endpoints/<int:pk>/test/", api.EndpointTestApi.as_view(),
         name="api-notification-endpoint-test"),
    path("notifications/endpoints/<int:pk>/rotate-secret/", api.EndpointRotateSecretApi.as_view(),
         name="api-notification-endpoint-rotate"),
    path("notifications/alerts/", api.AlertListApi.as_view(), name="api-notification-alerts"),
    path("notifications/deliveries/", api.DeliveryListApi.as_view(),
         name="api-notification-deliveries"),
    path("notifications/deliveries/<int:pk>/redeliver/", api.RedeliverApi.as_view(),
         name="api-notification-redeliver"),
    path("notifications/mutes/", api.MutesApi.as_view(), name="api-notification-mutes"),
]  # fmt: skip
