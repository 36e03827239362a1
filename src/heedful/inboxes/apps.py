from django.apps import AppConfig


class InboxesConfig(AppConfig):
    name = "heedful.inboxes"
    label = "inboxes"
