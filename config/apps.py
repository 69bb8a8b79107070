from django.apps import AppConfig
from django.contrib.admin.apps import AdminConfig


class OperatorAdminConfig(AdminConfig):
    default_site = "config.admin.OperatorAdminSite"


class TallyConfig(AppConfig):
    """The project itself: rules that hold for every app (config.text)."""

    name = "config"
    label = "tally"

    def ready(self) -> None:
        from config.text import install_strict_text

        install_strict_text()
