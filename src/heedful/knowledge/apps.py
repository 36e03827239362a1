from django.apps import AppConfig


class KnowledgeConfig(AppConfig):
    name = "heedful.knowledge"
    label = "knowledge"
    verbose_name = "Knowledge base"
