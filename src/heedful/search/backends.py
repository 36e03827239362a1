"""The message and subject indexes: how each database finds matching rows.

SQLite: FTS5 tables (`search_message_fts`, `search_subject_fts`) holding their own
copy of the text, kept in step by the outbox consumer `search.index` below.
PostgreSQL: a stored tsvector column on messages and a GIN expression index on
subjects (migrations 0002, 0003): PostgreSQL keeps them in step by itself.

Both read words as `heedful.search.text` defines them, so they find the same rows.
"""

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from django.db import connection

from heedful.conversations.models import (
    Conversation,
    ConversationEvent,
    DeliveryStatus,
    EventType,
    Message,
)
from heedful.core.outbox import consumer
from heedful.search import articles, text
from heedful.search.text import Query

if TYPE_CHECKING:
    from heedful.accounts.models import User

FTS_TABLE = "search_message_fts"
SUBJECT_TABLE = "search_subject_fts"
# Messages longer than this are indexed up to here (PostgreSQL caps a tsvector at 1 MB).
INDEXED_CHARS = 100_000
MESSAGE_EVENTS = (EventType.MESSAGE_RECEIVED, EventType.REPLY_SENT, EventType.NOTE_ADDED)
INDEXED_EVENTS = (
    *MESSAGE_EVENTS,
    EventType.REPLY_UNDONE,
    EventType.CREATED,
    EventType.MERGED_INTO,
    EventType.MERGED_FROM,
)
PG_MESSAGE_MATCH = "m.search_tsv @@ %s::tsquery"
PG_SUBJECT_MATCH = "to_tsvector('simple'::regconfig, heedful_search_norm(c.subject)) @@ %s::tsquery"


def words(query: str) -> list[str]:
    return text.words(query)[: text.MAX_TERMS]


# --- keeping the SQLite index in step ------------------------------------------------


def index_messages(message_ids: Iterable[int]) -> None:
    """(Re)index messages by id: their current text, or nothing if withdrawn or gone.
    PostgreSQL keeps its column itself."""
    _replace_rows(
        FTS_TABLE,
        message_ids,
        f"INSERT INTO {FTS_TABLE}(rowid, body_text) "
        f"SELECT id, substr(body_text, 1, {INDEXED_CHARS}) FROM conversations_message "
        "WHERE id IN ({marks}) AND delivery_status != %s",
        [DeliveryStatus.CANCELLED],
    )


def index_subjects(conversation_ids: Iterable[int]) -> None:
    _replace_rows(
        SUBJECT_TABLE,
        conversation_ids,
        f"INSERT INTO {SUBJECT_TABLE}(rowid, subject) SELECT id, subject "
        "FROM conversations_conversation WHERE id IN ({marks})",
        [],
    )


def _replace_rows(table: str, row_ids: Iterable[int], insert: str, extra: list[Any]) -> None:
    """Delete the rows of an FTS5 table and insert them again from `insert`, whose
    `{marks}` stands for the ids, 500 at a time (SQLite only)."""
    ids = sorted(set(row_ids))
    if connection.vendor != "sqlite" or not ids:
        return
    with connection.cursor() as cursor:
        for start in range(0, len(ids), 500):
            chunk = ids[start : start + 500]
            marks = ",".join(["%s"] * len(chunk))
            cursor.execute(f"DELETE FROM {table} WHERE rowid IN ({marks})", chunk)
            cursor.execute(insert.format(marks=marks), [*chunk, *extra])


def index_messages_from(first_message_id: int) -> None:
    """Index every message from `first_message_id` on, and the subjects of their
    conversations (bulk loaders write rows without events)."""
    if connection.vendor != "sqlite":
        return
    with connection.cursor() as cursor:
        cursor.execute(f"DELETE FROM {FTS_TABLE} WHERE rowid >= %s", [first_message_id])
        _fill_messages(cursor, first_message_id)
        cursor.execute(
            "SELECT min(conversation_id) FROM conversations_message WHERE id >= %s",
            [first_message_id],
        )
        first_conversation = cursor.fetchone()[0]
        if first_conversation is not None:
            # Loaders write conversations in id order, with their messages.
            cursor.execute(f"DELETE FROM {SUBJECT_TABLE} WHERE rowid >= %s", [first_conversation])
            _fill_subjects(cursor, first_conversation)


def _fill_messages(cursor: Any, first_id: int) -> None:
    cursor.execute(
        f"INSERT INTO {FTS_TABLE}(rowid, body_text) SELECT id, "
        f"substr(body_text, 1, {INDEXED_CHARS}) FROM conversations_message "
        "WHERE id >= %s AND delivery_status != %s",
        [first_id, DeliveryStatus.CANCELLED],
    )


def _fill_subjects(cursor: Any, first_id: int) -> None:
    cursor.execute(
        f"INSERT INTO {SUBJECT_TABLE}(rowid, subject) SELECT id, subject "
        "FROM conversations_conversation WHERE id >= %s",
        [first_id],
    )


# The FTS5 tables as migration 0002 made them; a rebuild drops and makes them again,
# which is much faster than deleting millions of rows one by one.
FTS5_OPTIONS = "tokenize='unicode61 remove_diacritics 2', prefix='2 3'"
SQLITE_TABLES = {
    FTS_TABLE: f"CREATE VIRTUAL TABLE {FTS_TABLE} USING fts5(body_text, {FTS5_OPTIONS})",
    SUBJECT_TABLE: f"CREATE VIRTUAL TABLE {SUBJECT_TABLE} USING fts5(subject, {FTS5_OPTIONS})",
    articles.FTS_TABLE: f"CREATE VIRTUAL TABLE {articles.FTS_TABLE} USING fts5("
    f"title, body_text, article_id UNINDEXED, {FTS5_OPTIONS})",
}


