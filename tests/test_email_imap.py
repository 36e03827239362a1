"""IMAP fetching against a real Dovecot on loopback (tests/mailserver.py)."""

import subprocess
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from imapclient import DELETED, SEEN, IMAPClient

from heedful.conversations.models import Conversation, Message
from heedful.inboxes import secrets
from heedful.inboxes.email import imap, ingest
from heedful.inboxes.management.commands import fetch_email
from heedful.inboxes.models import Inbox, MailboxState, RawInbound
from tests.mailserver import (  # noqa: F401 - fixtures, used by name
    PASSWORD,
    Mailbox,
    email_bytes,
    free_port,
    lone_mailbox_fixture,
    mailbox_fixture,
    mailserver_fixture,
)


def connect_inbox(inbox: Inbox, mailbox: Mailbox, password: str = PASSWORD, **imap_settings):
    inbox.settings = mailbox.settings(**imap_settings)
    inbox.save(update_fields=["settings"])
    secrets.set_secrets(inbox, imap_password=password)
    return inbox


@pytest.fixture
def fetch(django_capture_on_commit_callbacks):
    """fetch_once with the worker's doorbell run, as it runs after a real commit."""

    def run(inbox: Inbox) -> imap.FetchReport:
        with django_capture_on_commit_callbacks(execute=True):
            return imap.fetch_once(inbox)

    return run


def seen(flags: set[bytes]) -> bool:
    return SEEN in flags


@pytest.mark.django_db
def test_fetch_opens_conversations_and_marks_the_messages_seen(cast, mailbox, fetch):
    inbox = connect_inbox(cast.email, mailbox)
    mailbox.append(*(email_bytes(n, sender=f"c{n}@example.test") for n in range(3)))

    report = fetch(inbox)

    assert report.ok, report.errors
    assert (report.fetched, report.stored, report.duplicates) == (3, 3, 0)
    assert Conversation.objects.filter(inbox=inbox).count() == 3
    keys = set(RawInbound.objects.filter(inbox=inbox).values_list("source_key", flat=True))
    state = MailboxState.objects.get(inbox=inbox)
    assert keys == {f"imap:{state.uidvalidity}:{uid}" for uid in (1, 2, 3)}
    assert state.last_uid == 3
    assert state.fetched_count == 3
    assert state.last_success_at is not None
    assert state.last_error == ""
    assert all(seen(flags) for flags in mailbox.flags().values())


@pytest.mark.django_db
def test_a_message_is_marked_seen_only_after_its_raw_row_is_stored(
    cast, mailbox, fetch, monkeypatch
):
    inbox = connect_inbox(cast.email, mailbox)
    mailbox.append(*(email_bytes(n) for n in range(3)))
    real_accept = ingest.accept
    flags_when_stored: list[bool] = []

    def accept(**kwargs):
        flags_when_stored.append(any(seen(f) for f in mailbox.flags().values()))
        if len(flags_when_stored) == 2:
            raise RuntimeError("the database went away")
        return real_accept(**kwargs)

    monkeypatch.setattr(ingest, "accept", accept)
    report = fetch(inbox)

    assert not report.ok
    assert "the database went away" in report.errors[0]
    # Nothing was \Seen while the messages were being stored...
    assert flags_when_stored == [False, False]
    # ...and only the one that was stored is \Seen now; the others wait for the next fetch.
    flags = mailbox.flags()
    assert sorted(seen(f) for f in flags.values()) == [False, False, True]
    assert RawInbound.objects.filter(inbox=inbox).count() == 1
    assert MailboxState.objects.get(inbox=inbox).last_uid == 1

    monkeypatch.setattr(ingest, "accept", real_accept)
    again = fetch(inbox)
    assert again.ok and again.stored == 2
    assert all(seen(f) for f in mailbox.flags().values())


@pytest.mark.django_db
def test_fetching_twice_stores_nothing_new(cast, mailbox, fetch):
    inbox = connect_inbox(cast.email, mailbox)
    mailbox.append(email_bytes(1), email_bytes(2))
    fetch(inbox)

    second = fetch(inbox)

    assert second.ok
    assert (second.fetched, second.stored) == (0, 0)
    assert RawInbound.objects.filter(inbox=inbox).count() == 2


@pytest.mark.django_db
def test_a_fetch_after_a_crash_finishes_the_server_side_step(cast, mailbox, fetch):
    """The raw row was stored but the process died before \\Seen and last_uid."""
    inbox = connect_inbox(cast.email, mailbox)
    mailbox.append(email_bytes(1))
    fetch(inbox)
    with mailbox.client() as client:
        client.remove_flags(client.search("ALL"), [SEEN])
    MailboxState.objects.filter(inbox=inbox).update(last_uid=0)

    report = fetch(inbox)

    assert (report.fetched, report.stored, report.duplicates) == (1, 0, 1)
    assert all(seen(f) for f in mailbox.flags().values())
    assert Message.objects.filter(inbox=inbox).count() == 1


