"""A real SMTP server on loopback (aiosmtpd) that receives what Heedful sends.

server = SmtpServer(auth=("heedful", "s3cret"))
server.reject["gone@customer.test"] = "550 5.1.1 <gone@customer.test>: ..."
with server:
    ...  # an inbox with outbound "smtp" at 127.0.0.1:server.port
server.received[0].message["Subject"]
"""

import email
import socket
import threading
from dataclasses import dataclass
from email import policy
from email.message import EmailMessage
from types import TracebackType
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP, AuthResult, Envelope, LoginPassword, Session

HOST = "127.0.0.1"


@dataclass(frozen=True)
class Received:
    mail_from: str
    rcpt_tos: tuple[str, ...]
    data: bytes

    @property
    def message(self) -> EmailMessage:
        parsed = email.message_from_bytes(self.data, policy=policy.default)
        assert isinstance(parsed, EmailMessage)
        return parsed


class _Handler:
    def __init__(self, server: "SmtpServer") -> None:
        self.server = server

    async def handle_RCPT(
        self,
        server: SMTP,
        session: Session,
        envelope: Envelope,
        address: str,
        rcpt_options: list[str],
    ) -> str:
        answer = self.server.reject.get(address.lower())
        if answer:
            return answer
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        content = envelope.original_content or b""
        with self.server.lock:
            self.server.received.append(
                Received(
                    mail_from=str(envelope.mail_from),
                    rcpt_tos=tuple(envelope.rcpt_tos),
                    data=bytes(content),
                )
            )
        return "250 Message accepted for delivery"


class SmtpServer:
    """Collects every message it accepts; optionally requires AUTH (LOGIN/PLAIN) with
    the given credentials, and answers RCPT for the addresses in `reject` with the
    given reply ("550 5.1.1 ..." or "451 4.3.0 ...")."""

    def __init__(self, auth: tuple[str, str] | None = None) -> None:
        self.auth = auth
        self.reject: dict[str, str] = {}
        self.received: list[Received] = []
        self.lock = threading.Lock()
        self.port = _free_port()
        options: dict[str, Any] = {"auth_require_tls": False}
        if auth is not None:
            options |= {"auth_required": True, "authenticator": self._authenticate}
        self.controller = Controller(_Handler(self), hostname=HOST, port=self.port, **options)

    def _authenticate(
        self, server: SMTP, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        assert self.auth is not None
        ok = (
            isinstance(data, LoginPassword)
            and (
                data.login.decode(),
                data.password.decode(),
            )
            == self.auth
        )
        # Not handled: aiosmtpd then answers 235 or 535 itself.
        return AuthResult(success=ok, handled=False)

    def start(self) -> "SmtpServer":
        self.controller.start()
        return self

    def stop(self) -> None:
        self.controller.stop()

    def __enter__(self) -> "SmtpServer":
        return self.start()

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    def smtp_settings(self, **overrides: Any) -> dict[str, Any]:
        """Inbox.settings["smtp"] for this server (no TLS on loopback)."""
        values = {"host": HOST, "port": self.port, "security": "none"}
        if self.auth is not None:
            values["username"] = self.auth[0]
        return values | overrides


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind((HOST, 0))
        return int(probe.getsockname()[1])


@pytest.fixture
def smtp_server() -> Any:
    """A started server that requires AUTH as heedful / s3cret."""
    with SmtpServer(auth=("heedful", "s3cret")) as server:
        yield server
