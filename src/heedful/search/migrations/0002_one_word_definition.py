"""One definition of a word on both databases (see heedful.search.text).

SQLite: FTS5 tables with their own copy of the text, so a row can be deleted by id
when a message is withdrawn or erased (an external-content table needs the old text
to delete a row). Messages, conversation subjects and article translations.

PostgreSQL: GIN expression indexes over `heedful_search_norm(text)`, which lower-
cases and removes diacritics with the table FTS5 uses, and turns everything but
letters and digits into spaces, so the 'simple' parser sees the words FTS5 sees. An
expression index is always in step with its table: nothing to keep up to date.
"""

from django.db import migrations

from heedful.search.foldtable import FOLD

# PostgreSQL refuses a tsvector over 1 MB; no message needs more words than this.
INDEXED_CHARS = 100_000


def norm_function() -> str:
    source = "".join(chr(k) for k in FOLD)
    target = "".join(chr(v) for v in FOLD.values())
    # Combining accents of decomposed text are dropped (no counterpart in `target`).
    source += "".join(chr(c) for c in range(0x0300, 0x0370))
    return (
        "CREATE OR REPLACE FUNCTION heedful_search_norm(t text) RETURNS text "
        "LANGUAGE sql IMMUTABLE STRICT PARALLEL SAFE AS $fn$ "
        "SELECT regexp_replace(translate(lower(left(t, "
        f"{INDEXED_CHARS})), '{source}', '{target}'), '[^[:alnum:]]+', ' ', 'g') $fn$"
    )


def tsv(column: str) -> str:
    return f"to_tsvector('simple'::regconfig, heedful_search_norm({column}))"


PG_FORWARD = [
    "DROP INDEX IF EXISTS search_message_tsv",
    norm_function(),
    f"CREATE INDEX search_message_tsv ON conversations_message USING GIN ({tsv('body_text')})",
    f"CREATE INDEX search_subject_tsv ON conversations_conversation USING GIN ({tsv('subject')})",
    "CREATE INDEX search_article_tsv ON knowledge_articletranslation USING GIN "
    f"((setweight({tsv('title')}, 'A') || {tsv('body_text')}))",
]
PG_BACKWARD = [
    "DROP INDEX IF EXISTS search_article_tsv",
    "DROP INDEX IF EXISTS search_subject_tsv",
    "DROP INDEX IF EXISTS search_message_tsv",
    "DROP FUNCTION IF EXISTS heedful_search_norm(text)",
    "CREATE INDEX search_message_tsv ON conversations_message "
    "USING GIN (to_tsvector('simple', body_text))",
]

FTS5 = "tokenize='unicode61 remove_diacritics 2', prefix='2 3'"
SQLITE_FORWARD = [
    "DROP TABLE IF EXISTS search_message_fts",
    f"CREATE VIRTUAL TABLE search_message_fts USING fts5(body_text, {FTS5})",
    "INSERT INTO search_message_fts(rowid, body_text) "
    f"SELECT id, substr(body_text, 1, {INDEXED_CHARS}) FROM conversations_message "
    "WHERE delivery_status != 'cancelled'",
    f"CREATE VIRTUAL TABLE search_subject_fts USING fts5(subject, {FTS5})",
    "INSERT INTO search_subject_fts(rowid, subject) SELECT id, subject FROM "
    "conversations_conversation",
    "CREATE VIRTUAL TABLE search_article_fts USING fts5("
    f"title, body_text, article_id UNINDEXED, {FTS5})",
    "INSERT INTO search_article_fts(rowid, title, body_text, article_id) "
    "SELECT id, title, body_text, article_id FROM knowledge_articletranslation",
]
SQLITE_BACKWARD = [
    "DROP TABLE IF EXISTS search_article_fts",
    "DROP TABLE IF EXISTS search_subject_fts",
    "DROP TABLE IF EXISTS search_message_fts",
    "CREATE VIRTUAL TABLE search_message_fts USING fts5("
    "body_text, content='conversations_message', content_rowid='id', "
    "tokenize='unicode61 remove_diacritics 2')",
    "INSERT INTO search_message_fts(search_message_fts) VALUES ('rebuild')",
]


def forward(apps, schema_editor):
    sqlite = schema_editor.connection.vendor == "sqlite"
    for statement in SQLITE_FORWARD if sqlite else PG_FORWARD:
        schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    sqlite = schema_editor.connection.vendor == "sqlite"
    for statement in SQLITE_BACKWARD if sqlite else PG_BACKWARD:
        schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [
        ("search", "0001_message_index"),
        ("conversations", "0006_email_channel"),
        ("knowledge", "0001_initial"),
    ]
    operations = [migrations.RunPython(forward, backward)]
