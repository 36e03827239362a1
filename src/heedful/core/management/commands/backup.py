"""`heedful backup`: one archive with the database, media files and the secret key."""

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser

from heedful.core.backups import BackupError, create_backup, default_output, read_manifest


class Command(BaseCommand):
    help = (
        "Write a backup archive (tar.gz): the database (SQLite: VACUUM INTO, safe while "
        "Heedful runs; PostgreSQL: pg_dump), media files and the secret key, with a manifest. "
        "Default: var/backups/heedful-YYYYmmdd-HHMMSS.tar.gz."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--output", "-o", type=Path, help="Where to write the archive.")

    def handle(self, *args: Any, **options: Any) -> None:
        output = options["output"] or default_output()
        try:
            path = create_backup(output)
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = read_manifest(path)
        size = path.stat().st_size / 1024 / 1024
        media = manifest["media"]
        if media == "included":
            media = f"{manifest['media_files']} media files"
        key = "secret key included" if manifest["secret_key"] else "no secret key file"
        self.stdout.write(
            self.style.SUCCESS(f"Backup written to {path} ({size:.1f} MiB)")
            + f"\n  {manifest['database_vendor']} database, {media}, {key}."
            "\n  It holds customer data and the secret key: keep it somewhere safe."
            "\n  Not included: the key that encrypts mailbox passwords (HEEDFUL_SECRETS_KEY or "
            f"{settings.HEEDFUL_SECRETS_KEY_FILE}). Keep a copy of it apart from the backups."
        )
