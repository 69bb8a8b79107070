from django.urls import path

from licensing import views
from licensing.api_tokens import views as api_token_views

urlpatterns = [
    path("settings/license/", views.license_settings, name="license-settings"),
    path("settings/api-tokens/", api_token_views.api_tokens_page, name="api-tokens"),
    path(
        "settings/api-tokens/<int:pk>/revoke/",
        api_token_views.api_token_revoke_page,
        name="api-token-revoke",
    ),
]
