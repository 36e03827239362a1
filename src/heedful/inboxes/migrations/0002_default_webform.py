from django.db import migrations


def create_webform(apps, schema_editor):
    # Every install can take requests at /contact/ from the first start.
    Inbox = apps.get_model("inboxes", "Inbox")
    if not Inbox.objects.filter(kind="webform").exists():
        Inbox.objects.create(kind="webform", name="Web form", settings={})


class Migration(migrations.Migration):
    dependencies = [("inboxes", "0001_initial")]
    operations = [migrations.RunPython(create_webform, migrations.RunPython.noop)]
