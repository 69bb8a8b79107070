from django.apps import AppConfig


class UsageConfig(AppConfig):
    name = "usage"
    verbose_name = "LLM usage"

    def ready(self) -> None:
        from usage import receivers  # noqa: F401 (keeps the host rollups in step)
        from usage.notifications import receivers as alerts  # noqa: F401 (the alert receivers)
