"""Bulk writers: raw `executemany` on SQLite, COPY on PostgreSQL.

Rows arrive as tuples in the column order of `TABLES`. For a large load the
secondary indexes (and on PostgreSQL the foreign keys) are dropped first and
rebuilt once at the end, inside the same transaction: building an index once
is much cheaper than updating it row by row, and a failed load leaves the
schema as it was.
"""

from collections.abc import Iterable, Sequence
from typing import Any

from django.db.backends.base.base import BaseDatabaseWrapper
from django.db.models import Model

from heedful.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    ConversationTag,
    Message,
)
from heedful.customers.models import Customer, Identity, Organization
from heedful.demo.story import FACT_COLUMNS
from heedful.demo.surveys import INVITATION_COLUMNS, OPT_OUT_COLUMNS, RESPONSE_COLUMNS
from heedful.insights.models import ConversationFact
from heedful.knowledge.models import ArticleFeedback, HelpEvent, HelpSession
from heedful.search.backends import FTS_TABLE
from heedful.surveys.models import SurveyInvitation, SurveyOptOut, SurveyResponse

# key -> (model, attribute names in row order). Events, participants, tags, survey
# responses, opt-outs, help events and votes get their ids from the database; nothing
# refers to them.
TABLES: dict[str, tuple[type[Model], tuple[str, ...]]] = {
    "organizations": (
        Organization, ("id", "name", "domain", "notes", "share_requests", "created_at")
    ),
    "customers": (
        Customer,
        (
            "id", "name", "preferred_channel", "language", "time_zone", "notes",
            "created_at", "updated_at", "merged_into_id", "organization_id",
        ),
    ),
    "identities": (Identity, ("id", "kind", "address", "verified", "created_at", "customer_id")),
    "conversations": (
        Conversation,
        (
            "id", "number", "subject", "status", "priority", "is_spam", "created_at",
            "updated_at", "last_message_at", "last_message_preview", "first_response_at",
            "solved_at", "waiting_since", "reopen_count", "message_count", "assignee_id",
            "customer_id", "inbox_id", "team_id", "merged_into_id",
        ),
    ),
    "messages": (
        Message,
        (
            "id", "direction", "is_note", "author_type", "body_text", "body_html",
            "external_id", "is_automatic", "delivery_status", "delivery_attempts",
            "lease_until", "delivery_error", "sent_at", "created_at", "author_agent_id",
            "conversation_id", "inbox_id", "recipient_identity_id", "sender_identity_id",
        ),
    ),
    "events": (
        ConversationEvent,
        ("type", "actor_type", "data", "created_at", "actor_id", "conversation_id"),
    ),
    "participants": (
        ConversationParticipant,
        ("role", "created_at", "agent_id", "conversation_id", "identity_id"),
    ),
    "conversation_tags": (ConversationTag, ("conversation_id", "tag_id")),
    "facts": (ConversationFact, FACT_COLUMNS),
    "invitations": (SurveyInvitation, INVITATION_COLUMNS),
    "responses": (SurveyResponse, RESPONSE_COLUMNS),
    "opt_outs": (SurveyOptOut, OPT_OUT_COLUMNS),
    "help_sessions": (
        HelpSession,
        ("id", "key", "visitor", "customer_id", "started_at", "last_seen_at", "engaged_at"),
    ),
    "help_events": (
        HelpEvent,
        (
            "session_id", "kind", "article_id", "query", "results", "articles",
            "conversation_id", "created_at",
        ),
    ),
    "help_feedback": (
        ArticleFeedback,
        ("article_id", "language", "helpful", "comment", "session_id", "created_at"),
    ),
}  # fmt: skip


def table_name(key: str) -> str:
    return TABLES[key][0]._meta.db_table


def columns(key: str) -> list[str]:
    model, names = TABLES[key]
    # get_field knows foreign keys by attribute name too ("customer_id").
    fields: list[Any] = [model._meta.get_field(name) for name in names]
    return [field.column for field in fields]


class Loader:
    """Writes rows on one connection, inside the caller's transaction."""

    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        self.connection = connection
        self.dropped: list[tuple[str, str]] = []  # (table, statement that restores it)

    def next_id(self, key: str) -> int:
        raise NotImplementedError

    def write(self, key: str, rows: Sequence[tuple[Any, ...]]) -> None:
        raise NotImplementedError

    def drop_secondary(self, keys: Iterable[str]) -> None:
        raise NotImplementedError

    def restore_secondary(self) -> None:
        with self.connection.cursor() as cursor:
            for _table, statement in self.dropped:
                cursor.execute(statement)
        self.dropped = []

    def index_messages_from(self, first_message_id: int) -> None:
        """Bring the search index up to date with the messages just written."""

    def after_load(self, keys: Iterable[str]) -> None:
        """Sequences and planner statistics once everything is written."""

    def execute(self, sql: str, params: Sequence[Any] = ()) -> Any:
        with self.connection.cursor() as cursor:
            cursor.execute(sql, params)
            return cursor.fetchall() if cursor.description else None


