"""`heedful ingest-email --inbox NAME < message.eml`: the pipe for a local mail server.

For a Postfix or Exim transport. The raw message is committed before the command
exits 0, so the mail server may forget it; processing happens in the worker (or
here, with --now). Exit codes follow sysexits.h as mail servers expect: 75
(EX_TEMPFAIL) when the message could not be stored, so the server keeps it and
tries again later; a configuration mistake (an unknown inbox) is temporary too,
because bouncing a customer's mail for our typo would lose it.
"""

import sys
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heedful.inboxes.email import ingest
from heedful.inboxes.management.commands._email_inbox import email_inbox

EX_TEMPFAIL = 75


class Command(BaseCommand):
    help = "Store one email read from standard input in an email inbox (for a mail server pipe)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--inbox", required=True, help="The email inbox's name or address.")
        parser.add_argument(
            "--now",
            action="store_true",
            help="Process the message in this process instead of handing it to the worker.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        try:
            inbox = email_inbox(options["inbox"])
            payload = sys.stdin.buffer.read()
            if not payload.strip():
                raise CommandError("standard input is empty: no message to store")
            raw, _created = ingest.accept(inbox=inbox, payload=payload, ring=not options["now"])
        except CommandError as exc:
            self.stderr.write(f"heedful ingest-email: {exc}")
            sys.exit(EX_TEMPFAIL)
        except Exception as exc:  # the database is down: the mail server must keep the mail
            self.stderr.write(f"heedful ingest-email: could not store the message: {exc}")
            sys.exit(EX_TEMPFAIL)
        if options["now"] and raw.status == raw.Status.RECEIVED:
            from heedful.inboxes.tasks import process_one

            try:
                status = process_one(raw.pk)
            except Exception as exc:
                # Stored is what the mail server needs to hear: a non-zero exit here
                # would bounce a message we have. The worker's sweep tries again.
                self.stderr.write(f"heedful ingest-email: stored, processing failed: {exc}")
                status = raw.status
        else:
            status = raw.status
        if options["verbosity"] > 0:
            self.stdout.write(f"stored raw message {raw.pk} ({status})")
