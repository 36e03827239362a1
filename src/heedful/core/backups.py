"""One-file backups: the database, media files and the secret key, with a manifest.

Archive layout (tar.gz):

    manifest.json       format, Heedful version, database vendor, created_at, ...
    database.sqlite3    SQLite: a consistent copy made online with VACUUM INTO
    database.pgdump     PostgreSQL: pg_dump custom format
    media/...           MEDIA_ROOT (left out when media lives in object storage)
    secret_key          the generated key under the data directory, when there is one

The Huey queue is not included: tasks only ring doorbells, and the periodic
sweeps redo whatever a lost task would have done. Nor is the key that encrypts
inbox credentials (inboxes.secrets, var/secrets.key): an archive that leaks must
not hand over the mailboxes too. Back that key up on its own.
"""

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, connections

FORMAT = 1
MANIFEST = "manifest.json"
SQLITE_FILE = "database.sqlite3"
PG_FILE = "database.pgdump"
MEDIA_DIR = "media"
SECRET_KEY_FILE = "secret_key"  # noqa: S105 (a file name)


class BackupError(Exception):
    """A backup or restore that cannot go on; the message says why and what to do."""


@dataclass(frozen=True)
class RestoreResult:
    manifest: dict[str, Any]
    media_files: int
    secret_key_restored: bool


def heedful_version() -> str:
    try:
        return metadata.version("heedful")
    except metadata.PackageNotFoundError:
        return "unknown"


def database_vendor(alias: str = DEFAULT_DB_ALIAS) -> str:
    return connections[alias].vendor


def default_output() -> Path:
    stamp = datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path(settings.DATA_DIR) / "backups" / f"heedful-{stamp}.tar.gz"


def media_in_files() -> bool:
    backend = settings.STORAGES["default"]["BACKEND"]
    return backend == "django.core.files.storage.FileSystemStorage"


def secret_key_path() -> Path:
    return Path(settings.DATA_DIR) / "secret_key"


# --- backup ------------------------------------------------------------------