class SqliteLoader(Loader):
    def __init__(self, connection: BaseDatabaseWrapper) -> None:
        super().__init__(connection)
        self._sql: dict[str, str] = {}

    def next_id(self, key: str) -> int:
        table = table_name(key)
        rows = self.execute(
            f"SELECT max(coalesce((SELECT seq FROM sqlite_sequence WHERE name = %s), 0), "
            f'coalesce((SELECT max(id) FROM "{table}"), 0)) + 1',
            [table],
        )
        return int(rows[0][0])

    def write(self, key: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        sql = self._sql.get(key)
        if sql is None:
            names = columns(key)
            sql = (
                f'INSERT INTO "{table_name(key)}" ({", ".join(names)}) '
                f"VALUES ({', '.join('?' * len(names))})"
            )
            self._sql[key] = sql
        # The driver's own cursor: executemany with no per-row wrapper in between.
        self.connection.connection.executemany(sql, rows)

    def drop_secondary(self, keys: Iterable[str]) -> None:
        for key in keys:
            table = table_name(key)
            found = self.execute(
                "SELECT name, sql FROM sqlite_master "
                "WHERE type = 'index' AND tbl_name = %s AND sql IS NOT NULL",
                [table],
            )
            for name, sql in found:
                self.execute(f'DROP INDEX "{name}"')
                self.dropped.append((table, sql))

    def index_messages_from(self, first_message_id: int) -> None:
        self.execute(
            f"INSERT INTO {FTS_TABLE}(rowid, body_text) "
            f"SELECT id, body_text FROM {table_name('messages')} WHERE id >= %s",
            [first_message_id],
        )


class PostgresLoader(Loader):
    def next_id(self, key: str) -> int:
        table = table_name(key)
        # Nobody else inserts into the table until this transaction ends.
        self.execute(f'LOCK TABLE "{table}" IN EXCLUSIVE MODE')
        return int(self.execute(f'SELECT coalesce(max(id), 0) + 1 FROM "{table}"')[0][0])

    def write(self, key: str, rows: Sequence[tuple[Any, ...]]) -> None:
        if not rows:
            return
        sql = f'COPY "{table_name(key)}" ({", ".join(columns(key))}) FROM STDIN'
        with self.connection.cursor() as cursor, cursor.copy(sql) as copy:
            for row in rows:
                copy.write_row(row)

    def drop_secondary(self, keys: Iterable[str]) -> None:
        # Deferred checks still queued in this transaction would block ALTER TABLE:
        # run them now.
        self.execute("SET CONSTRAINTS ALL IMMEDIATE")
        self.execute("SET CONSTRAINTS ALL DEFERRED")
        self.execute("SET LOCAL maintenance_work_mem = '512MB'")
        for key in keys:
            table = table_name(key)
            foreign = self.execute(
                "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint "
                "WHERE conrelid = %s::regclass AND contype = 'f'",
                [table],
            )
            for name, definition in foreign:
                self.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
                self.dropped.append(
                    (table, f'ALTER TABLE "{table}" ADD CONSTRAINT "{name}" {definition}')
                )
            # Indexes that back a primary key or unique constraint stay.
            indexes = self.execute(
                "SELECT c.relname, pg_get_indexdef(c.oid) FROM pg_index x "
                "JOIN pg_class c ON c.oid = x.indexrelid WHERE x.indrelid = %s::regclass "
                "AND NOT EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conindid = x.indexrelid "
                "AND k.contype IN ('p', 'u', 'x'))",
                [table],
            )
            for name, definition in indexes:
                self.execute(f'DROP INDEX "{name}"')
                # Indexes first, then the foreign keys that their checks can use.
                self.dropped.insert(0, (table, definition))

    def after_load(self, keys: Iterable[str]) -> None:
        for key in keys:
            table = table_name(key)
            if TABLES[key][0]._meta.pk.name == "id":
                self.execute(
                    f"SELECT setval(pg_get_serial_sequence(%s, 'id'), "
                    f'coalesce((SELECT max(id) FROM "{table}"), 1))',
                    [table],
                )
            self.execute(f'ANALYZE "{table}"')


def loader_for(connection: BaseDatabaseWrapper) -> Loader:
    if connection.vendor == "sqlite":
        return SqliteLoader(connection)
    if connection.vendor == "postgresql":
        return PostgresLoader(connection)
    raise RuntimeError(f"the demo loader does not support {connection.vendor}")
