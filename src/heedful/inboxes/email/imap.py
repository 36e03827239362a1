"""Fetching an email inbox's mailbox over IMAP, so that nothing is lost or doubled.

The order of every step is what makes a crash harmless:

1. FETCH the message with BODY.PEEK[] (reading never sets \\Seen);
2. `ingest.accept` commits the raw bytes under source_key "imap:<uidvalidity>:<uid>";
3. only then mark it \\Seen, move it, or leave it, as the inbox says;
4. then advance MailboxState.last_uid.

A crash after 2 re-fetches the message, finds the stored row by its source_key and just
finishes 3 and 4. A crash before 2 leaves the message untouched on the server. When the
server changes UIDVALIDITY the UIDs start over: everything is fetched again under the new
value and the pipeline's dedupe on Message-ID keeps each message once.
"""

import logging
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings
from django.db import close_old_connections, connection
from django.db.models import F
from django.utils import timezone
from imapclient import DELETED, SEEN, IMAPClient
from imapclient.exceptions import IMAPClientError, LoginError
from imapclient.imapclient import SocketTimeout

from heedful.inboxes import secrets
from heedful.inboxes.email import ingest
from heedful.inboxes.email.config import EmailSettings, ImapSettings
from heedful.inboxes.models import Inbox, MailboxState

log = logging.getLogger(__name__)

CONNECT_TIMEOUT = 20.0
# Per read or write on the socket, not per command: a large FETCH keeps arriving.
READ_TIMEOUT = 120.0
# Servers may drop an idle client after 30 minutes (RFC 2177): re-issue IDLE before.
IDLE_SECONDS = 25 * 60
# At most this many bytes of message bodies in memory per FETCH.
FETCH_BYTES = 32 * 1024 * 1024


class ImapError(Exception):
    """Fetching failed for a reason worth showing an admin as it is."""


@dataclass
class FetchReport:
    inbox: str
    fetched: int = 0  # messages read from the server
    stored: int = 0  # new raw rows
    duplicates: int = 0  # already stored (fetched again after a crash or a retry)
    oversized: int = 0  # over HEEDFUL_MAX_EMAIL_BYTES: headers only, quarantined
    uidvalidity_changed: bool = False
    errors: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors

    def __str__(self) -> str:
        line = (
            f"{self.inbox}: {self.fetched} fetched, {self.stored} stored, "
            f"{self.duplicates} already stored, {self.oversized} over the size limit"
        )
        if self.uidvalidity_changed:
            line += ", UIDVALIDITY changed (mailbox re-read)"
        return line + "".join(f"; error: {e}" for e in self.errors)


# --- connecting -------------------------------------------------------------------


def verify_tls(inbox: Inbox) -> bool:
    """`imap.verify_tls` (default true); false accepts a self-signed test server."""
    return bool(EmailSettings.of(inbox).imap.verify_tls)


def _tls_context(inbox: Inbox) -> ssl.SSLContext:
    context = ssl.create_default_context()
    if not verify_tls(inbox):
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
    return context


def _credential(inbox: Inbox, config: ImapSettings) -> str:
    name = "imap_oauth_token" if config.auth == "oauth2" else "imap_password"
    try:
        value = secrets.get_secret(inbox, name)
    except secrets.SecretsUnreadable as exc:
        raise ImapError(str(exc)) from None
    if not value:
        what = "OAuth2 token" if config.auth == "oauth2" else "password"
        raise ImapError(f"no IMAP {what} is stored for this inbox")
    return value


def connect(inbox: Inbox) -> IMAPClient:
    """A logged-in client for the inbox's mailbox, or ImapError with a clear reason."""
    config = EmailSettings.of(inbox).imap
    if not config.configured:
        raise ImapError("IMAP is not configured (host and username are needed)")
    secret = _credential(inbox, config)
    where = f"{config.host}:{config.port}"
    try:
        client = IMAPClient(
            config.host,
            port=config.port,
            ssl=config.security == "ssl",
            ssl_context=_tls_context(inbox) if config.security == "ssl" else None,
            timeout=SocketTimeout(connect=CONNECT_TIMEOUT, read=READ_TIMEOUT),
        )
    except (OSError, IMAPClientError) as exc:
        raise ImapError(f"could not connect to {where}: {_describe(exc)}") from exc
    try:
        if config.security == "starttls":
            client.starttls(_tls_context(inbox))
        if config.auth == "oauth2":
            client.oauth2_login(config.username, secret)
        else:
            client.login(config.username, secret)
    except LoginError as exc:
        _close(client)
        raise ImapError(f"login failed: {_describe(exc)}") from exc
    except (OSError, IMAPClientError) as exc:
        _close(client)
        raise ImapError(f"could not connect to {where}: {_describe(exc)}") from exc
    return client


