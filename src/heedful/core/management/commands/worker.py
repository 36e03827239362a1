"""`heedful worker`: the background worker alone, for PostgreSQL + Redis deployments.

Run as many as the load needs; exactly one of them runs the periodic jobs
(`--periodic` or HEEDFUL_PERIODIC=1), so a sweep never runs twice at once.
SIGINT or SIGTERM lets running tasks finish, then exits 0.
"""

import contextlib
import os
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from django.db import connections

from heedful.core.consumer import BackgroundWorker


class Command(BaseCommand):
    help = (
        "Run the background worker (Huey consumer threads and the heartbeat). "
        "Exactly one worker process should run with --periodic."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--periodic",
            action="store_true",
            default=os.environ.get("HEEDFUL_PERIODIC", "") == "1",
            help="Also run the periodic jobs (env HEEDFUL_PERIODIC=1). One process only.",
        )
        parser.add_argument(
            "--threads",
            type=int,
            default=None,
            help="Worker threads (default: HEEDFUL_WORKERS, or the setting).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not settings.REDIS_URL:
            self.stderr.write(
                "Note: without REDIS_URL the queue is a SQLite file and /healthz of a separate "
                "web process cannot see this worker; `heedful run` embeds the worker instead."
            )
        worker = BackgroundWorker(threads=options["threads"], periodic=options["periodic"])
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, request_stop)

        worker.start()
        periodic = "on" if worker.periodic else "off"
        self.stdout.write(
            f"Heedful worker running: {worker.threads} threads, periodic tasks {periodic}, "
            f"PID {os.getpid()}. Press Ctrl-C to stop."
        )
        try:
            while not stop.wait(1):
                pass
        finally:
            self.stdout.write("Stopping: letting running tasks finish...")
            # A second Ctrl-C while tasks finish interrupts them.
            signal.signal(signal.SIGINT, signal.default_int_handler)
            with contextlib.suppress(KeyboardInterrupt):
                worker.stop()
            connections.close_all()
        self.stdout.write("Heedful worker stopped.")
