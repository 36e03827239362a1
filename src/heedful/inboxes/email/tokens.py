"""Reply addresses that carry a signed conversation reference (plus-addressing).

`support+c1042.k3j9x2q7ma@example.com`: a customer whose mail client drops the
threading headers still lands in conversation 1042, and nobody can make one up
for a conversation they were not sent: the part after the dot is an HMAC of the
number, keyed by SECRET_KEY under its own salt.
"""

import re

from django.utils.crypto import salted_hmac

_SALT = "heedful.inboxes.email.reply-address"
_TOKEN = re.compile(r"\+c(\d{1,18})\.([a-z0-9]{10})$")
_ALPHABET = "abcdefghijklmnopqrstuvwxyz0123456789"


def _signature(number: int) -> str:
    digest = salted_hmac(_SALT, str(number), algorithm="sha256").digest()
    return "".join(_ALPHABET[b % len(_ALPHABET)] for b in digest[:10])


def reply_address(address: str, number: int) -> str:
    """The inbox's address with the conversation's signed token in its local part."""
    local, at, domain = address.rpartition("@")
    if not at or not local:
        return address
    local = local.split("+", 1)[0]
    return f"{local}+c{number}.{_signature(number)}@{domain}"


def conversation_number(address: str) -> int | None:
    """The conversation number a reply address names, if its signature is right."""
    local = address.rpartition("@")[0].lower()
    match = _TOKEN.search(local)
    if match is None:
        return None
    number = int(match.group(1))
    if not _constant_equal(match.group(2), _signature(number)):
        return None
    return number


def base_address(address: str) -> str:
    """The address without its plus part: support+c1.x@example.com -> support@example.com."""
    local, at, domain = address.rpartition("@")
    if not at:
        return address
    return f"{local.split('+', 1)[0]}@{domain}"


def _constant_equal(a: str, b: str) -> bool:
    from hmac import compare_digest

    return compare_digest(a.encode(), b.encode())