@contextmanager
def connected(inbox: Inbox) -> Iterator[IMAPClient]:
    client = connect(inbox)
    try:
        yield client
    finally:
        _close(client)


def _close(client: IMAPClient) -> None:
    try:
        client.logout()
    except Exception:  # the connection may be gone already; nothing to save
        try:
            client.shutdown()
        except Exception:
            log.debug("closing an IMAP connection failed", exc_info=True)


def _describe(exc: BaseException) -> str:
    text = str(exc).strip()
    if text.startswith("b'") or text.startswith('b"'):
        text = text[2:-1]
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"timed out ({text})" if text and text != "timed out" else "timed out"
    return text or type(exc).__name__


def test_connection(inbox: Inbox) -> tuple[bool, str]:
    """Connect, log in and select the folder: (True, what was found) or (False, why not)."""
    config = EmailSettings.of(inbox).imap
    try:
        with connected(inbox) as client:
            info = client.select_folder(config.folder, readonly=True)
            idle = "IDLE supported" if client.has_capability("IDLE") else "no IDLE (polling)"
            count = int(info.get(b"EXISTS", 0))
    except ImapError as exc:
        return False, str(exc)
    except (OSError, IMAPClientError) as exc:
        return False, f"could not open the folder {config.folder!r}: {_describe(exc)}"
    return True, f"Connected: {count} messages in {config.folder}, {idle}"


test_connection.__test__ = False  # type: ignore[attr-defined]  # not a pytest test


# --- fetching ---------------------------------------------------------------------


def fetch_once(inbox: Inbox, *, batch: int = 50) -> FetchReport:
    """Connect, fetch what is new, disconnect; the outcome goes to MailboxState."""
    report = FetchReport(inbox=inbox.name)
    started = _attempt(inbox)
    try:
        with connected(inbox) as client:
            fetch_new(client, inbox, report, batch=batch)
    except Exception as exc:  # recorded for the admin; the other inboxes go on
        _failed(inbox, report, exc)
    else:
        _succeeded(inbox, report, started)
    return report


def fetch_with(client: IMAPClient, inbox: Inbox, *, batch: int = 50) -> FetchReport:
    """Fetch on an open connection (the long-lived fetcher); health recorded the same.

    A connection error is recorded and raised again, so the caller reconnects.
    """
    report = FetchReport(inbox=inbox.name)
    started = _attempt(inbox)
    try:
        fetch_new(client, inbox, report, batch=batch)
    except Exception as exc:
        _failed(inbox, report, exc)
        raise
    _succeeded(inbox, report, started)
    return report


def fetch_new(client: IMAPClient, inbox: Inbox, report: FetchReport, *, batch: int) -> None:
    config = EmailSettings.of(inbox).imap
    state, _ = MailboxState.objects.get_or_create(inbox=inbox)
    info = client.select_folder(config.folder)
    uidvalidity = int(info[b"UIDVALIDITY"])
    if state.uidvalidity != uidvalidity:
        if state.uidvalidity is not None:
            report.uidvalidity_changed = True
            log.warning(
                "%s: UIDVALIDITY changed from %s to %s; reading the folder again",
                inbox.name,
                state.uidvalidity,
                uidvalidity,
            )
        state.uidvalidity, state.last_uid = uidvalidity, 0
        MailboxState.objects.filter(pk=state.pk).update(uidvalidity=uidvalidity, last_uid=0)
    if config.after == "move":
        _ensure_folder(client, config.move_to)
    # "n:*" always matches the highest UID even when it is below n: filter it out.
    uids = sorted(
        u for u in client.search(["UID", f"{state.last_uid + 1}:*"]) if u > state.last_uid
    )
    for start in range(0, len(uids), batch):
        _fetch_batch(client, inbox, config, uidvalidity, uids[start : start + batch], report)


