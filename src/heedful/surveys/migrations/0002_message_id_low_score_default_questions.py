"""The survey email's Message-ID on the invitation, the once-only low-score alert,
and the default English wording as editable rows."""

from django.db import migrations, models

# Copied, not imported: a migration must keep meaning what it meant when written.
QUESTIONS = [
    ("csat", "How satisfied are you with the service you received?", "Very unsatisfied",
     "Very satisfied"),
    ("ces", "How easy was it to resolve your issue?", "Very difficult", "Very easy"),
    ("nps", "How likely are you to recommend us to a friend or colleague?",
     "Not at all likely", "Extremely likely"),
]


def add_questions(apps, schema_editor):
    SurveyQuestion = apps.get_model("surveys", "SurveyQuestion")
    for kind, question, low, high in QUESTIONS:
        SurveyQuestion.objects.get_or_create(
            kind=kind,
            language="en",
            defaults={"question": question, "low_label": low, "high_label": high},
        )


class Migration(migrations.Migration):

    dependencies = [
        ("surveys", "0001_initial"),
    ]

    operations = [
        migrations.AddField(
            model_name="surveyinvitation",
            name="message_id",
            field=models.CharField(blank=True, default="", max_length=255),
        ),
        migrations.AddField(
            model_name="surveyresponse",
            name="low_score_notified_at",
            field=models.DateTimeField(blank=True, null=True),
        ),
        migrations.RunPython(add_questions, migrations.RunPython.noop),
    ]
