from typing import TYPE_CHECKING, Any

from django.utils import timezone

from heedful.conversations.models import AuthorType, ConversationEvent
from heedful.core import doorbell, rows

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
) -> ConversationEvent:
    """Write one event in the caller's transaction and ring the consumers after commit.

    Always stamped now: outbox consumers read behind a lag window on that time.
    Written with a precompiled INSERT (core.rows): every inbound message writes
    one or two events, and the ORM's compiling was most of their cost.
    """
    event = rows.insert(
        ConversationEvent(
            conversation=conversation,
            type=type,
            actor=actor,
            actor_type=actor_type or (AuthorType.AGENT if actor else AuthorType.SYSTEM),
            data=data or {},
            created_at=timezone.now(),
        )
    )
    doorbell.ring()
    return event
