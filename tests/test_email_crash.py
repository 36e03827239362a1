"""The crash test: import mail from a real IMAP server while killing the fetcher with
SIGKILL at random points; afterwards every message is stored exactly once, and no
message was ever \\Seen on the server without its raw row committed here.

The fetcher runs as `heedful fetch_email` subprocesses against a database file of its
own (SQLite), or a database of its own on the PostgreSQL server of DATABASE_URL. With
HEEDFUL_TESTING=1 the worker's tasks run inline in the fetcher, so a kill also lands in
the middle of processing (parsing, threading, storing the Message).

CI runs the short version (3 kills, 200 messages). HEEDFUL_STRESS=1, or
`python bench/stress_email.py`, runs the full one (20 kills, 1,000 messages).
"""

import contextlib
import json
import os
import random
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from email import message_from_bytes
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
from cryptography.fernet import Fernet
from imapclient import SEEN

from tests.mailserver import (  # noqa: F401 - a fixture, used by name
    PASSWORD,
    Mailbox,
    MailServer,
    email_bytes,
    mailserver_fixture,
)

INBOX = "Crash test"

# Run once, in one process: the schema, then the inbox with its mailbox password.
SETUP = """
import json, os
from django.core.management import call_command
call_command("migrate", verbosity=0)
from heedful.inboxes import secrets
from heedful.inboxes.models import Inbox
inbox, _ = Inbox.objects.update_or_create(
    name=os.environ["CRASH_INBOX"],
    defaults={"kind": "email", "address": "help@support.test",
              "settings": json.loads(os.environ["CRASH_SETTINGS"])},
)
secrets.set_secrets(inbox, imap_password=os.environ["CRASH_PASSWORD"])
"""

# At the end, what a kill left stored but unprocessed is processed, as the worker's
# sweep would do it.
DRAIN = """
from heedful.inboxes.models import RawInbound
from heedful.inboxes.tasks import process_one
for pk in RawInbound.objects.filter(status="received").values_list("pk", flat=True):
    process_one(pk)
"""


class Store:
    """Reads the fetcher's database directly (cheap enough to poll while it runs)."""

    def __init__(self, url: str) -> None:
        self.url = url

    def _rows(self, sql: str) -> list[tuple[Any, ...]]:
        if self.url.startswith("sqlite:"):
            import sqlite3

            path = self.url.removeprefix("sqlite:///")
            with contextlib.closing(sqlite3.connect(path, timeout=30)) as conn:
                return conn.execute(sql).fetchall()
        import psycopg

        with psycopg.connect(self.url) as conn:
            return conn.execute(sql).fetchall()

    def raw_count(self) -> int:
        return int(self._rows("SELECT COUNT(*) FROM inboxes_rawinbound")[0][0])

    def raw_ids(self) -> list[str]:
        return [
            _message_id(bytes(p)) for (p,) in self._rows("SELECT payload FROM inboxes_rawinbound")
        ]

    def raw_statuses(self) -> dict[str, int]:
        sql = "SELECT status, COUNT(*) FROM inboxes_rawinbound GROUP BY status"
        return {str(status): int(count) for status, count in self._rows(sql)}

    def message_ids(self) -> list[str]:
        sql = "SELECT external_id FROM conversations_message WHERE direction = 'in'"
        return [str(external_id) for (external_id,) in self._rows(sql)]


def _message_id(message: bytes) -> str:
    return str(message_from_bytes(message)["Message-ID"]).strip()


@dataclass
class CrashResult:
    messages: int
    kills: int
    database: str
    seconds: float = 0.0
    killed_while_running: int = 0  # kills that hit a running fetcher (not a finished one)
    stored_at_kill: list[int] = field(default_factory=list)
    seen_at_kill: list[int] = field(default_factory=list)
    seen_without_raw: int = 0  # must stay 0
    missing: int = 0  # must be 0
    doubled: int = 0  # must be 0
    raw_statuses: dict[str, int] = field(default_factory=dict)
    clean_stop: bool = False
    phases: dict[str, float] = field(default_factory=dict)  # seconds per phase

    @property
    def ok(self) -> bool:
        return not (self.seen_without_raw or self.missing or self.doubled) and self.clean_stop


