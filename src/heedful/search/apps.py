from django.apps import AppConfig


class SearchConfig(AppConfig):
    name = "heedful.search"
    label = "search"

    def ready(self) -> None:
        from heedful.search import backends  # noqa: F401  registers the outbox consumer
