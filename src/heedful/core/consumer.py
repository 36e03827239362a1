"""The Huey consumer as threads inside the current process.

`heedful run` embeds it next to the web server and `heedful worker` runs it
alone. Either way the command owns the process's signals: the consumer only
starts, beats and stops when told, so one Ctrl-C stops everything in order.
"""

import logging
import threading
from typing import Any

from django.conf import settings
from django.core.management.base import CommandError
from django.utils.module_loading import autodiscover_modules
from huey.consumer import Consumer

from heedful.core import checkpoint, heartbeat

log = logging.getLogger(__name__)

HEALTH_CHECK_INTERVAL = 10.0
# A task still running after this long at shutdown is abandoned; tasks are
# idempotent and their sweeps pick the work up again.
SHUTDOWN_TIMEOUT = 30.0


class _EmbeddedConsumer(Consumer):
    def _set_signal_handlers(self) -> None:
        # Huey would take over SIGINT/SIGTERM; the management command handles them.
        pass


class BackgroundWorker:
    """Huey worker threads, the periodic scheduler and the heartbeat /healthz reads."""

    def __init__(self, *, threads: int | None = None, periodic: bool = True) -> None:
        from huey.contrib.djhuey import HUEY

        if HUEY.immediate:
            raise CommandError(
                "Huey runs in immediate mode (tests), so there is no queue to consume."
            )
        # Every app's tasks.py registers its tasks and periodic jobs on import.
        autodiscover_modules("tasks")
        options: dict[str, Any] = dict(settings.HUEY.get("consumer", {}))
        options["worker_type"] = "thread"
        options["periodic"] = periodic
        options.setdefault("shutdown_timeout", SHUTDOWN_TIMEOUT)
        # Idle workers poll a SQLite queue with backoff; cap it so a doorbell rung
        # while idle is answered within a second (Redis blocks on the queue instead).
        options.setdefault("max_delay", 1.0)
        if threads is not None:
            options["workers"] = threads
        self.threads = int(options.get("workers", 1))
        self.periodic = periodic
        self.consumer = _EmbeddedConsumer(HUEY, **options)
        self._stop = threading.Event()
        self._watchdog: threading.Thread | None = None
        self._stopped = False

    def start(self) -> None:
        self.consumer.start()
        heartbeat.start(self._stop)
        checkpoint.start(self._stop)
        self._watchdog = threading.Thread(
            target=self._watch, name="heedful-worker-watchdog", daemon=True
        )
        self._watchdog.start()

    def _watch(self) -> None:
        # Huey's own run loop restarts dead worker threads; we replace that loop.
        while not self._stop.wait(HEALTH_CHECK_INTERVAL):
            try:
                self.consumer.check_worker_health()
            except Exception:
                log.exception("Checking the worker threads failed")

    def stop(self) -> None:
        """Let running tasks finish (up to SHUTDOWN_TIMEOUT), then return."""
        if self._stopped:
            return
        self._stopped = True
        self._stop.set()
        self.consumer.stop(graceful=True)
        try:
            self.consumer.huey.notify_interrupted_tasks()
        except Exception:
            log.exception("Recording interrupted tasks failed")
