"""Survey timers: send what is due every minute; the relationship (NPS) survey daily."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from heedful.surveys.services import schedule_nps, send_due


@db_periodic_task(crontab(minute="*"))
def send_due_surveys() -> int:
    return send_due()


@db_periodic_task(crontab(hour="10", minute="0"))
def schedule_relationship_survey() -> int:
    # Daily; schedule_nps itself waits SurveySettings.nps_every_days between runs.
    return schedule_nps()
