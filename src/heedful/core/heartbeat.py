"""The worker says it is alive; /healthz reads it."""

import logging
import threading
import time

from django.core.cache import cache

log = logging.getLogger(__name__)
KEY = "heedful:worker-heartbeat"
INTERVAL = 10
STALE_AFTER = 60


def beat() -> None:
    cache.set(KEY, time.time(), timeout=STALE_AFTER * 2)


def last_beat_age() -> float | None:
    value = cache.get(KEY)
    return None if value is None else max(0.0, time.time() - float(value))


def start(stop: threading.Event) -> threading.Thread:
    def loop() -> None:
        while not stop.is_set():
            try:
                beat()
            except Exception:  # the cache may be briefly unreachable; keep beating
                log.warning("worker heartbeat could not be written", exc_info=True)
            stop.wait(INTERVAL)

    thread = threading.Thread(target=loop, name="heedful-heartbeat", daemon=True)
    thread.start()
    return thread
