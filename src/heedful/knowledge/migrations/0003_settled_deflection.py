"""Deflection settled once per session (knowledge.deflection.settle) instead of at
every report: HelpSession.followed_at and settled_at, an index of sessions by start with
their outcome (the reports read it alone), one of the sessions still to settle, and the
backfill of every existing session (in month-sized batches)."""

from django.db import migrations, models
from django.db.backends.base.schema import BaseDatabaseSchemaEditor
from django.db.migrations.state import StateApps


def backfill(apps: StateApps, schema_editor: BaseDatabaseSchemaEditor) -> None:
    # The same settle the periodic job runs; it reads and writes by raw SQL on the
    # migration's connection, so the historical model is not needed.
    from heedful.knowledge.deflection import settle

    settle()


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0002_deflection_indexes")]

    operations = [
        migrations.AddField(
            model_name="helpsession",
            name="followed_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddField(
            model_name="helpsession",
            name="settled_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.AddIndex(
            model_name="helpsession",
            index=models.Index(
                fields=["started_at", "engaged_at", "followed_at"],
                name="knowledge_session_outcome",
            ),
        ),
        migrations.AddIndex(
            model_name="helpsession",
            index=models.Index(
                condition=models.Q(("engaged_at__isnull", False), ("settled_at__isnull", True)),
                fields=["started_at"],
                name="knowledge_session_unsettled",
            ),
        ),
        migrations.RunPython(backfill, migrations.RunPython.noop),
    ]
