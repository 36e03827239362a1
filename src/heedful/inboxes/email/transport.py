"""How an inbox's mail leaves: its own SMTP server, a provider's API (django-anymail),
or the site's default connection (EMAIL_URL); and what a failure means for a retry.
"""

import smtplib
import socket
import ssl
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.core.mail import get_connection
from django.core.mail.backends.base import BaseEmailBackend

from heedful.inboxes import secrets
from heedful.inboxes.email.config import EmailSettings
from heedful.inboxes.models import Inbox
from heedful.inboxes.registry import DeliveryResult

# The anymail backend for each provider an inbox may choose, and the keyword its
# API key goes under (each backend names it differently).
PROVIDERS: dict[str, tuple[str, str]] = {
    "mailgun": ("anymail.backends.mailgun.EmailBackend", "api_key"),
    "postmark": ("anymail.backends.postmark.EmailBackend", "server_token"),
    "sendgrid": ("anymail.backends.sendgrid.EmailBackend", "api_key"),
    "amazon_ses": ("anymail.backends.amazon_ses.EmailBackend", "session_params"),
}


class TransportError(Exception):
    """The inbox's outbound settings cannot make a connection (a missing host, an
    unknown provider): nothing was sent, and retrying will not help until fixed."""


def connection_for(inbox: Inbox) -> BaseEmailBackend:
    """A Django mail connection for this inbox's outbound setting. Raises TransportError."""
    config = EmailSettings.of(inbox)
    if config.outbound == "smtp":
        return _smtp(inbox, config)
    if config.outbound == "provider":
        return _provider(inbox, config)
    if config.outbound != "default":
        raise TransportError(f"unknown outbound setting {config.outbound!r}")
    return get_connection(fail_silently=False)


def _smtp(inbox: Inbox, config: EmailSettings) -> BaseEmailBackend:
    smtp = config.smtp
    if not smtp.configured:
        raise TransportError("the inbox sends by SMTP but no SMTP host is set")
    if smtp.security not in ("starttls", "ssl", "none"):
        raise TransportError(f"unknown SMTP security {smtp.security!r}")
    return get_connection(
        "django.core.mail.backends.smtp.EmailBackend",
        fail_silently=False,
        host=smtp.host,
        port=smtp.port,
        username=smtp.username,
        password=secrets.get_secret(inbox, "smtp_password"),
        use_tls=smtp.security == "starttls",
        use_ssl=smtp.security == "ssl",
        timeout=settings.EMAIL_TIMEOUT,
    )


def _provider(inbox: Inbox, config: EmailSettings) -> BaseEmailBackend:
    if config.provider not in PROVIDERS:
        known = ", ".join(sorted(PROVIDERS))
        raise TransportError(f"unknown mail provider {config.provider!r} (known: {known})")
    backend, key_name = PROVIDERS[config.provider]
    key = secrets.get_secret(inbox, "provider_api_key")
    options: dict[str, Any] = {}
    if config.provider == "amazon_ses":
        # "ACCESS_KEY_ID:SECRET_ACCESS_KEY[:REGION]"; without a key boto3 finds
        # credentials its usual ways (environment, instance role).
        if key:
            options[key_name] = _aws_session(key)
    elif key:
        options[key_name] = key
    else:
        raise TransportError(f"no API key stored for {config.provider}")
    try:
        return get_connection(backend, fail_silently=False, **options)
    except ImportError as exc:  # anymail's amazon_ses needs boto3
        raise TransportError(f"{config.provider} cannot be used here: {exc}") from None
    except ImproperlyConfigured as exc:
        raise TransportError(f"{config.provider} is not configured: {exc}") from None


def _aws_session(key: str) -> dict[str, str]:
    parts = key.split(":")
    if len(parts) not in (2, 3) or not all(parts[:2]):
        raise TransportError("the Amazon SES key must be ACCESS_KEY_ID:SECRET_ACCESS_KEY[:REGION]")
    session = {"aws_access_key_id": parts[0], "aws_secret_access_key": parts[1]}
    if len(parts) == 3 and parts[2]:
        session["region_name"] = parts[2]
    return session


