"""`heedful restore PATH`: put a `heedful backup` archive back.

Stop Heedful first (`heedful run`, and on PostgreSQL + Redis every web and
worker process): a restore replaces the whole database, and a running server
would keep writing into it or serve from stale state.
"""

import sys
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heedful.core.backups import BackupError, read_manifest, restore_backup


class Command(BaseCommand):
    help = (
        "Restore a backup made by `heedful backup`: database, media files and secret key. "
        "Stop every Heedful process first. Refuses to overwrite a database that holds "
        "data unless --force is given."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="The backup archive (.tar.gz).")
        parser.add_argument(
            "--force",
            action="store_true",
            help="Replace a database that already holds agents, customers or conversations.",
        )
        parser.add_argument(
            "--noinput",
            "--no-input",
            action="store_false",
            dest="interactive",
            help="Do not ask for confirmation.",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        try:
            manifest = read_manifest(path)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        self.stdout.write(
            f"Backup of {manifest['created_at']} (Heedful {manifest['heedful_version']}, "
            f"{manifest['database_vendor']})."
        )
        if options["interactive"] and sys.stdin.isatty():
            answer = input(
                "Stop Heedful first: every `heedful run`, web and worker process.\n"
                "Restore now, replacing the current database? [y/N] "
            )
            if answer.strip().lower() not in {"y", "yes"}:
                raise CommandError("Restore cancelled.")
        try:
            result = restore_backup(path, force=options["force"])
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        lines = [self.style.SUCCESS(f"Restored {path}.")]
        lines.append(f"  Media files restored: {result.media_files}.")
        if result.secret_key_restored:
            lines.append("  The secret key was restored: sessions and signed links stay valid.")
        lines.append(
            "  Start Heedful again; `heedful run` (or `heedful migrate`) applies any newer "
            "migrations."
        )
        self.stdout.write("\n".join(lines))