def _fetch_batch(
    client: IMAPClient,
    inbox: Inbox,
    config: ImapSettings,
    uidvalidity: int,
    uids: list[int],
    report: FetchReport,
) -> None:
    found = client.fetch(uids, ["RFC822.SIZE"])  # a UID missing here was expunged meanwhile
    sizes = {uid: int(data[b"RFC822.SIZE"]) for uid, data in found.items()}
    stored: list[int] = []  # committed here: they get the server-side action
    done: list[int] = []  # stored, or gone from the server: last_uid may pass them
    try:
        for group in _groups(uids, sizes):
            _store_group(client, inbox, uidvalidity, group, sizes, report, stored, done)
    finally:
        # What was committed gets its server-side action even when a later one failed.
        if stored:
            _after_import(client, config, stored)
        if done:
            MailboxState.objects.filter(inbox=inbox, last_uid__lt=done[-1]).update(
                last_uid=done[-1]
            )


def _groups(uids: list[int], sizes: dict[int, int]) -> Iterator[list[int]]:
    """Consecutive UIDs whose bodies together stay under FETCH_BYTES (one at least)."""
    limit = settings.HEEDFUL_MAX_EMAIL_BYTES
    group: list[int] = []
    total = 0
    for uid in uids:
        size = sizes.get(uid, 0)
        size = size if size <= limit else 0  # only its header block will be fetched
        if group and total + size > FETCH_BYTES:
            yield group
            group, total = [], 0
        group.append(uid)
        total += size
    if group:
        yield group


def _store_group(
    client: IMAPClient,
    inbox: Inbox,
    uidvalidity: int,
    group: list[int],
    sizes: dict[int, int],
    report: FetchReport,
    stored: list[int],
    done: list[int],
) -> None:
    limit = settings.HEEDFUL_MAX_EMAIL_BYTES
    small = [uid for uid in group if uid in sizes and sizes[uid] <= limit]
    large = [uid for uid in group if uid in sizes and sizes[uid] > limit]
    bodies = client.fetch(small, ["BODY.PEEK[]"]) if small else {}
    headers = client.fetch(large, ["BODY.PEEK[HEADER]"]) if large else {}
    for uid in group:
        key = f"imap:{uidvalidity}:{uid}"
        if uid in bodies:
            payload = bytes(bodies[uid][b"BODY[]"])
            _, created = ingest.accept(inbox=inbox, payload=payload, source_key=key)
        elif uid in headers:
            header = bytes(headers[uid][b"BODY[HEADER]"])
            created = _accept_oversized(inbox, header, key, sizes[uid])
            report.oversized += 1
        else:
            done.append(uid)  # expunged by someone else: nothing to keep
            continue
        report.fetched += 1
        report.stored += int(created)
        report.duplicates += int(not created)
        stored.append(uid)
        done.append(uid)


def _accept_oversized(inbox: Inbox, header: bytes, source_key: str, size: int) -> bool:
    """Keep only the headers of a message over the limit, quarantined with its real size
    in the same insert. The body is never downloaded."""
    _, created = ingest.accept(
        inbox=inbox, payload=header, source_key=source_key, ring=False, full_size=size
    )
    return created


def _after_import(client: IMAPClient, config: ImapSettings, uids: list[int]) -> None:
    if config.after == "seen":
        client.add_flags(uids, [SEEN])
    elif config.after == "move":
        if client.has_capability("MOVE"):
            client.move(uids, config.move_to)
        else:
            client.copy(uids, config.move_to)
            client.add_flags(uids, [DELETED])
            # UID EXPUNGE removes only these. A plain EXPUNGE would remove every
            # \Deleted message in the folder, including ones another client flagged
            # that we have not imported yet; without UIDPLUS the flagged originals stay
            # (their UIDs are below last_uid, so they are not fetched again) for the
            # mail client or server to expunge.
            if client.has_capability("UIDPLUS"):
                client.uid_expunge(uids)


def _ensure_folder(client: IMAPClient, folder: str) -> None:
    if not client.folder_exists(folder):
        client.create_folder(folder)


# --- health -----------------------------------------------------------------------


def _attempt(inbox: Inbox) -> float:
    now = timezone.now()
    state, created = MailboxState.objects.get_or_create(
        inbox=inbox, defaults={"last_fetch_at": now}
    )
    if not created:
        MailboxState.objects.filter(pk=state.pk).update(last_fetch_at=now)
    return time.monotonic()


