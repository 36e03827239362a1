from django.db import migrations


def create_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute(
            "CREATE VIRTUAL TABLE search_message_fts USING fts5("
            "body_text, content='conversations_message', content_rowid='id', "
            "tokenize='unicode61 remove_diacritics 2')"
        )
    else:
        schema_editor.execute(
            "CREATE INDEX search_message_tsv ON conversations_message "
            "USING GIN (to_tsvector('simple', body_text))"
        )


def drop_index(apps, schema_editor):
    if schema_editor.connection.vendor == "sqlite":
        schema_editor.execute("DROP TABLE IF EXISTS search_message_fts")
    else:
        schema_editor.execute("DROP INDEX IF EXISTS search_message_tsv")


class Migration(migrations.Migration):
    dependencies = [("conversations", "0001_initial")]
    operations = [migrations.RunPython(create_index, drop_index)]
