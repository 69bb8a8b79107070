from django.urls import path

from licensing import api

urlpatterns = [
    path("tenant/", api.TenantApi.as_view(), name="api-tenant"),
]