def rebuild_index() -> None:
    """Every index from scratch: after a restore, an upgrade, or a bulk load.

    PostgreSQL: REINDEX of the GIN indexes (their data is always current; this only
    compacts them). SQLite: the FTS5 tables are made again and filled."""
    with connection.cursor() as cursor:
        if connection.vendor != "sqlite":
            for name in ("search_message_tsv", "search_subject_tsv", "search_article_tsv"):
                cursor.execute(f"REINDEX INDEX {name}")
            return
        for table, create in SQLITE_TABLES.items():
            cursor.execute(f"DROP TABLE IF EXISTS {table}")
            cursor.execute(create)
        _fill_messages(cursor, 0)
        _fill_subjects(cursor, 0)
    articles.rebuild()
    with connection.cursor() as cursor:
        for table in SQLITE_TABLES:
            cursor.execute(f"INSERT INTO {table}({table}) VALUES ('optimize')")


@consumer("search.index", types=INDEXED_EVENTS)
def handle_events(events: list[ConversationEvent]) -> None:
    messages = [int(e.data["message_id"]) for e in events if "message_id" in e.data]
    index_messages(messages)
    # A new conversation brings its subject; a merge may have changed which one shows.
    index_subjects(
        e.conversation_id for e in events if e.type not in (*MESSAGE_EVENTS, EventType.REPLY_UNDONE)
    )


# --- finding rows ----------------------------------------------------------------------


def match_messages(
    query: Query, *, where: str, params: list[Any], limit: int, ranked: bool = False
) -> list[tuple[int, int, Any, float]]:
    """(message id, conversation id, created_at, rank) of the newest `limit` messages
    that match `query`, among rows of `m` (message) and `c` (conversation) passing
    `where`. `ranked`: rank by relevance (bm25 / ts_rank, higher is better), else 0."""
    if connection.vendor == "sqlite":
        rank = f"-bm25({FTS_TABLE})" if ranked else "0.0"
        sql = (
            # Text, not datetime: no per-row conversion; ISO text sorts as time does.
            f"SELECT m.id, m.conversation_id, CAST(m.created_at AS TEXT), {rank} "
            f"FROM {FTS_TABLE} JOIN conversations_message m ON m.id = {FTS_TABLE}.rowid "
            "JOIN conversations_conversation c ON c.id = m.conversation_id "
            f"WHERE {FTS_TABLE} MATCH %s AND {where} ORDER BY {FTS_TABLE}.rowid DESC LIMIT %s"
        )
        args: list[Any] = [query.fts5(), *params, limit]
    else:
        rank = "ts_rank(m.search_tsv, %s::tsquery)" if ranked else "0.0"
        sql = (
            f"SELECT m.id, m.conversation_id, m.created_at, {rank} FROM conversations_message m "
            "JOIN conversations_conversation c ON c.id = m.conversation_id "
            f"WHERE {PG_MESSAGE_MATCH} AND {where} ORDER BY m.id DESC LIMIT %s"
        )
        match = query.tsquery()
        args = [*([match] if ranked else []), match, *params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def match_subjects(
    query: Query, *, where: str, params: list[Any], limit: int, ranked: bool = False
) -> list[tuple[int, Any, float]]:
    """(id, created_at, rank) of the newest `limit` conversations (`c`) whose subject
    matches."""
    if connection.vendor == "sqlite":
        rank = f"-bm25({SUBJECT_TABLE})" if ranked else "0.0"
        sql = (
            f"SELECT c.id, CAST(c.created_at AS TEXT), {rank} FROM {SUBJECT_TABLE} "
            f"JOIN conversations_conversation c ON c.id = {SUBJECT_TABLE}.rowid "
            f"WHERE {SUBJECT_TABLE} MATCH %s AND {where} "
            f"ORDER BY {SUBJECT_TABLE}.rowid DESC LIMIT %s"
        )
        args: list[Any] = [query.fts5(), *params, limit]
    else:
        document = "to_tsvector('simple'::regconfig, heedful_search_norm(c.subject))"
        rank = f"ts_rank({document}, %s::tsquery)" if ranked else "0.0"
        sql = (
            f"SELECT c.id, c.created_at, {rank} FROM conversations_conversation c "
            f"WHERE {PG_SUBJECT_MATCH} AND {where} ORDER BY c.id DESC LIMIT %s"
        )
        match = query.tsquery()
        args = [*([match] if ranked else []), match, *params, limit]
    with connection.cursor() as cursor:
        cursor.execute(sql, args)
        return list(cursor.fetchall())


def search_messages(query: str, *, user: "User | Any", limit: int = 50) -> list[Message]:
    """Messages matching every term of `query` that `user` may see, newest first."""
    from heedful.search.conversations import access_where

    parsed = text.parse(query)
    scope = access_where(user)
    if not parsed or scope is None:
        return []
    where, params = scope
    found = match_messages(
        parsed,
        where=f"{where} AND m.delivery_status != %s",
        params=[*params, DeliveryStatus.CANCELLED],
        limit=limit,
    )
    messages = Message.objects.filter(pk__in=[row[0] for row in found])
    return list(messages.select_related("conversation").order_by("-id"))


__all__ = ["Conversation", "handle_events", "rebuild_index", "search_messages"]
