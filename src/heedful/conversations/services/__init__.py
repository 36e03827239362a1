"""Conversation services: the only way conversations and messages change."""

from heedful.conversations.services.actions import (
    assign,
    mark_spam,
    note,
    reply,
    set_priority,
    set_status,
    tag,
)
from heedful.conversations.services.delivery import deliver_message
from heedful.conversations.services.merge import merge_conversations, merge_customers
from heedful.conversations.services.receive import (
    Quarantined,
    ReceiveResult,
    receive,
    retry_quarantined,
)

__all__ = [
    "Quarantined",
    "ReceiveResult",
    "assign",
    "deliver_message",
    "mark_spam",
    "merge_conversations",
    "merge_customers",
    "note",
    "receive",
    "reply",
    "retry_quarantined",
    "set_priority",
    "set_status",
    "tag",
]
