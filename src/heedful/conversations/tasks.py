from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from heedful.conversations.services.delivery import deliver_message, due_for_delivery


@db_task(retries=0)
def deliver(message_id: int) -> str:
    return deliver_message(message_id)


@db_periodic_task(crontab(minute="*"))
def delivery_sweep() -> int:
    ids = due_for_delivery()
    for message_id in ids:
        deliver_message(message_id)
    return len(ids)
