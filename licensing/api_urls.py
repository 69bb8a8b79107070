from django.urls import path

from licensing import api

urlpatterns = [
    path("tenant/", api.TenantApi.as_view(), name="api-tenant"),
    path("license/", api.LicenseApi.as_view(), name="api-license"),
    path("license/history/", api.LicenseHistoryApi.as_view(), name="api-license-history"),
]