def create_backup(output: Path | None = None, alias: str = DEFAULT_DB_ALIAS) -> Path:
    output = Path(output) if output else default_output()
    output.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    if output.exists():
        raise BackupError(f"{output} already exists; choose another --output.")
    vendor = database_vendor(alias)
    manifest: dict[str, Any] = {
        "format": FORMAT,
        "heedful_version": heedful_version(),
        "database_vendor": vendor,
        "created_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "migrations": applied_migrations(alias),
    }
    # Work beside the output: the database copy may be large, and /tmp small.
    with tempfile.TemporaryDirectory(dir=output.parent, prefix=".heedful-backup-") as tmp:
        work = Path(tmp)
        if vendor == "sqlite":
            _dump_sqlite(work / SQLITE_FILE, alias)
            manifest["database_file"] = SQLITE_FILE
        elif vendor == "postgresql":
            _dump_postgresql(work / PG_FILE, alias)
            manifest["database_file"] = PG_FILE
        else:
            raise BackupError(f"Backups of {vendor} databases are not supported.")

        media_root = Path(settings.MEDIA_ROOT)
        if not media_in_files():
            manifest["media"] = "object storage (back up the bucket itself)"
            manifest["media_files"] = 0
        else:
            manifest["media"] = "included"
            manifest["media_files"] = _count_files(media_root)
        key = secret_key_path()
        manifest["secret_key"] = key.is_file()
        manifest["inbox_secrets_key"] = "not included: back up HEEDFUL_SECRETS_KEY separately"
        (work / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n")

        partial = output.with_name(output.name + ".partial")
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as raw, tarfile.open(fileobj=raw, mode="w:gz") as tar:
            tar.add(work / MANIFEST, arcname=MANIFEST, filter=_private)
            database_file = manifest["database_file"]
            tar.add(work / database_file, arcname=database_file, filter=_private)
            if manifest["media"] == "included" and media_root.is_dir():
                tar.add(media_root, arcname=MEDIA_DIR, filter=_private)
            if manifest["secret_key"]:
                tar.add(key, arcname=SECRET_KEY_FILE, filter=_private)
        os.replace(partial, output)
    return output


def _private(info: tarfile.TarInfo) -> tarfile.TarInfo:
    # Customer data and the key: readable by the owner only, wherever it is unpacked.
    info.mode = 0o700 if info.isdir() else 0o600
    info.uid = info.gid = 0
    info.uname = info.gname = ""
    return info


def applied_migrations(alias: str = DEFAULT_DB_ALIAS) -> dict[str, str]:
    """The last applied migration of each app, to tell which version a backup needs."""
    from django.db.migrations.recorder import MigrationRecorder

    latest: dict[str, str] = {}
    recorder = MigrationRecorder(connections[alias])
    if not recorder.has_table():
        return latest
    for app, name in sorted(recorder.applied_migrations()):
        latest[app] = max(latest.get(app, ""), name)
    return latest


def _count_files(root: Path) -> int:
    return sum(1 for path in root.rglob("*") if path.is_file()) if root.is_dir() else 0


def _dump_sqlite(target: Path, alias: str) -> None:
    connection = connections[alias]
    connection.ensure_connection()
    # VACUUM INTO reads one snapshot: a consistent copy while web and worker keep writing.
    with connection.cursor() as cursor:
        cursor.execute("VACUUM INTO %s", [str(target)])


def pg_args(settings_dict: dict[str, Any]) -> tuple[list[str], dict[str, str], str]:
    """Connection options for pg_dump / pg_restore; the password travels in PGPASSWORD."""
    from django.db.backends.postgresql.client import DatabaseClient

    args, env = DatabaseClient.settings_to_cmd_args_env(settings_dict, [])
    dbname = settings_dict.get("NAME") or ""
    # psql's arguments are [psql, -U user, -h host, -p port, dbname]: keep the options.
    options = args[1:-1] if dbname and args[-1] == dbname else args[1:]
    return options, {**os.environ, **(env or {})}, dbname


def _run(command: list[str], env: dict[str, str]) -> None:
    tool = command[0]
    if shutil.which(tool) is None:
        raise BackupError(
            f"{tool} is not installed. Install the PostgreSQL client tools "
            "(Debian/Ubuntu: apt-get install postgresql-client), matching the server's version."
        )
    # The command is our own list of arguments, never a shell string.
    result = subprocess.run(  # noqa: S603
        command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{tool} failed: {result.stderr.strip() or result.stdout.strip()}")


def _dump_postgresql(target: Path, alias: str) -> None:
    options, env, dbname = pg_args(connections[alias].settings_dict)
    command = ["pg_dump", "--format=custom", "--no-owner", "--no-privileges", *options]
    command += ["--file", str(target)]
    if dbname:
        command += ["--dbname", dbname]
    _run(command, env)


# --- restore -----------------------------------------------------------------


def read_manifest(archive: Path) -> dict[str, Any]:
    try:
        with tarfile.open(archive, "r:gz") as tar:
            member = tar.extractfile(MANIFEST)
            if member is None:
                raise KeyError(MANIFEST)
            manifest: dict[str, Any] = json.loads(member.read())
    except (OSError, tarfile.TarError, KeyError, ValueError) as exc:
        raise BackupError(f"{archive} is not a Heedful backup ({exc}).") from exc
    if manifest.get("format") != FORMAT:
        raise BackupError(f"Unknown backup format {manifest.get('format')!r} in {archive}.")
    return manifest


def database_contents(alias: str = DEFAULT_DB_ALIAS) -> dict[str, int]:
    """Rows that a restore would replace: agents, customers and conversations."""
    from heedful.accounts.models import User
    from heedful.conversations.models import Conversation
    from heedful.customers.models import Customer

    tables = set(connections[alias].introspection.table_names())
    counts: dict[str, int] = {}
    models = (("agents", User), ("customers", Customer), ("conversations", Conversation))
    for label, model in models:
        if model._meta.db_table in tables:
            counts[label] = model._default_manager.using(alias).count()
    return {label: n for label, n in counts.items() if n}


def restore_backup(
    archive: Path, *, force: bool = False, alias: str = DEFAULT_DB_ALIAS
) -> RestoreResult:
    archive = Path(archive)
    if not archive.is_file():
        raise BackupError(f"{archive} does not exist.")
    manifest = read_manifest(archive)
    vendor = database_vendor(alias)
    if manifest.get("database_vendor") != vendor:
        raise BackupError(
            f"This backup holds a {manifest.get('database_vendor')} database and this "
            f"installation uses {vendor}. Restore it on a {manifest.get('database_vendor')} "
            "installation."
        )
    existing = database_contents(alias)
    if existing and not force:
        found = ", ".join(f"{label}: {n}" for label, n in existing.items())
        raise BackupError(
            f"The database is not empty ({found}). Restoring replaces all of it; "
            "add --force to go ahead."
        )
    with tempfile.TemporaryDirectory(prefix=".heedful-restore-", dir=_scratch_dir()) as tmp:
        work = Path(tmp)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                # The "data" filter refuses absolute paths, "..", links and device files.
                tar.extractall(work, filter="data")
        except (OSError, tarfile.TarError) as exc:
            raise BackupError(f"{archive} cannot be unpacked safely ({exc}).") from exc
        expected = SQLITE_FILE if vendor == "sqlite" else PG_FILE
        if manifest.get("database_file") != expected or not (work / expected).is_file():
            raise BackupError(f"{archive} has no {expected} database file.")
        database_file = work / expected
        if vendor == "sqlite":
            _load_sqlite(database_file, alias)
        else:
            _load_postgresql(database_file, alias)
        media_files = _restore_media(work / MEDIA_DIR)
        key_restored = _restore_secret_key(work / SECRET_KEY_FILE)
    connections[alias].close()
    return RestoreResult(manifest, media_files, key_restored)


def _scratch_dir() -> Path:
    path = Path(settings.DATA_DIR)
    path.mkdir(parents=True, exist_ok=True)
    return path


def _load_sqlite(source: Path, alias: str) -> None:
    connection = connections[alias]
    connection.ensure_connection()
    target = connection.connection
    # The backup API replaces every page of the live database in one step, WAL
    # included, instead of swapping files under open connections.
    src = sqlite3.connect(source)
    try:
        if src.execute("PRAGMA integrity_check").fetchone() != ("ok",):
            raise BackupError(f"{source.name} in the backup is damaged.")
        src.backup(target)
    except sqlite3.DatabaseError as exc:
        raise BackupError(f"{source.name} in the backup is not a usable database ({exc}).") from exc
    finally:
        src.close()
    connection.close()


def _load_postgresql(source: Path, alias: str) -> None:
    connection = connections[alias]
    _options, env, _dbname = pg_args(connection.settings_dict)
    # Check that this pg_restore can read the dump before anything is dropped.
    _run(["pg_restore", "--list", str(source)], env)
    # Tables newer than the backup would break its migration history: start clean.
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT tablename FROM pg_tables WHERE schemaname = current_schema() "
            "AND tableowner = current_user"
        )
        tables = [row[0] for row in cursor.fetchall()]
        if tables:
            quoted = ", ".join(connection.ops.quote_name(name) for name in tables)
            cursor.execute(f"DROP TABLE IF EXISTS {quoted} CASCADE")
    connection.close()
    if hasattr(connection, "close_pool"):
        connection.close_pool()
    options, env, dbname = pg_args(connections[alias].settings_dict)
    command = ["pg_restore", "--clean", "--if-exists", "--no-owner", "--no-privileges"]
    command += ["--single-transaction", "--exit-on-error", *options]
    if dbname:
        command += ["--dbname", dbname]
    command.append(str(source))
    _run(command, env)


def _restore_media(source: Path) -> int:
    if not source.is_dir():
        return 0
    if not media_in_files():
        print(
            "Media files in the backup were not restored: media is configured to live in "
            "object storage.",
            file=sys.stderr,
        )
        return 0
    media_root = Path(settings.MEDIA_ROOT)
    count = 0
    for path in source.rglob("*"):
        if path.is_file():
            target = media_root / path.relative_to(source)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, target)
            count += 1
    return count


def _restore_secret_key(source: Path) -> bool:
    # With SECRET_KEY in the environment the file is not read; leave it alone.
    if not source.is_file() or os.environ.get("SECRET_KEY"):
        return False
    key = source.read_text().strip()
    target = secret_key_path()
    if target.is_file() and target.read_text().strip() == key:
        return False
    partial = target.with_name(target.name + ".partial")
    fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as fh:
        fh.write(key)
    os.replace(partial, target)
    return True