@pytest.mark.django_db
def test_messages_can_be_moved_to_a_folder_after_import(cast, mailbox, fetch):
    inbox = connect_inbox(cast.email, mailbox, after="move", move_to="Imported")
    mailbox.append(email_bytes(1), email_bytes(2))

    report = fetch(inbox)

    assert report.ok and report.stored == 2
    assert mailbox.flags() == {}
    assert len(mailbox.flags("Imported")) == 2


def without_capabilities(monkeypatch, *names: str) -> None:
    """The server (Dovecot has MOVE and UIDPLUS) as one without `names`."""
    real = IMAPClient.has_capability

    def has_capability(self: IMAPClient, capability: str) -> bool:
        return capability.upper() not in names and real(self, capability)

    monkeypatch.setattr(IMAPClient, "has_capability", has_capability)


def moved_in_two_batches(mailbox: Mailbox, inbox: Inbox, capture) -> imap.FetchReport:
    """Three messages, the third flagged \\Deleted by another mail client; fetched two
    at a time, so the first batch is moved while the third waits for the next."""
    mailbox.append(*(email_bytes(n) for n in range(1, 4)))
    with mailbox.client() as client:
        client.add_flags([3], [DELETED])
    with capture(execute=True):
        return imap.fetch_once(inbox, batch=2)


@pytest.mark.django_db
def test_without_move_only_the_imported_messages_are_expunged(
    cast, mailbox, monkeypatch, django_capture_on_commit_callbacks
):
    without_capabilities(monkeypatch, "MOVE")
    inbox = connect_inbox(cast.email, mailbox, after="move", move_to="Imported")

    report = moved_in_two_batches(mailbox, inbox, django_capture_on_commit_callbacks)

    assert report.ok and report.stored == 3
    assert mailbox.flags() == {}
    assert len(mailbox.flags("Imported")) == 3


@pytest.mark.django_db
def test_without_move_or_uidplus_nothing_is_expunged(
    cast, mailbox, monkeypatch, django_capture_on_commit_callbacks
):
    without_capabilities(monkeypatch, "MOVE", "UIDPLUS")
    inbox = connect_inbox(cast.email, mailbox, after="move", move_to="Imported")

    report = moved_in_two_batches(mailbox, inbox, django_capture_on_commit_callbacks)

    assert report.ok and report.stored == 3
    assert len(mailbox.flags("Imported")) == 3
    # The originals stay, flagged \Deleted, for the mail client or server to expunge.
    originals = mailbox.flags()
    assert len(originals) == 3 and all(DELETED in flags for flags in originals.values())


@pytest.mark.django_db
def test_messages_can_be_left_untouched(cast, mailbox, fetch):
    inbox = connect_inbox(cast.email, mailbox, after="leave")
    mailbox.append(email_bytes(1), email_bytes(2))

    fetch(inbox)
    second = fetch(inbox)

    flags = mailbox.flags()
    assert len(flags) == 2
    assert not any(seen(f) for f in flags.values())
    assert second.stored == 0
    assert RawInbound.objects.filter(inbox=inbox).count() == 2


def _recreate_folder(mailbox: Mailbox, folder: str, old_uidvalidity: int) -> None:
    """Delete and create the folder again until the server hands out a new UIDVALIDITY."""
    with mailbox.client(folder=None) as client:
        for _ in range(30):
            client.delete_folder(folder)
            client.create_folder(folder)
            status = client.folder_status(folder, [b"UIDVALIDITY"])
            if int(status[b"UIDVALIDITY"]) != old_uidvalidity:
                return
            time.sleep(0.2)  # Dovecot derives it from the clock
    raise AssertionError("the server kept the same UIDVALIDITY")


@pytest.mark.django_db
def test_a_uidvalidity_change_loses_nothing_and_doubles_nothing(cast, mailbox, fetch):
    inbox = connect_inbox(cast.email, mailbox, folder="Support", after="leave")
    with mailbox.client(folder=None) as client:
        client.create_folder("Support")
    first, second, third = (email_bytes(n) for n in range(3))
    mailbox.append(first, second, folder="Support")
    fetch(inbox)
    old = MailboxState.objects.get(inbox=inbox).uidvalidity
    assert old is not None

    _recreate_folder(mailbox, "Support", old)
    mailbox.append(first, second, third, folder="Support")
    report = fetch(inbox)

    assert report.ok, report.errors
    assert report.uidvalidity_changed
    state = MailboxState.objects.get(inbox=inbox)
    assert state.uidvalidity != old
    assert state.last_uid == 3
    assert report.stored == 3  # new source keys: the old UIDs mean nothing any more
    messages = Message.objects.filter(inbox=inbox)
    assert messages.count() == 3
    assert messages.values("external_id").distinct().count() == 3
    statuses = sorted(RawInbound.objects.filter(inbox=inbox).values_list("status", flat=True))
    assert statuses.count(RawInbound.Status.DUPLICATE) == 2


