"""Inbound email, whatever brought it (IMAP, a provider webhook, the pipe, a folder):

1. `accept` stores the raw RFC 822 bytes and their SHA-256, committed on their own,
   then rings the worker. Nothing after this point can lose the message.
2. `process` (in the worker) parses it, handles a bounce report, or turns it into an
   InboundMessage for the one inbound pipeline (`receive`), then sends the inbox's
   acknowledgment if one is due. A failure quarantines the raw row with the reason;
   the messages behind it go on.
"""

import logging
import re

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.validators import validate_email
from django.db import transaction

from heedful.conversations.inbound import InboundMessage, Sender
from heedful.conversations.services.receive import (
    AlreadyHandled,
    ReceiveResult,
    claim_raw,
    quarantine,
    receive,
    store_raw,
)
from heedful.core import rows
from heedful.customers.identities import IdentityKind
from heedful.inboxes.email import tokens
from heedful.inboxes.email.config import EmailSettings
from heedful.inboxes.email.parsed import EmailParseError, ParsedEmail
from heedful.inboxes.models import Inbox, RawInbound

log = logging.getLogger(__name__)

CONTENT_TYPE = "message/rfc822"
# What an oversized message is stored as: its header block only (RFC 6522's type).
HEADERS_ONLY = "text/rfc822-headers"
# A message copied to a crowd must not turn the crowd into participants.
MAX_CC_PARTICIPANTS = 20
_SUBJECT_REFERENCE = re.compile(r"\[#(\d{1,18})\]")
_HEADER_END = re.compile(rb"\r?\n\r?\n")


def accept(
    *,
    inbox: Inbox,
    payload: bytes,
    source_key: str | None = None,
    ring: bool = True,
    full_size: int | None = None,
) -> tuple[RawInbound, bool]:
    """Store raw input first. Returns (row, created); the same source_key twice is one row.

    A message over HEEDFUL_MAX_EMAIL_BYTES keeps only its header block, quarantined
    with the reason, so an admin sees what was refused and from whom. A fetcher that
    only downloaded the headers of a large message passes its real `full_size`.
    """
    limit = settings.HEEDFUL_MAX_EMAIL_BYTES
    size = full_size if full_size is not None else len(payload)
    reason = ""
    if size > limit:
        payload = _header_block(payload)
        reason = (
            f"message is {size:,} bytes, over the {limit:,}-byte limit "
            "(HEEDFUL_MAX_EMAIL_BYTES); only its headers were kept"
        )
    if source_key is not None:
        existing = RawInbound.objects.filter(inbox=inbox, source_key=source_key).first()
        if existing is not None:
            return existing, False
    raw = store_raw(
        inbox=inbox,
        payload=payload,
        content_type=HEADERS_ONLY if reason else CONTENT_TYPE,
        source_key=source_key,
        quarantine_reason=reason,
    )
    if ring and not reason:
        _ring(raw.pk)
    return raw, True


def _header_block(payload: bytes) -> bytes:
    match = _HEADER_END.search(payload, 0, 256 * 1024)
    return payload[: match.end()] if match else payload[: 64 * 1024]


def _ring(raw_id: int) -> None:
    from heedful.inboxes.tasks import process_raw

    transaction.on_commit(lambda: process_raw(raw_id))


def process(raw: RawInbound) -> ReceiveResult | None:
    """Parse and receive one stored email. Idempotent: a processed row is left alone.

    Returns None when the message was not a conversation message (a bounce report
    matched to our outbound mail) or was already processed. Raises Quarantined.
    """
    if raw.status in (RawInbound.Status.PROCESSED, RawInbound.Status.DUPLICATE):
        return None
    if raw.content_type == HEADERS_ONLY:
        # A retry cannot bring back a body that was never stored.
        return quarantine(
            raw,
            "only the headers of this oversized message were kept; raise "
            "HEEDFUL_MAX_EMAIL_BYTES and have it fetched or sent again",
        )
    from heedful.inboxes.email.parse import parse_email

    try:
        parsed = parse_email(bytes(raw.payload))
    except EmailParseError as exc:
        return quarantine(raw, str(exc))
    except Exception as exc:  # a parser bug quarantines one message, never the mailbox
        log.exception("email parser failed on raw inbound %s", raw.pk)
        return quarantine(raw, f"parser failed: {type(exc).__name__}: {exc}")

    try:
        if parsed.bounce is not None and _from_mail_system(parsed) and _handle_bounce(raw, parsed):
            return None
        inbound = to_inbound(raw.inbox, parsed, raw)
    except AlreadyHandled:
        return None
    except EmailParseError as exc:  # no usable sender: quarantined, like a parse failure
        return quarantine(raw, str(exc))
    except Exception as exc:  # one message's failure must not stop the ones behind it
        log.exception("email processing failed on raw inbound %s", raw.pk)
        return quarantine(raw, f"{type(exc).__name__}: {exc}")
    try:
        result = receive(inbound, raw=raw)
    except AlreadyHandled:
        return None
    wants_ack = EmailSettings.of(raw.inbox).auto_ack
    if wants_ack and result.created_conversation and not result.duplicate:
        from heedful.inboxes.email.autoreply import maybe_acknowledge

        # maybe_acknowledge refuses automatic senders (RFC 3834), suppressed addresses
        # and senders answered within the window.
        try:
            maybe_acknowledge(conversation=result.conversation, message=result.message)
        except Exception:  # the message is stored; a failed acknowledgment loses nothing
            log.exception("acknowledgment for conversation %s failed", result.conversation.pk)
    return result


