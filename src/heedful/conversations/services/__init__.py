"""Conversation services: the only way conversations and messages change."""

from heedful.conversations.services.actions import (
    assign,
    default_recipient,
    mark_spam,
    mentioned_users,
    note,
    reply,
    set_priority,
    set_status,
    tag,
    undo_reply,
)
from heedful.conversations.services.bulk import bulk_apply
from heedful.conversations.services.delivery import deliver_message, retry_delivery
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
    "bulk_apply",
    "default_recipient",
    "deliver_message",
    "mark_spam",
    "mentioned_users",
    "merge_conversations",
    "merge_customers",
    "note",
    "receive",
    "reply",
    "retry_delivery",
    "retry_quarantined",
    "set_priority",
    "set_status",
    "tag",
    "undo_reply",
]
