from django.urls import path

from usage.notifications import views

urlpatterns = [
    path("settings/notifications/", views.notification_settings, name="notification-settings"),
    path("settings/notifications/endpoints/<int:pk>/rotate/", views.endpoint_rotate,
         name="notification-endpoint-rotate"),
    path("settings/notifications/endpoints/<int:pk>/remove/", views.endpoint_remove,
         name="notification-endpoint-remove"),
    path("settings/notifications/endpoints/<int:pk>/test/", views.endpoint_test,
         name="notification-endpoint-test"),
    path("settings/notifications/email/", views.email_toggle, name="notification-email"),
    path("settings/notifications/mutes/", views.mute_add, name="notification-mute-add"),
    path("settings/notifications/mutes/<int:pk>/remove/", views.mute_remove,
         name="notification-mute-remove"),
    path("settings/notifications/deliveries/<int:pk>/redeliver/", views.delivery_redeliver,
         name="notification-redeliver"),
]  # fmt: skip
