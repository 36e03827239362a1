"""Ring the outbox consumers after the current transaction commits.

A burst of commits needs one doorbell, not one queued task each: a task still
waiting in the queue will read every event committed before it starts. So the
first ring leaves a mark beside the queue, later rings see it and stay quiet,
and the task wipes the mark as it starts (`outbox.run_all`), before it reads;
a commit after that rings again. A mark older than STALE_SECONDS is ignored,
so a lost task never silences the doorbell for long (and the periodic task
catches up every minute anyway). In immediate mode (tests) tasks run inline
and every commit rings.
"""

import time

from django.db import connection, transaction

PENDING_KEY = "heedful.outbox.doorbell"
STALE_SECONDS = 30.0


def ring() -> None:
    # One doorbell per transaction however many events it wrote.
    if any(entry[1] is _enqueue for entry in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue)


def _enqueue() -> None:
    from huey.contrib.djhuey import HUEY

    from heedful.core.tasks import process_outbox

    if not HUEY.immediate:
        rung_at = HUEY.get(PENDING_KEY, peek=True)
        if rung_at is not None and time.time() - float(rung_at) < STALE_SECONDS:
            return
        HUEY.put(PENDING_KEY, time.time())
    process_outbox()


def answered() -> None:
    """A doorbell task is starting: the next commit must ring again."""
    from huey.contrib.djhuey import HUEY

    if not HUEY.immediate:
        HUEY.delete(PENDING_KEY)
