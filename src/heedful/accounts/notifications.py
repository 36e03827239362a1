"""Notifications for agents: written by services, shown in the workspace's bell."""

from collections.abc import Iterable
from typing import TYPE_CHECKING

from django.utils import timezone

from heedful.accounts.models import Notification, User

if TYPE_CHECKING:
    from heedful.conversations.models import Conversation


def notify(
    *,
    users: Iterable[User],
    kind: str,
    text: str,
    conversation: "Conversation | None" = None,
    actor: User | None = None,
) -> list[Notification]:
    """One notification per active user other than the actor (nobody is told what they did)."""
    now = timezone.now()
    rows = [
        Notification(
            user=user,
            kind=kind,
            text=text[:200],
            conversation=conversation,
            actor=actor,
            created_at=now,
        )
        for user in {u.pk: u for u in users}.values()
        if user.is_active and (actor is None or user.pk != actor.pk)
    ]
    return Notification.objects.bulk_create(rows)


def mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's notifications read (all, or the given ids); returns how many changed."""
    unread = Notification.objects.filter(user=user, read_at__isnull=True)
    if ids is not None:
        unread = unread.filter(pk__in=list(ids))
    return unread.update(read_at=timezone.now())
