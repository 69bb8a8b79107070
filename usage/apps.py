from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = "LLM usage"

    def ready(self) -> None:
        from usage.notifications import receivers  # noqa: F401 (connects the alert receivers)