def _from_mail_system(parsed: ParsedEmail) -> bool:
    """Delivery reports come from a mail system (MAILER-DAEMON, postmaster); one a
    customer writes themselves is kept as a message and fails nothing."""
    local = parsed.sender.address.rpartition("@")[0].lower()
    return local in ("mailer-daemon", "postmaster")


def _handle_bounce(raw: RawInbound, parsed: ParsedEmail) -> bool:
    from heedful.inboxes.email.bounces import record_bounce

    assert parsed.bounce is not None
    with transaction.atomic():
        if claim_raw(raw) is not None:
            return True  # processed as a message by another worker meanwhile
        message = record_bounce(
            inbox=raw.inbox,
            bounce=parsed.bounce,
            report_id=parsed.message_id or f"sha256:{raw.sha256}",
            reported_at=parsed.date,
        )
        if message is None:
            return False  # not about mail we sent: keep it as a message, so it is seen
        rows.update(
            RawInbound,
            raw.pk,
            status=RawInbound.Status.PROCESSED,
            message_id=message.pk,
            reason=f"delivery report for message {message.pk}",
            attempts=raw.attempts + 1,
        )
    return True


def to_inbound(inbox: Inbox, parsed: ParsedEmail, raw: RawInbound | None = None) -> InboundMessage:
    config = EmailSettings.of(inbox)
    ours = {tokens.base_address(a) for a in config.addresses(inbox)}
    sender = parsed.sender.address.strip()
    if not sender:
        raise EmailParseError("no sender address (From, Sender and Reply-To are all unusable)")
    auto = parsed.auto_submitted
    if not auto and tokens.base_address(sender.lower()) in ours:
        auto = "sent from this inbox's own address"  # a loop: never answer it
    return InboundMessage(
        inbox=inbox,
        sender=Sender(kind=IdentityKind.EMAIL, address=sender, name=parsed.sender.name),
        text=parsed.text,
        html=parsed.html,
        subject=parsed.subject,
        external_id=parsed.message_id or (f"<sha256.{raw.sha256}@heedful>" if raw else None),
        thread_hints=tuple(dict.fromkeys([*parsed.in_reply_to, *parsed.references])),
        signed_conversation=_signed_conversation(parsed),
        conversation_hint=_subject_reference(parsed.subject),
        cc=_participants(parsed, sender, ours),
        attachments=parsed.attachments,
        quoted_text=parsed.quoted_text,
        notice="\n".join(parsed.notices),
        sender_unverified=parsed.auth_failed,
        auto_submitted=auto,
    )


def _signed_conversation(parsed: ParsedEmail) -> int | None:
    for address in [*(a.address for a in (*parsed.to, *parsed.cc)), *parsed.delivered_to]:
        number = tokens.conversation_number(address)
        if number is not None:
            return number
    return None


def _deliverable(address: str) -> bool:
    """An address our mail backends accept: Django refuses `x@host.` and friends at
    send time, which would fail every reply copied to it."""
    if len(address) > 254:  # RFC 5321's limit
        return False
    try:
        validate_email(address)
    except ValidationError:
        return False
    return True


def _subject_reference(subject: str) -> int | None:
    match = _SUBJECT_REFERENCE.search(subject)
    return int(match.group(1)) if match else None


def _participants(parsed: ParsedEmail, sender: str, ours: set[str]) -> tuple[Sender, ...]:
    """Everyone else on To and Cc who is not one of our own addresses: "reply all"."""
    seen = {sender.lower()}
    found: list[Sender] = []
    for item in (*parsed.to, *parsed.cc):
        address = item.address.strip().lower()
        if not address or address in seen or tokens.base_address(address) in ours:
            continue
        if not _deliverable(address):
            continue  # every later reply would fail on it
        seen.add(address)
        found.append(Sender(kind=IdentityKind.EMAIL, address=item.address, name=item.name))
        if len(found) >= MAX_CC_PARTICIPANTS:
            break
    return tuple(found)
