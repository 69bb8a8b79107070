from django.contrib.admin import AdminSite


class OperatorAdminSite(AdminSite):
    """The Django admin is for platform operators only (SPEC §1), never tenant administrators."""

    site_header = "Tally operations"
    site_title = "Tally operations"

    def has_permission(self, request) -> bool:
        return request.user.is_active and request.user.is_superuser
