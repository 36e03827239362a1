from django.apps import AppConfig


class SurveysConfig(AppConfig):
    name = "heedful.surveys"
    label = "surveys"
    verbose_name = "Surveys"

    def ready(self) -> None:
        from heedful.surveys import consumer  # noqa: F401  registers the outbox consumer
