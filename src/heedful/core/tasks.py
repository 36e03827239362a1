"""Background tasks shared by every app: the outbox doorbell."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from heedful.core import outbox


@db_task()
def process_outbox() -> dict[str, int]:
    return outbox.run_all()


@db_periodic_task(crontab(minute="*"))
def process_outbox_periodically() -> dict[str, int]:
    # Safety net: a doorbell lost in a crash delays work by a minute at most.
    return outbox.run_all()
