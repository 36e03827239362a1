from django.apps import AppConfig


class WorkspaceConfig(AppConfig):
    name = "heedful.workspace"
    label = "workspace"
