"""An index for the deflection reports (knowledge.deflection): a customer's help
sessions by start, with engaged_at in the index, so matching conversations to the
sessions they follow reads no session rows. Raw SQL so the model's Meta (fixed)
stays as it is and the autodetector sees no change."""

from django.db import migrations

INDEX = "knowledge_session_cust_engaged"


class Migration(migrations.Migration):
    dependencies = [("knowledge", "0001_initial")]

    operations = [
        migrations.RunSQL(
            sql=(
                f"CREATE INDEX {INDEX} ON knowledge_helpsession "
                "(customer_id, started_at, engaged_at)"
            ),
            reverse_sql=f"DROP INDEX {INDEX}",
        )
    ]
