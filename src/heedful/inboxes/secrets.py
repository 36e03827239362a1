"""Inbox credentials (mailbox and SMTP passwords, OAuth2 tokens, webhook secrets),
encrypted at rest with a key of their own.

The key is not SECRET_KEY: rotating the session key must not lock Heedful out of
its mailboxes, and a database backup alone must not reveal them. It comes from
HEEDFUL_SECRETS_KEY (one or more Fernet keys, comma-separated, newest first, so a
key can be rotated), or else from the file HEEDFUL_SECRETS_KEY_FILE
(default var/secrets.key), created with mode 0600 on first use. Back the key up
apart from the database: without it the stored credentials cannot be read and
have to be typed in again.
"""

import contextlib
import json
import os
import tempfile
import threading
from functools import cache
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet
from django.conf import settings

from heedful.inboxes.models import Inbox

_create_lock = threading.Lock()


class SecretsUnreadable(Exception):
    """The stored credentials were encrypted with a key this installation does not have."""


def key_file() -> Path:
    return Path(settings.HEEDFUL_SECRETS_KEY_FILE)


def _keys() -> list[bytes]:
    configured = settings.HEEDFUL_SECRETS_KEY
    if configured:
        return [k.strip().encode() for k in configured.split(",") if k.strip()]
    path = key_file()
    with _create_lock:
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            # Written whole under a temporary name, then linked into place: another
            # process never reads a half-written key, and of two processes starting
            # at once only one key wins (link refuses an existing name).
            fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".secrets-key-")
            try:
                with os.fdopen(fd, "wb") as out:
                    out.write(Fernet.generate_key() + b"\n")
                with contextlib.suppress(FileExistsError):
                    os.link(temporary, path)
            finally:
                os.unlink(temporary)
    return [line.strip() for line in path.read_bytes().splitlines() if line.strip()]


@cache
def _fernet() -> MultiFernet:
    return MultiFernet([Fernet(k) for k in _keys()])


def reset_cache() -> None:
    """For tests and key rotation within one process."""
    _fernet.cache_clear()


def encrypt(values: dict[str, str]) -> str:
    if not values:
        return ""
    return _fernet().encrypt(json.dumps(values, sort_keys=True).encode()).decode()


def decrypt(token: str) -> dict[str, str]:
    if not token:
        return {}
    try:
        data = json.loads(_fernet().decrypt(token.encode()))
    except InvalidToken:
        raise SecretsUnreadable(
            "the inbox's stored credentials cannot be decrypted with HEEDFUL_SECRETS_KEY "
            "(or var/secrets.key); restore the key or enter the credentials again"
        ) from None
    return {str(k): str(v) for k, v in data.items()}


def get_secret(inbox: Inbox, name: str) -> str:
    return decrypt(inbox.secrets_encrypted).get(name, "")


def set_secrets(inbox: Inbox, **values: str | None) -> None:
    """Set (a string) or remove (None or "") named secrets and save the inbox's field."""
    current = decrypt(inbox.secrets_encrypted)
    for name, value in values.items():
        if value:
            current[name] = value
        else:
            current.pop(name, None)
    inbox.secrets_encrypted = encrypt(current)
    if inbox.pk:
        Inbox.objects.filter(pk=inbox.pk).update(secrets_encrypted=inbox.secrets_encrypted)


def has_secret(inbox: Inbox, name: str) -> bool:
    return bool(get_secret(inbox, name))