@pytest.mark.django_db
def test_a_broken_message_is_quarantined_and_the_ones_behind_it_arrive(cast, mailbox, fetch):
    inbox = connect_inbox(cast.email, mailbox)
    broken = email_bytes(2, sender="")  # no From, Sender or Reply-To
    mailbox.append(email_bytes(1), broken, email_bytes(3))

    report = fetch(inbox)

    assert report.ok and report.stored == 3
    rows = list(RawInbound.objects.filter(inbox=inbox).order_by("pk"))
    assert [r.status for r in rows] == [
        RawInbound.Status.PROCESSED,
        RawInbound.Status.QUARANTINED,
        RawInbound.Status.PROCESSED,
    ]
    assert "sender" in rows[1].reason
    assert Message.objects.filter(inbox=inbox).count() == 2
    assert all(seen(f) for f in mailbox.flags().values())


@pytest.mark.django_db
def test_an_oversized_message_keeps_only_its_headers(cast, mailbox, fetch, settings):
    settings.HEEDFUL_MAX_EMAIL_BYTES = 4000
    inbox = connect_inbox(cast.email, mailbox)
    mailbox.append(email_bytes(1, body="x" * 10_000 + "\n"), email_bytes(2))

    report = fetch(inbox)

    assert report.ok and report.oversized == 1 and report.stored == 2
    big = RawInbound.objects.get(inbox=inbox, source_key__endswith=":1")
    assert big.status == RawInbound.Status.QUARANTINED
    assert "over the 4,000-byte limit" in big.reason
    assert b"Subject: Question number 1" in bytes(big.payload)
    assert b"xxxx" not in bytes(big.payload)
    assert Message.objects.filter(inbox=inbox).count() == 1


@pytest.mark.django_db
def test_a_login_failure_is_recorded_with_the_reason(cast, lone_mailbox, fetch):
    inbox = connect_inbox(cast.email, lone_mailbox, password="wrong")

    report = fetch(inbox)

    assert not report.ok
    state = MailboxState.objects.get(inbox=inbox)
    assert state.last_error.startswith("login failed: [AUTHENTICATIONFAILED]")
    assert state.last_error_at is not None and state.last_fetch_at is not None
    assert state.last_success_at is None


@pytest.mark.django_db
def test_connection_test_reports_what_it_found(cast, mailbox):
    inbox = connect_inbox(cast.email, mailbox)
    mailbox.append(email_bytes(1), email_bytes(2))

    assert imap.test_connection(inbox) == (True, "Connected: 2 messages in INBOX, IDLE supported")


@pytest.mark.django_db
def test_connection_test_explains_a_wrong_password(cast, lone_mailbox):
    inbox = connect_inbox(cast.email, lone_mailbox, password="wrong")

    ok, reason = imap.test_connection(inbox)

    assert not ok
    assert reason.startswith("login failed: [AUTHENTICATIONFAILED]")


@pytest.mark.django_db
def test_connection_test_explains_an_unreachable_server(cast, mailbox):
    port = free_port()
    inbox = connect_inbox(cast.email, mailbox, port=port)

    ok, reason = imap.test_connection(inbox)

    assert not ok
    assert reason.startswith(f"could not connect to 127.0.0.1:{port}:")


@pytest.mark.django_db
def test_connection_test_needs_a_stored_password(cast, mailbox):
    inbox = connect_inbox(cast.email, mailbox)
    secrets.set_secrets(inbox, imap_password=None)

    assert imap.test_connection(inbox) == (False, "no IMAP password is stored for this inbox")


@pytest.mark.django_db
def test_fetch_email_once_goes_on_after_a_failing_inbox(cast, mailbox, lone_mailbox, capsys):
    good = connect_inbox(cast.email, mailbox)
    connect_inbox(cast.inbox_a, lone_mailbox, password="wrong")
    mailbox.append(email_bytes(1))

    with pytest.raises(SystemExit) as exited:
        call_command("fetch_email", "--once")

    assert exited.value.code == 1
    assert RawInbound.objects.filter(inbox=good).count() == 1
    assert MailboxState.objects.get(inbox=cast.inbox_a).last_error.startswith("login failed")
    assert "Support A" in capsys.readouterr().err


