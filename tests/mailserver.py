"""A real IMAP server for the tests: Dovecot from Debian's packages, on a free loopback port.

`mailserver` (session-scoped) starts one Dovecot with its own configuration, users and
maildirs in a temporary directory; `mailbox` gives each test a fresh user, so tests never
see each other's mail. Messages go in with APPEND, a real IMAP operation.

Without /usr/sbin/dovecot the tests that need it skip; CI installs dovecot-imapd.
"""

import contextlib
import itertools
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from email.message import EmailMessage
from email.utils import make_msgid
from pathlib import Path

import pytest
from imapclient import IMAPClient

DOVECOT = shutil.which("dovecot") or "/usr/sbin/dovecot"
USERS = 300
PASSWORD = "s3cret-test-pass"  # a throwaway account on a loopback test server

CONFIG = """\
base_dir = {root}/run
state_dir = {root}/state
instance_name = heedful-test-{port}
protocols = imap
listen = 127.0.0.1
ssl = no
disable_plaintext_auth = no
auth_mechanisms = plain login
# Wrong passwords are tested: answer at once, with no growing penalty per address.
auth_failure_delay = 0
login_trusted_networks = 127.0.0.0/8
log_path = {root}/dovecot.log
default_internal_user = {internal_user}
default_internal_group = {internal_group}
default_login_user = {login_user}
first_valid_uid = 1
first_valid_gid = 1
mail_location = maildir:{root}/mail/%u
mail_max_userip_connections = 500
# Keep the server quiet and quick to stop.
shutdown_clients = yes
mail_fsync = never
passdb {{
  driver = passwd-file
  args = scheme=PLAIN {root}/users
}}
userdb {{
  driver = passwd-file
  args = {root}/users
}}
service imap-login {{
  inet_listener imap {{
    address = 127.0.0.1
    port = {port}
  }}
  inet_listener imaps {{
    port = 0
  }}
}}
service stats {{
  unix_listener stats-reader {{
    mode = 0666
  }}
  unix_listener stats-writer {{
    mode = 0666
  }}
}}
protocol imap {{
  mail_max_userip_connections = 500
}}
"""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _accounts() -> tuple[str, str, str, int, int]:
    """(internal user, internal group, login user, mail uid, mail gid).

    As root, Dovecot's own users run its internals (the package creates them) and the
    mailboxes belong to nobody, because Dovecot refuses mail access as root. As anyone
    else, everything runs as that user.
    """
    if os.geteuid() == 0:
        nobody = pwd.getpwnam("nobody")
        internal = pwd.getpwnam("dovecot")
        import grp

        group = grp.getgrgid(internal.pw_gid).gr_name
        return "dovecot", group, "dovenull", nobody.pw_uid, nobody.pw_gid
    me = pwd.getpwuid(os.geteuid())
    import grp

    group = grp.getgrgid(os.getegid()).gr_name
    return me.pw_name, group, me.pw_name, os.geteuid(), os.getegid()


