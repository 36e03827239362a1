"""`heedful import-email --inbox NAME PATH...`: bring old mail in (a migration).

PATH is a folder of .eml files (searched recursively), a Maildir, or an mbox file.
Each message is keyed by its SHA-256, so running the import again, or after an
interruption, stores nothing twice. Messages are processed here, in order, unless
--queue hands them to the worker.
"""

import hashlib
import mailbox
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heedful.inboxes.email import ingest
from heedful.inboxes.management.commands._email_inbox import email_inbox
from heedful.inboxes.models import RawInbound
from heedful.inboxes.tasks import process_one


def messages_in(path: Path) -> Iterator[tuple[str, bytes]]:
    """(where it came from, raw bytes) for every message under `path`."""
    if path.is_dir() and (path / "cur").is_dir() and (path / "new").is_dir():
        box = mailbox.Maildir(path, factory=None, create=False)
        for key in sorted(box.keys()):
            yield f"{path}:{key}", box.get_bytes(key)
    elif path.is_dir():
        for item in sorted(path.rglob("*.eml")):
            yield str(item), item.read_bytes()
    elif path.is_file() and path.suffix.lower() == ".eml":
        yield str(path), path.read_bytes()
    elif path.is_file():
        mbox = mailbox.mbox(path, factory=None, create=False)
        for key in mbox.iterkeys():
            yield f"{path}:{key}", mbox.get_bytes(key)
    else:
        raise CommandError(f"{path}: no such file or folder")


class Command(BaseCommand):
    help = "Import email from .eml files, a Maildir or an mbox file into an email inbox."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("paths", nargs="+", type=Path)
        parser.add_argument("--inbox", required=True, help="The email inbox's name or address.")
        parser.add_argument(
            "--queue", action="store_true", help="Hand the messages to the worker instead."
        )

    def handle(self, *args: Any, **options: Any) -> None:
        inbox = email_inbox(options["inbox"])
        counts = {"stored": 0, "already there": 0, "quarantined": 0}
        for path in options["paths"]:
            for origin, payload in messages_in(path):
                key = "file:" + hashlib.sha256(payload).hexdigest()
                raw, created = ingest.accept(
                    inbox=inbox, payload=payload, source_key=key, ring=options["queue"]
                )
                if not created:
                    counts["already there"] += 1
                    continue
                counts["stored"] += 1
                if not options["queue"] and raw.status == RawInbound.Status.RECEIVED:
                    status = process_one(raw.pk)  # a quarantine is a status, not an error
                    if status == RawInbound.Status.QUARANTINED:
                        counts["quarantined"] += 1
                        self.stderr.write(f"quarantined: {origin}")
                elif raw.status == RawInbound.Status.QUARANTINED:
                    counts["quarantined"] += 1
                    self.stderr.write(f"quarantined: {origin}")
        summary = ", ".join(f"{n} {what}" for what, n in counts.items())
        self.stdout.write(f"Imported into {inbox.name}: {summary}.")
        if counts["quarantined"]:
            self.stdout.write("Quarantined messages are listed, with the reason, in the admin.")