def test_connection(inbox: Inbox) -> tuple[bool, str]:
    """Check the inbox's outbound settings as far as can be done without sending mail.

    SMTP: connect, EHLO, STARTTLS and AUTH as configured, then close. A provider:
    only that its backend loads with a key (their APIs have no harmless test call
    common to all). The default connection: says which one that is.
    """
    config = EmailSettings.of(inbox)
    try:
        connection = connection_for(inbox)
    except TransportError as exc:
        return False, str(exc)
    if config.outbound == "provider":
        return True, (
            f"{config.provider} is set up with an API key; whether the provider accepts "
            "it shows on the first message sent"
        )
    if config.outbound == "default":
        return _try_default(connection)
    return _try_smtp(connection, config)


# Not a test for pytest to collect.
test_connection.__test__ = False  # type: ignore[attr-defined]


def _try_default(connection: BaseEmailBackend) -> tuple[bool, str]:
    kind = f"{type(connection).__module__}.{type(connection).__name__}"
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as exc:
        return False, f"The site's mail settings (EMAIL_URL, {kind}) failed: {describe(exc)}"
    finally:
        connection.close()
    return True, f"Replies leave through the site's mail settings (EMAIL_URL, {kind})"


def _try_smtp(connection: BaseEmailBackend, config: EmailSettings) -> tuple[bool, str]:
    smtp = config.smtp
    where = f"{smtp.host}:{smtp.port}"
    try:
        connection.open()
    except (smtplib.SMTPException, OSError) as exc:
        return False, f"Could not connect to {where}: {describe(exc)}"
    finally:
        connection.close()
    if smtp.username:
        return True, f"Connected to {where}, authenticated as {smtp.username}"
    return True, f"Connected to {where} (no authentication configured)"


def describe(exc: BaseException) -> str:
    """A failure as an admin or agent should read it: the server's own answer if any."""
    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return "; ".join(
            f"{_answer(code, text)} (for {address})"
            for address, (code, text) in exc.recipients.items()
        )
    if isinstance(exc, smtplib.SMTPAuthenticationError):
        return f"authentication failed: {_answer(exc.smtp_code, exc.smtp_error)}"
    if isinstance(exc, smtplib.SMTPResponseException):
        return _answer(exc.smtp_code, exc.smtp_error)
    if isinstance(exc, smtplib.SMTPNotSupportedError):
        return f"the server does not support it: {exc}"
    if isinstance(exc, socket.timeout | TimeoutError):
        return f"timed out waiting for the mail server ({exc})"
    if isinstance(exc, ConnectionRefusedError):
        return f"{exc} (are the host and port right, is the server up?)"
    if isinstance(exc, ssl.SSLError):
        return f"TLS failed: {exc}"
    from anymail.exceptions import AnymailError

    if isinstance(exc, AnymailError):
        return " ".join(str(exc).split())[:1000]
    if isinstance(exc, socket.gaierror):
        return f"unknown host: {exc}"
    return f"{type(exc).__name__}: {exc}"


def _answer(code: int, text: bytes | str) -> str:
    if isinstance(text, bytes):
        text = text.decode("utf-8", "replace")
    return f"{code} {' '.join(text.split())}"


def classify(exc: BaseException) -> DeliveryResult:
    """Permanent (retrying cannot help: the address or the message was refused) or
    transient (4xx, timeouts, a server that is down)."""
    return DeliveryResult(ok=False, error=describe(exc), permanent=_is_permanent(exc))


def _is_permanent(exc: BaseException) -> bool:
    from anymail.exceptions import (
        AnymailAPIError,
        AnymailConfigurationError,
        AnymailError,
        AnymailInvalidAddress,
        AnymailRecipientsRefused,
    )

    if isinstance(exc, smtplib.SMTPRecipientsRefused):
        return all(code >= 500 for code, _ in exc.recipients.values())
    if isinstance(exc, smtplib.SMTPResponseException):
        return exc.smtp_code >= 500
    if isinstance(exc, AnymailRecipientsRefused | AnymailInvalidAddress):
        return True
    if isinstance(exc, AnymailAPIError):
        status = exc.status_code
        return status is not None and 400 <= status < 500 and status != 429
    if isinstance(exc, AnymailConfigurationError | TransportError):
        return True
    if isinstance(exc, AnymailError):
        return False
    # A header Django refuses (BadHeaderError) or a malformed address.
    return isinstance(exc, ValueError)