@dataclass
class MailServer:
    root: Path
    port: int
    host: str = "127.0.0.1"
    process: subprocess.Popen[bytes] | None = None
    _numbers: Iterator[int] = field(default_factory=lambda: itertools.count(1))

    @classmethod
    def create(cls) -> "MailServer":
        root = Path(tempfile.mkdtemp(prefix="heedful-dovecot-"))
        root.chmod(0o755)  # mail processes run as another user when we are root
        server = cls(root=root, port=free_port())
        internal, group, login, uid, gid = _accounts()
        (root / "mail").mkdir()
        os.chown(root / "mail", uid, gid)
        # Dovecot re-reads the passwd-file only when its mtime (seconds) changes, so
        # every user a session may need is written before the server starts.
        (root / "users").write_text(
            "".join(
                f"user{n}:{PASSWORD}:{uid}:{gid}::{root / 'mail' / f'user{n}'}::\n"
                for n in range(1, USERS + 1)
            )
        )
        (root / "dovecot.conf").write_text(
            CONFIG.format(
                root=root,
                port=server.port,
                internal_user=internal,
                internal_group=group,
                login_user=login,
            )
        )
        return server

    @property
    def log(self) -> str:
        path = self.root / "dovecot.log"
        return path.read_text(errors="replace") if path.exists() else ""

    def start(self) -> None:
        self.process = subprocess.Popen(
            [DOVECOT, "-F", "-c", str(self.root / "dovecot.conf")],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                error = self.process.stderr.read().decode() if self.process.stderr else ""
                raise RuntimeError(f"dovecot exited: {error}\n{self.log}")
            with (
                contextlib.suppress(OSError),
                socket.create_connection((self.host, self.port), timeout=1) as sock,
            ):
                if sock.recv(100).startswith(b"* OK"):
                    return
            time.sleep(0.05)
        self.stop()
        raise RuntimeError(f"dovecot did not answer on port {self.port}:\n{self.log}")

    def stop(self) -> None:
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait(timeout=5)
        self.process = None

    def remove(self) -> None:
        self.stop()
        shutil.rmtree(self.root, ignore_errors=True)

    def add_user(self) -> str:
        """A mailbox owner no one has used yet in this session."""
        number = next(self._numbers)
        if number > USERS:
            raise RuntimeError(f"all {USERS} test mailbox users are taken")
        return f"user{number}"

    def client(self, user: str, folder: str | None = "INBOX") -> IMAPClient:
        client = IMAPClient(self.host, port=self.port, ssl=False, timeout=10)
        client.login(user, PASSWORD)
        if folder:
            client.select_folder(folder)
        return client

    def append(self, user: str, *messages: bytes, folder: str = "INBOX") -> None:
        with self.client(user, folder=None) as client:
            for start in range(0, len(messages), 100):
                client.multiappend(folder, list(messages[start : start + 100]))

    def flags(self, user: str, folder: str = "INBOX") -> dict[bytes, set[bytes]]:
        """Message-ID -> the server's flags for every message in the folder."""
        with self.client(user, folder) as client:
            found: dict[bytes, set[bytes]] = {}
            uids = client.search("ALL")
            if not uids:
                return found
            data = client.fetch(uids, ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
            for item in data.values():
                header = item[b"BODY[HEADER.FIELDS (MESSAGE-ID)]"]
                message_id = header.split(b":", 1)[1].strip() if b":" in header else b""
                found[message_id] = set(item[b"FLAGS"])
            return found


@dataclass(frozen=True)
class Mailbox:
    """One test's own user on the shared server, with the inbox settings that reach it."""

    server: MailServer
    user: str

    def settings(self, **imap: object) -> dict[str, object]:
        values: dict[str, object] = {
            "host": self.server.host,
            "port": self.server.port,
            "security": "none",
            "username": self.user,
            "folder": "INBOX",
            "poll_seconds": 1,
        }
        values.update(imap)
        return {"imap": values}

    def append(self, *messages: bytes, folder: str = "INBOX") -> None:
        self.server.append(self.user, *messages, folder=folder)

    def flags(self, folder: str = "INBOX") -> dict[bytes, set[bytes]]:
        return self.server.flags(self.user, folder)

    def client(self, folder: str | None = "INBOX") -> IMAPClient:
        return self.server.client(self.user, folder)


def email_bytes(
    number: int,
    *,
    sender: str = "customer@example.test",
    to: str = "help@support.test",
    subject: str | None = None,
    body: str | None = None,
    message_id: str | None = None,
) -> bytes:
    message = EmailMessage()
    if sender:
        message["From"] = sender
    message["To"] = to
    message["Subject"] = subject or f"Question number {number}"
    message["Message-ID"] = message_id or make_msgid(f"m{number}", domain="example.test")
    message["Date"] = "Mon, 23 Nov 2026 08:00:00 +0000"
    message.set_content(body or f"Hello, this is message {number}.\n")
    return bytes(message)


def start_server() -> MailServer:
    """Start a Dovecot of one's own, or skip the test when it is not installed."""
    if not Path(DOVECOT).exists():
        pytest.skip("Dovecot is not installed (apt-get install dovecot-imapd)")
    server = MailServer.create()
    try:
        server.start()
    except Exception:
        server.remove()
        raise
    return server


# Named fixtures, so a test module imports `*_fixture` and its tests take `mailbox`.
@pytest.fixture(scope="session", name="mailserver")
def mailserver_fixture() -> Iterator[MailServer]:
    server = start_server()
    yield server
    server.remove()


@pytest.fixture(name="mailbox")
def mailbox_fixture(mailserver: MailServer) -> Mailbox:
    return Mailbox(server=mailserver, user=mailserver.add_user())


@pytest.fixture(name="lone_mailbox")
def lone_mailbox_fixture() -> Iterator[Mailbox]:
    """A mailbox on a server of its own, for wrong passwords: Dovecot slows every later
    login from an address after a failed one (its auth penalty), whatever the user."""
    server = start_server()
    yield Mailbox(server=server, user=server.add_user())
    server.remove()
