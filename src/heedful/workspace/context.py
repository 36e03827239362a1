"""What every workspace page's frame shows: the signed-in agent's unread notifications."""

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest

from heedful.accounts.models import Notification

# The bell shows "99+" from here on; counting further would cost more and tell nothing.
UNREAD_CAP = 100


def workspace(request: HttpRequest) -> dict[str, Any]:
    if not request.path.startswith("/app/"):
        return {}
    user = request.user
    if not user.is_authenticated:
        return {}
    return {"unread_notifications": _once(lambda: unread_count(user.pk))}


def unread_count(user_id: int) -> int:
    """Unread notifications, counted up to UNREAD_CAP (one indexed query)."""
    unread = Notification.objects.filter(user_id=user_id, read_at__isnull=True)
    return unread.order_by()[:UNREAD_CAP].count()


def _once(compute: Callable[[], int]) -> Callable[[], int]:
    """A callable the template calls on first use only: fragments that never show the
    bell pay nothing, and a page that shows it twice still runs one query."""
    cache: list[int] = []

    def value() -> int:
        if not cache:
            cache.append(compute())
        return cache[0]

    return value
