"""`heedful ingest-email` (the mail server pipe) and `heedful import-email` (migrations)."""

import io
import mailbox
import sys

import pytest
from django.core.management import call_command

from heedful.conversations.models import Message
from heedful.inboxes.models import RawInbound
from tests.test_email_ingest import email_bytes

pytestmark = pytest.mark.django_db


class Stdin:
    def __init__(self, data: bytes) -> None:
        self.buffer = io.BytesIO(data)


def pipe(monkeypatch, data: bytes, *args: str) -> int:
    monkeypatch.setattr(sys, "stdin", Stdin(data))
    try:
        call_command("ingest_email", *args, stdout=io.StringIO(), stderr=io.StringIO())
    except SystemExit as exc:
        return int(exc.code or 0)
    return 0


def test_the_pipe_stores_and_processes_a_message(cast, monkeypatch):
    assert pipe(monkeypatch, email_bytes(subject="Piped"), "--inbox", "Shared", "--now") == 0
    raw = RawInbound.objects.get()
    assert raw.status == RawInbound.Status.PROCESSED
    assert raw.message is not None
    assert raw.message.conversation.subject == "Piped"


def test_the_pipe_finds_the_inbox_by_address(cast, monkeypatch):
    assert pipe(monkeypatch, email_bytes(), "--inbox", "help@support.test", "--now") == 0
    assert Message.objects.count() == 1


def test_the_pipe_tells_the_mail_server_to_retry_when_the_inbox_is_unknown(cast, monkeypatch):
    assert pipe(monkeypatch, email_bytes(), "--inbox", "Nope") == 75
    assert not RawInbound.objects.exists()


def test_the_pipe_refuses_empty_input(cast, monkeypatch):
    assert pipe(monkeypatch, b"  \n", "--inbox", "Shared") == 75


def test_the_pipe_hands_the_message_to_the_worker(
    cast, monkeypatch, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        assert pipe(monkeypatch, email_bytes(), "--inbox", "Shared") == 0
    # Huey runs tasks at once in tests: the worker's task processed it.
    assert RawInbound.objects.get().status == RawInbound.Status.PROCESSED


def test_importing_a_folder_twice_stores_each_message_once(cast, tmp_path):
    folder = tmp_path / "export"
    (folder / "2024").mkdir(parents=True)
    for n in range(3):
        (folder / "2024" / f"{n}.eml").write_bytes(email_bytes(subject=f"Old {n}"))
    (folder / "broken.eml").write_bytes(b"Subject: no sender\r\n\r\nbody\r\n")
    out = io.StringIO()
    call_command("import_email", str(folder), "--inbox", "Shared", stdout=out, stderr=io.StringIO())
    assert "3 stored" not in out.getvalue()  # four files: three good, one quarantined
    assert "4 stored" in out.getvalue() and "1 quarantined" in out.getvalue()
    assert Message.objects.count() == 3
    again = io.StringIO()
    call_command("import_email", str(folder), "--inbox", "Shared", stdout=again)
    assert "0 stored, 4 already there" in again.getvalue()
    assert Message.objects.count() == 3


def test_importing_an_mbox_and_a_maildir(cast, tmp_path):
    box = mailbox.mbox(tmp_path / "old.mbox")
    box.add(email_bytes(subject="From mbox"))
    box.flush()
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(email_bytes(subject="From maildir"))
    call_command(
        "import_email",
        str(tmp_path / "old.mbox"),
        str(tmp_path / "Maildir"),
        "--inbox",
        "Shared",
        stdout=io.StringIO(),
    )
    subjects = set(Message.objects.values_list("conversation__subject", flat=True))
    assert subjects == {"From mbox", "From maildir"}
