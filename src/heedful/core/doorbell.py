"""Ring the outbox consumers after the current transaction commits."""

from django.db import connection, transaction


def ring() -> None:
    # One doorbell per transaction however many events it wrote.
    if any(entry[1] is _enqueue for entry in connection.run_on_commit):
        return
    transaction.on_commit(_enqueue)


def _enqueue() -> None:
    from heedful.core.tasks import process_outbox

    process_outbox()
