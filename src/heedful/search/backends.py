"""Full-text search over messages: SQLite FTS5 or PostgreSQL tsvector + GIN.

Both use an unstemmed, case- and accent-insensitive word match with AND
semantics, so the same query finds the same messages on either database.
"""

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import connection

from heedful.conversations.models import ConversationEvent, EventType, Message
from heedful.core.outbox import consumer

if TYPE_CHECKING:
    from heedful.accounts.models import User

FTS_TABLE = "search_message_fts"
_WORD = re.compile(r"\w+", re.UNICODE)
INDEXED_EVENTS = (EventType.MESSAGE_RECEIVED, EventType.REPLY_SENT, EventType.NOTE_ADDED)


def words(query: str) -> list[str]:
    return _WORD.findall(query.lower())[:20]


def index_messages(message_ids: Iterable[int]) -> None:
    """Add messages to the FTS5 index (SQLite only; PostgreSQL indexes by itself)."""
    ids = sorted(set(message_ids))
    if connection.vendor != "sqlite" or not ids:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join(["%s"] * len(chunk))
            cursor.execute(
                f"INSERT INTO {FTS_TABLE}(rowid, body_text) "
                f"SELECT id, body_text FROM conversations_message WHERE id IN ({marks})",
                chunk,
            )


def rebuild_index() -> None:
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute(f"INSERT INTO {FTS_TABLE}({FTS_TABLE}) VALUES ('rebuild')")


def matching_message_ids(query: str, limit: int = 200) -> list[int]:
    terms = words(query)
    if not terms:
        return []
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Each word quoted: FTS5 syntax in the user's query is just text.
            match = " ".join(f'"{t}"' for t in terms)
            cursor.execute(
                f"SELECT rowid FROM {FTS_TABLE} WHERE {FTS_TABLE} MATCH %s ORDER BY rowid DESC LIMIT %s",
                [match, limit],
            )
        else:
            cursor.execute(
                "SELECT id FROM conversations_message "
                "WHERE to_tsvector('simple', body_text) @@ plainto_tsquery('simple', %s) "
                "ORDER BY id DESC LIMIT %s",
                [" ".join(terms), limit],
            )
        return [row[0] for row in cursor.fetchall()]


def search_messages(query: str, *, user: "User | Any", limit: int = 50) -> list[Message]:
    """Messages matching every word of `query` that `user` may see, newest first."""
    from heedful.conversations.access import visible_filter

    ids = matching_message_ids(query, limit=limit * 4)
    if not ids:
        return []
    from heedful.conversations.models import Conversation

    allowed = Conversation.objects.filter(visible_filter(user)).values("pk")
    visible = Message.objects.filter(pk__in=ids, conversation__in=allowed).select_related(
        "conversation"
    )
    return list(visible.order_by("-id")[:limit])


@consumer("search.index", types=INDEXED_EVENTS)
def handle_events(events: list[ConversationEvent]) -> None:
    index_messages(int(e.data["message_id"]) for e in events if "message_id" in e.data)