@pytest.mark.django_db
def test_fetch_email_once_for_one_inbox(cast, mailbox):
    inbox = connect_inbox(cast.email, mailbox)
    mailbox.append(email_bytes(1))

    call_command("fetch_email", "--once", "--inbox", "Shared")

    assert RawInbound.objects.filter(inbox=inbox).count() == 1
    with pytest.raises(CommandError, match="no IMAP mailbox"):
        call_command("fetch_email", "--once", "--inbox", "Support B")
    with pytest.raises(CommandError, match="No inbox is named"):
        call_command("fetch_email", "--once", "--inbox", "Nowhere")


def _wait_until(condition, seconds: float) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return False


@pytest.mark.django_db(transaction=True)
def test_idle_wakes_the_fetcher_when_mail_arrives(cast, mailbox):
    # Polling every ten minutes: only IDLE can bring the message in quickly.
    inbox = connect_inbox(cast.email, mailbox, poll_seconds=600)
    stop = threading.Event()
    watcher = imap.MailboxWatcher(inbox.pk, inbox.name, stop)
    watcher.start()
    try:
        assert _wait_until(
            lambda: MailboxState.objects.filter(
                inbox=inbox, last_success_at__isnull=False
            ).exists(),
            10,
        )
        time.sleep(0.3)  # let it enter IDLE
        mailbox.append(email_bytes(1))
        assert _wait_until(lambda: Message.objects.filter(inbox=inbox).exists(), 10)
    finally:
        stop.set()
        watcher.join(timeout=10)
    assert not watcher.is_alive()
    assert all(seen(f) for f in mailbox.flags().values())


@pytest.mark.django_db(transaction=True)
def test_the_fetcher_reconnects_after_the_server_drops_it(cast, mailbox, monkeypatch):
    monkeypatch.setattr(imap.MailboxWatcher, "first_backoff", 0.2)
    inbox = connect_inbox(cast.email, mailbox, poll_seconds=600)
    stop = threading.Event()
    watcher = imap.MailboxWatcher(inbox.pk, inbox.name, stop)
    watcher.start()
    try:
        assert _wait_until(
            lambda: MailboxState.objects.filter(
                inbox=inbox, last_success_at__isnull=False
            ).exists(),
            10,
        )
        # Kick every session of this user off the server, as a restart would.
        subprocess.run(
            ["doveadm", "-c", str(mailbox.server.root / "dovecot.conf"), "kick", mailbox.user],
            check=True,
            capture_output=True,
        )
        mailbox.append(email_bytes(1))
        assert _wait_until(lambda: Message.objects.filter(inbox=inbox).exists(), 15)
    finally:
        stop.set()
        watcher.join(timeout=10)


@pytest.mark.django_db(transaction=True)
def test_the_fetcher_starts_new_inboxes_and_stops_removed_ones(cast, mailbox):
    command = fetch_email.Command()
    watchers: dict = {}
    command._rescan(None, watchers)
    assert watchers == {}  # no inbox has IMAP settings yet

    inbox = connect_inbox(cast.email, mailbox, poll_seconds=600)
    mailbox.append(email_bytes(1))
    command._rescan(None, watchers)
    assert list(watchers) == [inbox.pk]
    watcher, _ = watchers[inbox.pk]
    try:
        assert _wait_until(lambda: Message.objects.filter(inbox=inbox).exists(), 10)
        Inbox.objects.filter(pk=inbox.pk).update(is_active=False)
        command._rescan(None, watchers)
        assert watchers == {}
        watcher.join(timeout=10)
        assert not watcher.is_alive()
    finally:
        for _, stop in watchers.values():
            stop.set()


def test_bodies_are_fetched_in_groups_that_fit_in_memory(monkeypatch, settings):
    settings.HEEDFUL_MAX_EMAIL_BYTES = 5000
    monkeypatch.setattr(imap, "FETCH_BYTES", 1000)
    sizes = {1: 600, 2: 600, 3: 300, 4: 9000, 5: 900}

    groups = list(imap._groups([1, 2, 3, 4, 5], sizes))

    # 4 is over the size limit: only its header block is fetched, so it weighs nothing.
    assert groups == [[1], [2, 3, 4], [5]]


@pytest.mark.django_db
def test_a_fetch_in_many_small_groups_stores_everything(cast, mailbox, fetch, monkeypatch):
    monkeypatch.setattr(imap, "FETCH_BYTES", 1)
    inbox = connect_inbox(cast.email, mailbox)
    mailbox.append(*(email_bytes(n) for n in range(3)))

    report = fetch(inbox)

    assert report.ok and report.stored == 3
    assert MailboxState.objects.get(inbox=inbox).last_uid == 3


@pytest.mark.parametrize(
    ("stored", "verified"),
    [(None, True), (True, True), (False, False), ("false", False), ("off", False), ("yes", True)],
)
def test_tls_verification_is_on_unless_the_settings_turn_it_off(cast, stored, verified):
    cast.email.settings = {"imap": {} if stored is None else {"verify_tls": stored}}
    assert imap.verify_tls(cast.email) is verified
