from django.apps import AppConfig


class InsightsConfig(AppConfig):
    name = "heedful.insights"
    label = "insights"

    def ready(self) -> None:
        from heedful.insights import facts  # noqa: F401  registers the outbox consumer
