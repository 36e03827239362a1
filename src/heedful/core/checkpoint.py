"""Move SQLite's WAL checkpoints off the request path.

SQLite checkpoints automatically inside whichever commit crosses the WAL size
limit, so every twentieth or so request paid for copying pages back into the
database. The settings raise that limit to a backstop (wal_autocheckpoint) and
this thread, started with the worker, checkpoints PASSIVE once a second on its
own connection: it never waits for readers or writers, it just does the copy
while the web threads serve.
"""

import logging
import threading

from django.db import connection

log = logging.getLogger(__name__)
INTERVAL = 1.0


def start(stop: threading.Event) -> threading.Thread | None:
    if connection.vendor != "sqlite":
        return None

    def loop() -> None:
        from django.db import connection as own  # this thread's own connection

        try:
            while not stop.wait(INTERVAL):
                try:
                    with own.cursor() as cursor:
                        cursor.execute("PRAGMA wal_checkpoint(PASSIVE)")
                except Exception:
                    log.warning(
                        "WAL checkpoint failed; SQLite's own backstop still runs", exc_info=True
                    )
        finally:
            own.close()

    thread = threading.Thread(target=loop, name="heedful-wal-checkpoint", daemon=True)
    thread.start()
    return thread
