from django.urls import path

from usage import views

urlpatterns = [
    path("usage/", views.usage_page, name="usage"),
    path("usage/models/", views.models_page, name="usage-models"),
]
