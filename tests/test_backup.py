"""`heedful backup` / `heedful restore`: a round trip on the database in use
(SQLite by default, PostgreSQL with DATABASE_URL), media and the secret key."""

import io
import json
import re
import tarfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from heedful.conversations.inbound import InboundAttachment
from heedful.conversations.models import Attachment, Conversation
from heedful.core import backups
from heedful.core.backups import BackupError, create_backup, read_manifest, restore_backup

# VACUUM INTO cannot run inside a transaction and pg_dump sees committed rows only.
transactional = pytest.mark.django_db(transaction=True)


@pytest.fixture
def dirs(settings, tmp_path: Path) -> tuple[Path, Path]:
    """A data directory (with a secret key file) and a media root of the test's own."""
    data, media = tmp_path / "data", tmp_path / "media"
    data.mkdir()
    settings.DATA_DIR = data
    settings.MEDIA_ROOT = str(media)
    (data / "secret_key").write_text("the-original-key")
    return data, media


def _conversation_with_attachment(cast) -> tuple[Conversation, Attachment]:
    pdf = InboundAttachment("receipt.pdf", "application/pdf", b"%PDF-1.4 receipt")
    conversation = cast.conversation_a(attachments=(pdf,))
    return conversation, Attachment.objects.get(message__conversation=conversation)


@transactional
def test_backup_archive_has_manifest_database_media_and_key(cast, dirs, tmp_path):
    _conversation_with_attachment(cast)
    archive = create_backup(tmp_path / "backup.tar.gz")

    manifest = read_manifest(archive)
    assert manifest["format"] == backups.FORMAT
    assert manifest["database_vendor"] == backups.database_vendor()
    assert manifest["created_at"]
    assert manifest["media"] == "included"
    assert manifest["media_files"] == 1
    assert manifest["secret_key"] is True
    assert "conversations" in manifest["migrations"]
    with tarfile.open(archive) as tar:
        names = set(tar.getnames())
        assert {"manifest.json", manifest["database_file"], "secret_key"} <= names
        assert any(name.startswith("media/attachments/") for name in names)
        assert all(member.mode & 0o077 == 0 for member in tar.getmembers())
    assert archive.stat().st_mode & 0o077 == 0


@transactional
def test_restore_into_an_empty_database_brings_everything_back(cast, dirs, tmp_path):
    data, media = dirs
    conversation, attachment = _conversation_with_attachment(cast)
    stored = Path(attachment.file.path).read_bytes()
    archive = create_backup(tmp_path / "backup.tar.gz")

    call_command("flush", interactive=False, verbosity=0)
    for path in media.rglob("*"):
        if path.is_file():
            path.unlink()
    (data / "secret_key").write_text("a-new-installation-key")

    result = restore_backup(archive)

    restored = Conversation.objects.get(pk=conversation.pk)
    assert restored.subject == conversation.subject
    assert restored.customer.identities.filter(address="one@customer.test").exists()
    attachment = Attachment.objects.get(pk=attachment.pk)
    assert Path(attachment.file.path).read_bytes() == stored
    assert result.media_files == 1
    assert result.secret_key_restored
    assert (data / "secret_key").read_text() == "the-original-key"


@transactional
def test_restore_refuses_a_database_with_data_unless_forced(cast, dirs, tmp_path):
    kept = cast.conversation_a()
    archive = create_backup(tmp_path / "backup.tar.gz")
    later = cast.conversation_b()

    with pytest.raises(BackupError, match=r"not empty.*--force"):
        restore_backup(archive)
    assert Conversation.objects.filter(pk=later.pk).exists()

    restore_backup(archive, force=True)
    assert list(Conversation.objects.values_list("pk", flat=True)) == [kept.pk]


@transactional
def test_backup_command_writes_under_the_data_directory(cast, dirs):
    data, _ = dirs
    out = io.StringIO()
    call_command("backup", stdout=out)
    [archive] = (data / "backups").iterdir()
    assert re.fullmatch(r"heedful-\d{8}-\d{6}\.tar\.gz", archive.name)
    assert str(archive) in out.getvalue()


@transactional
def test_restore_command_refuses_with_a_clear_error(cast, dirs, tmp_path):
    cast.conversation_a()
    archive = create_backup(tmp_path / "backup.tar.gz")
    with pytest.raises(CommandError, match="--force"):
        call_command("restore", str(archive), interactive=False, stdout=io.StringIO())


@transactional
def test_media_in_object_storage_is_left_to_the_bucket(cast, dirs, settings, tmp_path):
    _conversation_with_attachment(cast)
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {"BACKEND": "storages.backends.s3.S3Storage", "OPTIONS": {}},
    }
    archive = create_backup(tmp_path / "backup.tar.gz")
    assert read_manifest(archive)["media"].startswith("object storage")
    with tarfile.open(archive) as tar:
        assert not any(name.startswith("media") for name in tar.getnames())


def _archive(path: Path, manifest: dict, extra: dict[str, bytes]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for name, content in {"manifest.json": json.dumps(manifest).encode(), **extra}.items():
            info = tarfile.TarInfo(name)
            info.size = len(content)
            tar.addfile(info, io.BytesIO(content))
    return path


def test_restore_refuses_a_backup_from_another_database_vendor(dirs, tmp_path):
    other = "postgresql" if backups.database_vendor() == "sqlite" else "sqlite"
    manifest = {"format": 1, "database_vendor": other, "database_file": "database.x"}
    archive = _archive(tmp_path / "other.tar.gz", manifest, {"database.x": b""})
    with pytest.raises(BackupError, match=f"holds a {other} database"):
        restore_backup(archive)


@pytest.mark.django_db
def test_restore_refuses_paths_outside_the_archive(dirs, tmp_path):
    manifest = {
        "format": 1,
        "database_vendor": backups.database_vendor(),
        "database_file": "database.x",
    }
    archive = _archive(tmp_path / "evil.tar.gz", manifest, {"../escaped": b"gotcha"})
    with pytest.raises(BackupError, match="cannot be unpacked safely"):
        restore_backup(archive)
    assert not any(path.name == "escaped" for path in tmp_path.rglob("*"))


def test_not_a_backup(dirs, tmp_path):
    junk = tmp_path / "junk.tar.gz"
    junk.write_bytes(b"not a tarball")
    with pytest.raises(BackupError, match="not a Heedful backup"):
        restore_backup(junk)


def test_postgresql_password_travels_in_the_environment_only():
    settings_dict = {
        "NAME": "heedful",
        "USER": "care",
        "PASSWORD": "s3cret",
        "HOST": "db.internal",
        "PORT": 5433,
        "OPTIONS": {"sslmode": "require"},
    }
    options, env, dbname = backups.pg_args(settings_dict)
    assert options == ["-U", "care", "-h", "db.internal", "-p", "5433"]
    assert dbname == "heedful"
    assert "s3cret" not in " ".join(options)
    assert env["PGPASSWORD"] == "s3cret"
    assert env["PGSSLMODE"] == "require"
