from django.urls import path

from licensing import views

urlpatterns = [
    path("settings/license/", views.license_settings, name="license-settings"),
]
