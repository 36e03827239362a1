"""Roles, not per-model permission rows, decide who configures Heedful."""

from typing import Any

from django.contrib.auth.backends import ModelBackend


class RoleBackend(ModelBackend):
    """Admins may do everything the Django admin offers; other roles nothing there.

    The admin's own read-only rules (conversations, messages) still apply:
    they are enforced by the ModelAdmin classes, not by permissions.
    """

    def has_perm(self, user_obj: Any, perm: str, obj: Any = None) -> bool:
        if getattr(user_obj, "is_active", False) and getattr(user_obj, "role", None) == "admin":
            return True
        return super().has_perm(user_obj, perm, obj)

    def has_module_perms(self, user_obj: Any, app_label: str) -> bool:
        if getattr(user_obj, "is_active", False) and getattr(user_obj, "role", None) == "admin":
            return True
        return super().has_module_perms(user_obj, app_label)
