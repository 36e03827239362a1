"""Inbox credentials at rest: encrypted with a key of their own, never SECRET_KEY."""

import stat

import pytest
from cryptography.fernet import Fernet

from heedful.inboxes import secrets
from heedful.inboxes.models import Inbox

pytestmark = pytest.mark.django_db


@pytest.fixture
def key_file(settings, tmp_path):
    settings.HEEDFUL_SECRETS_KEY = ""
    settings.HEEDFUL_SECRETS_KEY_FILE = str(tmp_path / "keys" / "secrets.key")
    secrets.reset_cache()
    yield tmp_path / "keys" / "secrets.key"
    secrets.reset_cache()


def test_the_key_file_is_made_once_readable_by_its_owner_only(key_file):
    token = secrets.encrypt({"imap_password": "hunter2"})
    first = key_file.read_bytes()
    assert stat.S_IMODE(key_file.stat().st_mode) == 0o600
    secrets.reset_cache()
    assert secrets.decrypt(token) == {"imap_password": "hunter2"}
    assert key_file.read_bytes() == first
    assert list(key_file.parent.iterdir()) == [key_file]  # no temporary file left


def test_stored_credentials_are_not_in_clear_and_come_back(cast, key_file):
    secrets.set_secrets(cast.email, smtp_password="s3cret-pass")
    stored = Inbox.objects.values_list("secrets_encrypted", flat=True).get(pk=cast.email.pk)
    assert "s3cret-pass" not in stored
    assert secrets.get_secret(Inbox.objects.get(pk=cast.email.pk), "smtp_password") == (
        "s3cret-pass"
    )
    secrets.set_secrets(cast.email, smtp_password=None)
    assert not secrets.has_secret(cast.email, "smtp_password")


def test_a_rotated_key_still_reads_what_the_old_one_wrote(settings):
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    settings.HEEDFUL_SECRETS_KEY = old
    secrets.reset_cache()
    token = secrets.encrypt({"a": "b"})
    settings.HEEDFUL_SECRETS_KEY = f"{new},{old}"
    secrets.reset_cache()
    try:
        assert secrets.decrypt(token) == {"a": "b"}
    finally:
        secrets.reset_cache()


def test_without_the_key_the_error_says_what_to_do(settings):
    settings.HEEDFUL_SECRETS_KEY = Fernet.generate_key().decode()
    secrets.reset_cache()
    token = secrets.encrypt({"a": "b"})
    settings.HEEDFUL_SECRETS_KEY = Fernet.generate_key().decode()
    secrets.reset_cache()
    try:
        with pytest.raises(secrets.SecretsUnreadable, match="restore the key"):
            secrets.decrypt(token)
    finally:
        secrets.reset_cache()
