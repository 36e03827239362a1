"""Identity kinds and the one place addresses are normalized.

Every lookup of a customer by address goes through `normalize`, so the same
person typed differently ("Ann@Example.COM ", "+1 (415) 555-0100") is one record.
"""

import re

import phonenumbers
from django.conf import settings
from django.db import models


class IdentityKind(models.TextChoices):
    EMAIL = "email", "Email"
    PHONE = "phone", "Phone"
    CHAT = "chat", "Chat visitor"
    WHATSAPP = "whatsapp", "WhatsApp"
    SOCIAL = "social", "Social handle"


class InvalidAddress(ValueError):
    """The address cannot be an identity of that kind."""


_EMAIL_RE = re.compile(r"^[^@\s<>]+@[^@\s<>]+\.[^@\s<>]+$")
_SOCIAL_RE = re.compile(r"^[a-z0-9_.-]+:@?[\w.\-]+$")


def normalize_email(address: str) -> str:
    """Lower-case the whole address and strip display decorations.

    Mailbox local parts are case-sensitive in theory and never in practice;
    treating them case-insensitively is what keeps one customer one record.
    """
    value = address.strip().strip("<>").strip().lower()
    if not _EMAIL_RE.match(value):
        raise InvalidAddress(f"{address!r} is not an email address")
    return value


def normalize_phone(address: str, region: str | None = None) -> str:
    """E.164 (+14155550100), reading national numbers in the configured region."""
    try:
        number = phonenumbers.parse(address.strip(), region or settings.HEEDFUL_PHONE_REGION)
    except phonenumbers.NumberParseException as exc:
        raise InvalidAddress(f"{address!r} is not a phone number") from exc
    if not phonenumbers.is_possible_number(number):
        raise InvalidAddress(f"{address!r} is not a phone number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


def normalize_social(address: str) -> str:
    """`network:handle`, lower-cased, without the leading @ of the handle."""
    value = address.strip().lower().replace(":@", ":")
    if not _SOCIAL_RE.match(value):
        raise InvalidAddress(f"{address!r} is not a network:handle pair")
    return value


def normalize_chat(address: str) -> str:
    value = address.strip()
    if not value or len(value) > 255:
        raise InvalidAddress("a chat visitor id must be 1 to 255 characters")
    return value


def normalize(kind: str, address: str) -> str:
    if kind == IdentityKind.EMAIL:
        return normalize_email(address)
    if kind in (IdentityKind.PHONE, IdentityKind.WHATSAPP):
        return normalize_phone(address)
    if kind == IdentityKind.SOCIAL:
        return normalize_social(address)
    if kind == IdentityKind.CHAT:
        return normalize_chat(address)
    raise InvalidAddress(f"unknown identity kind {kind!r}")
