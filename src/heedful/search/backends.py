"""Full-text search over messages: SQLite FTS5 or PostgreSQL tsvector + GIN.

Both use an unstemmed, case-insensitive word match with AND semantics, so the
same query finds the same messages on either database. (One difference is left:
FTS5 also ignores accents, PostgreSQL's 'simple' configuration does not.)
"""

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import connection

from heedful.conversations.models import ConversationEvent, DeliveryStatus, EventType, Message
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


def matching_message_ids(
    query: str, limit: int = 200, *, within: tuple[str, Any] | None = None
) -> list[int]:
    """Ids of messages matching every word, newest first.

    `within` is (SQL, params) selecting the conversation ids to search in; the
    access rule goes into the query itself, so what a user may not see never
    crowds out what they may.
    """
    terms = words(query)
    if not terms:
        return []
    scope, scope_params = "", []
    if within is not None:
        scope, scope_params = f" AND m.conversation_id IN ({within[0]})", list(within[1])
    with connection.cursor() as cursor:
        if connection.vendor == "sqlite":
            # Each word quoted: FTS5 syntax in the user's query is just text.
            match = " ".join(f'"{t}"' for t in terms)
            cursor.execute(
                f"SELECT m.id FROM {FTS_TABLE} f JOIN conversations_message m ON m.id = f.rowid "
                f"WHERE {FTS_TABLE} MATCH %s{scope} ORDER BY m.id DESC LIMIT %s",
                [match, *scope_params, limit],
            )
        else:
            cursor.execute(
                "SELECT m.id FROM conversations_message m "
                "WHERE to_tsvector('simple', m.body_text) @@ plainto_tsquery('simple', %s)"
                f"{scope} ORDER BY m.id DESC LIMIT %s",
                [" ".join(terms), *scope_params, limit],
            )
        return [row[0] for row in cursor.fetchall()]


def search_messages(query: str, *, user: "User | Any", limit: int = 50) -> list[Message]:
    """Messages matching every word of `query` that `user` may see, newest first."""
    from heedful.conversations.access import visible_filter
    from heedful.conversations.models import Conversation

    allowed = Conversation.objects.filter(visible_filter(user)).values("pk")
    sql, params = allowed.query.sql_with_params()
    ids = matching_message_ids(query, limit=limit, within=(sql, params))
    if not ids:
        return []
    # A reply withdrawn in its undo window was never said to the customer.
    found = (
        Message.objects.filter(pk__in=ids)
        .exclude(delivery_status=DeliveryStatus.CANCELLED)
        .select_related("conversation")
    )
    return list(found.order_by("-id"))


@consumer("search.index", types=INDEXED_EVENTS)
def handle_events(events: list[ConversationEvent]) -> None:
    index_messages(int(e.data["message_id"]) for e in events if "message_id" in e.data)
