from csp.decorators import csp_update
from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path
from drf_spectacular.views import SpectacularAPIView, SpectacularSwaggerSplitView

handler400 = "config.errors.bad_request"
handler404 = "config.errors.page_not_found"
handler500 = "config.errors.server_error"

api_v1 = [
    path("", include("licensing.api_urls")),
    path("", include("tasks.api_urls")),
    path("", include("usage.api_urls")),
    path("", include("usage.notifications.api_urls")),
]

urlpatterns = [
    path("admin/", admin.site.urls),
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("api/schema/", SpectacularAPIView.as_view(), name="api-schema"),
    path(
        "api/docs/",
        # The split view serves its start-up script as a file, not inline (script-src 'self');
        # only its three-line inline <style> needs allowing, on this page alone.
        csp_update({"style-src": ["'unsafe-inline'"]})(
            SpectacularSwaggerSplitView.as_view(url_name="api-schema")
        ),
        name="api-docs",
    ),
    path("api/v1/", include(api_v1)),
    path("", include("licensing.urls")),
    path("", include("tasks.urls")),
    path("", include("usage.urls")),
    path("", include("usage.notifications.urls")),
]
