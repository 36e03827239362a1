"""PostgreSQL: keep each article translation's words in a stored generated column.

Ranking (ts_rank) reads the document of every matching article; over an expression
index it recomputed the words of each body, which took seconds when a common word
matched most of 10,000 articles. Same reason as 0003 for messages."""

from django.db import migrations

DOCUMENT = (
    "setweight(to_tsvector('simple'::regconfig, heedful_search_norm(title)), 'A') || "
    "to_tsvector('simple'::regconfig, heedful_search_norm(body_text))"
)
FORWARD = [
    "DROP INDEX IF EXISTS search_article_tsv",
    "ALTER TABLE knowledge_articletranslation ADD COLUMN search_tsv tsvector "
    f"GENERATED ALWAYS AS ({DOCUMENT}) STORED",
    "CREATE INDEX search_article_tsv ON knowledge_articletranslation USING GIN (search_tsv)",
    # Without statistics on the new column the planner took seconds for a common word
    # (measured at 10,000 articles) until autovacuum came round.
    "ANALYZE knowledge_articletranslation",
]
BACKWARD = [
    "DROP INDEX IF EXISTS search_article_tsv",
    "ALTER TABLE knowledge_articletranslation DROP COLUMN IF EXISTS search_tsv",
    f"CREATE INDEX search_article_tsv ON knowledge_articletranslation USING GIN (({DOCUMENT}))",
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
    dependencies = [("search", "0004_ascii_fast_path")]
    operations = [migrations.RunPython(forward, backward)]
