from django.apps import AppConfig


class AutomationConfig(AppConfig):
    name = "heedful.automation"
    label = "automation"
