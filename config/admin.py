from django.contrib.admin import AdminSite
from django.urls import path


class OperatorAdminSite(AdminSite):
    """The Django admin is for platform operators only (SPEC §1), never tenant administrators."""

    site_header = "Tally operations"
    site_title = "Tally operations"
    index_template = "admin/tally_index.html"  # the admin index, with a link to the Overview

    def has_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser

    def get_urls(self):
        # The Overview reads all three apps, so it lives in usage (the top layer).
        from usage.overview import views

        return [
            path(
                "overview/",
                self.admin_view(lambda request: views.overview_page(request, admin_site=self)),
                name="overview",
            ),
            path("overview/export.csv", self.admin_view(views.overview_csv), name="overview_csv"),
            *super().get_urls(),
        ]
