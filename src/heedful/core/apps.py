from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "heedful.core"
    label = "core"

    def ready(self) -> None:
        # Registers the live catch-up outbox consumer whatever imports first.
        from heedful.core import live  # noqa: F401
