from datetime import datetime
from typing import TYPE_CHECKING, Any

from django.utils import timezone

from heedful.conversations.models import AuthorType, ConversationEvent
from heedful.core import doorbell

if TYPE_CHECKING:
    from heedful.accounts.models import User
    from heedful.conversations.models import Conversation


def record_event(
    *,
    conversation: "Conversation",
    type: str,
    actor: "User | None" = None,
    actor_type: str | None = None,
    data: dict[str, Any] | None = None,
    at: datetime | None = None,
) -> ConversationEvent:
    """Write one event in the caller's transaction and ring the consumers after commit."""
    event = ConversationEvent.objects.create(
        conversation=conversation,
        type=type,
        actor=actor,
        actor_type=actor_type or (AuthorType.AGENT if actor else AuthorType.SYSTEM),
        data=data or {},
        created_at=at or timezone.now(),
    )
    doorbell.ring()
    return event
