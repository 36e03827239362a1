"""PostgreSQL: keep each message's words in a stored generated column.

A GIN index over an expression finds candidate rows, but phrase and prefix
queries must re-check each candidate, recomputing the expression for every row
(a phrase found in 10% of three million messages took seconds). A stored column
is computed once, when the message is written, and kept in step by PostgreSQL
itself. SQLite keeps its FTS5 table (migration 0002)."""

from django.db import migrations

FORWARD = [
    "DROP INDEX IF EXISTS search_message_tsv",
    "ALTER TABLE conversations_message ADD COLUMN search_tsv tsvector GENERATED ALWAYS AS "
    "(to_tsvector('simple'::regconfig, heedful_search_norm(body_text))) STORED",
    "CREATE INDEX search_message_tsv ON conversations_message USING GIN (search_tsv)",
    # The planner needs statistics on the new column to choose between the GIN index
    # and walking the newest messages.
    "ANALYZE conversations_message",
]
BACKWARD = [
    "DROP INDEX IF EXISTS search_message_tsv",
    "ALTER TABLE conversations_message DROP COLUMN IF EXISTS search_tsv",
    "CREATE INDEX search_message_tsv ON conversations_message USING GIN "
    "(to_tsvector('simple'::regconfig, heedful_search_norm(body_text)))",
]


def forward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in FORWARD:
            schema_editor.execute(statement, params=None)


def backward(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        for statement in BACKWARD:
            schema_editor.execute(statement, params=None)


class Migration(migrations.Migration):
    dependencies = [("search", "0002_one_word_definition")]
    operations = [migrations.RunPython(forward, backward)]
