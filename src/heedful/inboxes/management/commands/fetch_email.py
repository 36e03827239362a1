"""`heedful fetch-email`: fetch every email inbox's IMAP mailbox, in a process of its own.

By default it runs until stopped: one thread per inbox fetches, then waits for new mail
with IDLE (or polls), and the inbox list is read again every minute so an inbox added
in the admin starts without a restart. `--once` fetches every inbox once and exits
(status 1 when any inbox failed). SIGINT or SIGTERM stops it cleanly.
"""

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import close_old_connections, connections

from heedful.inboxes.email import imap
from heedful.inboxes.models import Inbox

RESCAN_SECONDS = 60.0
log = logging.getLogger(__name__)


class Command(BaseCommand):
    help = (
        "Fetch email from the IMAP mailbox of every active email inbox. Runs until stopped, "
        "waiting for new mail with IDLE; --once fetches once and exits."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--once",
            action="store_true",
            help="Fetch every inbox once and exit (status 1 if any inbox failed).",
        )
        parser.add_argument("--inbox", metavar="NAME", help="Only this inbox.")
        parser.add_argument(
            "--batch", type=int, default=50, help="Messages per FETCH (default 50)."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        name = options["inbox"]
        if name is not None:
            _check_inbox(name)
        if options["once"]:
            self.fetch_all_once(name, batch=max(1, options["batch"]))
        else:
            self.watch(name)

    def fetch_all_once(self, name: str | None, *, batch: int) -> None:
        failed = False
        for inbox in imap.fetchable_inboxes(name):
            report = imap.fetch_once(inbox, batch=batch)
            (self.stdout if report.ok else self.stderr).write(str(report))
            failed = failed or not report.ok
        if failed:
            raise SystemExit(1)

    def watch(self, name: str | None) -> None:
        stop = threading.Event()

        def request_stop(signum: int, frame: FrameType | None) -> None:
            stop.set()

        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, request_stop)

        watchers: dict[int, tuple[imap.MailboxWatcher, threading.Event]] = {}
        self.stdout.write("Heedful email fetcher running. Press Ctrl-C to stop.")
        try:
            while not stop.is_set():
                try:
                    self._rescan(name, watchers)
                except Exception:  # the database may be restarting: the watchers go on
                    log.exception("could not read the list of email inboxes")
                stop.wait(RESCAN_SECONDS)
        finally:
            self.stdout.write("Stopping the email fetcher...")
            for _, own_stop in watchers.values():
                own_stop.set()
            for watcher, _ in watchers.values():
                watcher.join(timeout=15)
            connections.close_all()
        self.stdout.write("Email fetcher stopped.")

    def _rescan(
        self, name: str | None, watchers: dict[int, tuple[imap.MailboxWatcher, threading.Event]]
    ) -> None:
        close_old_connections()
        wanted = {inbox.pk: inbox for inbox in imap.fetchable_inboxes(name)}
        for pk in list(watchers):
            watcher, own_stop = watchers[pk]
            if pk not in wanted or not watcher.is_alive():
                own_stop.set()  # the watcher leaves on its own once the inbox is gone
                del watchers[pk]
        for pk, inbox in wanted.items():
            if pk not in watchers:
                own_stop = threading.Event()  # set in watch()'s finally, or here
                watcher = imap.MailboxWatcher(pk, inbox.name, own_stop)
                watcher.start()
                watchers[pk] = (watcher, own_stop)
                self.stdout.write(f"Watching {inbox.name}.")
        close_old_connections()


def _check_inbox(name: str) -> None:
    inbox = Inbox.objects.filter(name=name).first()
    if inbox is None:
        raise CommandError(f"No inbox is named {name!r}.")
    if inbox.kind != "email":
        raise CommandError(f"The inbox {name!r} is a {inbox.kind} inbox, not an email inbox.")
    if not imap.wants_fetching(inbox):
        raise CommandError(
            f"The inbox {name!r} has no IMAP mailbox to fetch (inactive, or no host and "
            "username in its IMAP settings)."
        )
