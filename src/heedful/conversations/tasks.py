from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from heedful.conversations.services.delivery import (
    deliver_message,
    due_for_delivery,
    seconds_until_due,
)


@db_task(retries=0)
def deliver(message_id: int) -> str:
    outcome = deliver_message(message_id)
    if outcome == "skipped":
        # Woken inside the undo window (clocks differ a little): come back when it closes
        # rather than leaving the reply to the next sweep.
        wait = seconds_until_due(message_id)
        if wait is not None:
            deliver.schedule((message_id,), delay=wait)
    return outcome


@db_periodic_task(crontab(minute="*"))
def delivery_sweep() -> int:
    ids = due_for_delivery()
    for message_id in ids:
        deliver_message(message_id)
    return len(ids)
