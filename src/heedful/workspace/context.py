"""What every workspace page's frame shows: the signed-in agent's unread notifications."""

from typing import Any

from django.http import HttpRequest


def workspace(request: HttpRequest) -> dict[str, Any]:
    if not request.path.startswith("/app/"):
        return {}
    user = request.user
    if not user.is_authenticated:
        return {}

    def unread() -> int:
        # Lazy: only pages that render the bell pay for the query.
        return user.notifications.filter(read_at__isnull=True)[:100].count()  # type: ignore[union-attr]

    return {"unread_notifications": unread}
