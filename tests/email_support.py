"""Shared by the email tests: a throwaway secrets key per test, and an inbox that
sends through a test SMTP server."""

from collections.abc import Iterator
from typing import Any

import pytest
from cryptography.fernet import Fernet

from heedful.inboxes import secrets
from heedful.inboxes.models import Inbox
from tests.smtp_server import SmtpServer

SMTP_PASSWORD = "s3cret"


@pytest.fixture(autouse=True)
def secrets_key(settings: Any) -> Iterator[None]:
    """Each test encrypts inbox credentials with a key of its own, never var/'s."""
    settings.HEEDFUL_SECRETS_KEY = Fernet.generate_key().decode()
    secrets.reset_cache()
    yield
    secrets.reset_cache()


def use_smtp(
    inbox: Inbox, server: SmtpServer, password: str = SMTP_PASSWORD, **settings: Any
) -> Inbox:
    """The inbox sends through `server`, with its password stored as the admin would."""
    inbox.settings = {"outbound": "smtp", "smtp": server.smtp_settings(), **settings}
    inbox.save(update_fields=["settings"])
    secrets.set_secrets(inbox, smtp_password=password)
    return inbox