@contextmanager
def crash_database(work: Path) -> Iterator[str]:
    """A SQLite file, or a fresh database beside the one DATABASE_URL names."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        yield f"sqlite:///{work / 'crash.sqlite3'}"
        return
    import psycopg

    parts = urlsplit(url)
    name = f"heedful_crash_{os.getpid()}"
    admin = urlunsplit(parts._replace(path="/postgres"))
    with psycopg.connect(admin, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{name}"')
    try:
        yield urlunsplit(parts._replace(path=f"/{name}"))
    finally:
        with psycopg.connect(admin, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class CrashRun:
    def __init__(self, mailbox: Mailbox, work: Path, store: Store, seed: int) -> None:
        self.mailbox = mailbox
        self.store = store
        self.work = work
        self.rng = random.Random(seed)
        self.log = work / "fetcher.log"
        self.env = {k: v for k, v in os.environ.items() if not k.startswith(("HEEDFUL_", "DJ"))}
        for name in ("DATABASE_URL", "REDIS_URL", "SECRET_KEY", "PYTEST_CURRENT_TEST"):
            self.env.pop(name, None)
        self.env.update(
            DATABASE_URL=store.url,
            HEEDFUL_DATA_DIR=str(work),
            HEEDFUL_TESTING="1",  # the worker's tasks run inline, inside the killed process
            HEEDFUL_SECRETS_KEY=Fernet.generate_key().decode(),
            HEEDFUL_DEMO="0",
            PYTHONUNBUFFERED="1",
            CRASH_INBOX=INBOX,
            CRASH_PASSWORD=PASSWORD,
            CRASH_SETTINGS=json.dumps(mailbox.settings(after="seen", poll_seconds=1)),
        )

    def heedful(self, *args: str) -> subprocess.CompletedProcess[str]:
        result = subprocess.run(
            [sys.executable, "-m", "heedful.cli", *args],
            env=self.env,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert result.returncode == 0, f"heedful {args[0]} failed:\n{result.stderr}"
        return result

    def fetcher(self, *args: str) -> subprocess.Popen[bytes]:
        with self.log.open("ab") as out:
            return subprocess.Popen(
                [sys.executable, "-m", "heedful.cli", "fetch_email", "--batch", "10", *args],
                env=self.env,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def seen_ids(self) -> set[str]:
        flags = self.mailbox.flags()
        return {message_id.decode() for message_id, found in flags.items() if SEEN in found}

    def run(self, messages: int, kills: int) -> CrashResult:
        result = CrashResult(messages=messages, kills=kills, database=self.store.url)
        started = clock = time.monotonic()

        def phase(name: str) -> None:
            nonlocal clock
            result.phases[name] = round(time.monotonic() - clock, 1)
            clock = time.monotonic()

        self.heedful("shell", "-c", SETUP)
        phase("setup")
        appended = [email_bytes(n, sender=f"c{n % 50}@example.test") for n in range(messages)]
        expected = {_message_id(m) for m in appended}
        assert len(expected) == messages
        self.mailbox.append(*appended)
        phase("append")
        for number in range(kills):
            self._kill_one(number, kills, messages, result)
        phase("kills")
        result.clean_stop = self._finish_with_the_long_lived_fetcher(messages)
        phase("finish")
        self.heedful("shell", "-c", DRAIN)
        phase("drain")

        ids = self.store.message_ids()
        result.missing = len(expected - set(ids))
        result.doubled = len(ids) - len(set(ids)) + len(set(ids) - expected)
        result.seen_without_raw += len(self.seen_ids() - set(self.store.raw_ids()))
        result.raw_statuses = self.store.raw_statuses()
        result.seconds = round(time.monotonic() - started, 1)
        return result

    def _kill_one(self, number: int, kills: int, messages: int, result: CrashResult) -> None:
        """Start a fetcher, SIGKILL it at a random point of its work, check the server."""
        stored = self.store.raw_count()
        share = max(1, (messages - stored) // (kills - number + 1))
        target = min(messages, stored + self.rng.randint(1, 2 * share))
        long_lived = number % 2 == 1  # alternate the long-lived mode and --once
        process = self.fetcher() if long_lived else self.fetcher("--once")
        deadline = time.monotonic() + 120
        while process.poll() is None and self.store.raw_count() < target:
            assert time.monotonic() < deadline, self.log.read_text()
            time.sleep(0.01)
        time.sleep(self.rng.uniform(0, 0.2))  # anywhere: storing, processing, flagging
        if process.poll() is None:
            result.killed_while_running += 1
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
        seen = self.seen_ids()
        raw_ids = set(self.store.raw_ids())
        result.seen_without_raw += len(seen - raw_ids)
        result.stored_at_kill.append(len(raw_ids))
        result.seen_at_kill.append(len(seen))

    def _finish_with_the_long_lived_fetcher(self, messages: int) -> bool:
        """Run `fetch_email` until every message is \\Seen, then SIGTERM: it must exit 0."""
        self.log.write_text("")
        process = self.fetcher()
        try:
            deadline = time.monotonic() + 600
            while "Watching" not in self.log.read_text() or len(self.seen_ids()) < messages:
                assert process.poll() is None, self.log.read_text()
                assert time.monotonic() < deadline, "the fetcher never caught up"
                time.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            code = process.wait(timeout=20)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        return code == 0 and "Email fetcher stopped." in self.log.read_text()


def run_crash_test(server: MailServer, *, messages: int, kills: int, seed: int) -> CrashResult:
    mailbox = Mailbox(server=server, user=server.add_user())
    with tempfile.TemporaryDirectory(prefix="heedful-crash-") as tmp:
        work = Path(tmp)
        with crash_database(work) as url:
            return CrashRun(mailbox, work, Store(url), seed).run(messages, kills)


def _stress() -> bool:
    return os.environ.get("HEEDFUL_STRESS", "") not in ("", "0")


@pytest.mark.slow
@pytest.mark.timeout(900 if _stress() else 180)
def test_killing_the_fetcher_loses_nothing_and_doubles_nothing(mailserver):
    messages, kills = (1000, 20) if _stress() else (200, 3)
    seed = int(os.environ.get("HEEDFUL_STRESS_SEED", "0")) or random.randrange(1, 10**6)

    result = run_crash_test(mailserver, messages=messages, kills=kills, seed=seed)

    print(json.dumps({"seed": seed, **result.__dict__}))
    assert result.seen_without_raw == 0, result
    assert result.missing == 0, result
    assert result.doubled == 0, result
    assert result.clean_stop, result
    assert result.raw_statuses.get("received", 0) == 0, result
    assert result.raw_statuses.get("quarantined", 0) == 0, result
    assert result.killed_while_running >= 1, result  # the kills landed on work, not air