def _succeeded(inbox: Inbox, report: FetchReport, started: float) -> None:
    MailboxState.objects.filter(inbox=inbox).update(
        last_success_at=timezone.now(),
        last_error="",
        fetched_count=F("fetched_count") + report.stored,
    )
    log.info("%s (%.1fs)", report, time.monotonic() - started)


def _failed(inbox: Inbox, report: FetchReport, exc: BaseException) -> None:
    if isinstance(exc, ImapError):
        reason = str(exc)
    elif isinstance(exc, OSError | IMAPClientError):
        reason = f"connection lost: {_describe(exc)}"
    else:
        reason = f"{type(exc).__name__}: {exc}"
        log.exception("fetching %s failed", inbox.name)
    report.errors.append(reason)
    try:
        MailboxState.objects.filter(inbox=inbox).update(
            last_error=reason[:2000],
            last_error_at=timezone.now(),
            fetched_count=F("fetched_count") + report.stored,
        )
    except Exception:  # the database itself may be what failed
        log.exception("could not record the fetch error of %s", inbox.name)
    log.warning("%s", report)


# --- the long-lived fetcher -------------------------------------------------------


def wants_fetching(inbox: Inbox) -> bool:
    return inbox.kind == "email" and inbox.is_active and EmailSettings.of(inbox).imap.configured


def fetchable_inboxes(name: str | None = None) -> list[Inbox]:
    inboxes = Inbox.objects.filter(kind="email", is_active=True).order_by("name")
    if name is not None:
        inboxes = inboxes.filter(name=name)
    return [i for i in inboxes if wants_fetching(i)]


class MailboxWatcher(threading.Thread):
    """One inbox: fetch, wait for mail (IDLE, or sleep poll_seconds), fetch again.

    Reconnects with a growing pause after an error, and stops when `stop` is set or the
    inbox is deactivated, deleted or loses its IMAP settings.
    """

    first_backoff = 5.0
    max_backoff = 300.0

    def __init__(self, inbox_id: int, name: str, stop: threading.Event) -> None:
        super().__init__(name=f"imap-{name}", daemon=True)
        self.inbox_id = inbox_id
        self.stop = stop

    def run(self) -> None:
        backoff = self.first_backoff
        try:
            while not self.stop.is_set():
                inbox = self._load()
                if inbox is None:
                    return
                try:
                    self._serve(inbox)
                    backoff = self.first_backoff
                except Exception as exc:
                    if not isinstance(exc, ImapError | OSError | IMAPClientError):
                        log.exception("fetcher for %s failed", inbox.name)
                    else:
                        log.warning("fetcher for %s: %s", inbox.name, _describe(exc))
                    self.stop.wait(backoff)
                    backoff = min(backoff * 2, self.max_backoff)
        finally:
            connection.close()  # this thread's own connection

    def _load(self) -> Inbox | None:
        close_old_connections()
        inbox = Inbox.objects.filter(pk=self.inbox_id).first()
        return inbox if inbox is not None and wants_fetching(inbox) else None

    def _serve(self, inbox: Inbox) -> None:
        """One connection's life: returns when the inbox's settings changed."""
        settings_then = inbox.settings
        try:
            client = connect(inbox)
        except ImapError as exc:
            report = FetchReport(inbox=inbox.name)
            _attempt(inbox)
            _failed(inbox, report, exc)
            raise
        try:
            while not self.stop.is_set():
                fetch_with(client, inbox)
                close_old_connections()  # hold no database connection while waiting
                self._wait(client, EmailSettings.of(inbox).imap)
                latest = self._load()
                if latest is None or latest.settings != settings_then:
                    return
                inbox = latest
        finally:
            _close(client)

    def _wait(self, client: IMAPClient, config: ImapSettings) -> None:
        if config.idle and client.has_capability("IDLE"):
            wait_for_mail(client, self.stop, IDLE_SECONDS)
        else:
            self.stop.wait(max(1, config.poll_seconds))


def wait_for_mail(client: IMAPClient, stop: threading.Event, seconds: float) -> list[Any]:
    """IDLE until the server reports a change, `seconds` pass, or `stop` is set."""
    deadline = time.monotonic() + seconds
    client.idle()
    responses: list[Any] = []
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            checked = time.monotonic()
            responses = client.idle_check(timeout=1.0)
            if responses:
                break
            if time.monotonic() - checked < 0.5:
                # Woken with nothing to read: the server closed the connection. Leaving
                # IDLE raises the error, and the caller reconnects.
                break
    finally:
        client.idle_done()
    return responses
