"""Delivery status notifications (bounces) about mail we sent, and the suppression
of addresses that keep hard-bouncing.

A report counts only for the addresses the reply really went to: its recipient and
the copies (CC) its delivery recorded. A permanent bounce for the recipient marks
the reply failed with the remote server's answer, visibly in the conversation; one
for a copy only notes it and leaves the reply sent. Each bounced address counts a
hard bounce; after HEEDFUL_BOUNCE_SUPPRESS_AFTER of them the address is suppressed:
replies to it fail at once, without contacting any server, until an admin lifts it.
A delay report (4.x.x) changes nothing but is noted. A report is applied once, however
often it is read again, and never to a reply sent again after it was written.
"""

import hashlib
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F, Q
from django.utils import timezone

from heedful.accounts.models import User
from heedful.accounts.permissions import require
from heedful.conversations.models import (
    DeliveryStatus,
    Direction,
    EventType,
    Message,
)
from heedful.conversations.services.events import record_event
from heedful.core.errors import NotFound
from heedful.customers.identities import InvalidAddress, normalize_email
from heedful.inboxes.email.parsed import Bounce
from heedful.inboxes.models import EmailSuppression, Inbox

# A report's Date comes from the remote server's clock: only a report written this
# much before the reply's latest sending is taken to be about an earlier sending.
CLOCK_SKEW = timedelta(minutes=10)


def record_bounce(
    *,
    inbox: Inbox,
    bounce: Bounce,
    report_id: str = "",
    reported_at: datetime | None = None,
) -> Message | None:
    """Apply a bounce report to the outbound message it is about.

    `report_id` names the report itself (its Message-ID, else the SHA-256 of its
    bytes), so reading it again applies nothing twice; without one a digest of the
    report's fields stands in. `reported_at` is its Date, when it has one.

    Returns that message, or None when the report names no message we sent or none
    of the addresses that message went to (it is then kept as an ordinary message,
    so someone sees it). Runs in the caller's transaction (ingest)."""
    message = _original(bounce)
    if message is None:
        return None
    bounced = _bounced(bounce, message)
    if not bounced:
        return None
    report = report_id.strip()[:255] or _digest(bounce)
    if _applied(message, report) or _about_an_earlier_sending(message, reported_at):
        return message
    detail = " ".join(f"{bounce.status} {bounce.diagnostic}".split())
    data = {
        "message_id": message.pk,
        "bounce": True,
        "permanent": bounce.permanent,
        "status": bounce.status,
        "diagnostic": bounce.diagnostic[:500],
        "recipients": bounced,
        "report": report,
    }
    # Only the recipient's bounce fails the reply; a copy's is noted against the copy.
    copies_only = _recipient(message) not in bounced
    if copies_only:
        data["bounced_for"] = bounced
    for_whom = f" for {', '.join(bounced)}" if copies_only else ""
    if not bounce.permanent:
        data["error"] = f"Delayed{for_whom}: {detail} (the mail server is still trying)"[:500]
        record_event(conversation=message.conversation, type=EventType.DELIVERY_FAILED, data=data)
        return message
    _apply_hard_bounce(message, bounced, f"Bounced{for_whom}: {detail}", detail, data)
    if not copies_only:
        _fail(message, f"Bounced: {detail}")
    message.refresh_from_db()
    return message


def _apply_hard_bounce(
    message: Message, bounced: list[str], error: str, detail: str, data: dict[str, object]
) -> None:
    new_addresses = _not_yet_counted(message, bounced)  # before this report's own event
    record_event(
        conversation=message.conversation,
        type=EventType.DELIVERY_FAILED,
        data=data | {"error": error[:500], "will_retry": False},
    )
    for address in new_addresses:
        count_hard_bounce(address, reason=detail)


def _original(bounce: Bounce) -> Message | None:
    ids = [i for i in bounce.original_message_ids if i]
    if not ids:
        return None
    return (
        Message.objects.filter(external_id__in=ids, direction=Direction.OUTBOUND, is_note=False)
        .select_related("conversation", "recipient_identity")
        .order_by("-created_at", "-id")
        .first()
    )


def _bounced(bounce: Bounce, message: Message) -> list[str]:
    """The addresses the report names that the message really went to, normalized."""
    sent_to = {_recipient(message), *_copies(message)}
    found: list[str] = []
    for address in bounce.recipients:
        try:
            value = normalize_email(address.split(";", 1)[-1])  # "rfc822; x@y"
        except InvalidAddress:
            continue
        if value in sent_to and value not in found:
            found.append(value)
    return found


def _recipient(message: Message) -> str:
    identity = message.recipient_identity
    if identity is None:
        return ""
    try:
        return normalize_email(identity.address)
    except InvalidAddress:
        return ""


def _copies(message: Message) -> set[str]:
    """Whom the message's deliveries copied (each sending, if it was sent again).
    A delivery recorded before copies were kept names none: only its recipient counts."""
    found: set[str] = set()
    delivered = message.conversation.events.filter(
        type=EventType.DELIVERED, data__message_id=message.pk
    )
    for data in delivered.values_list("data", flat=True):
        copied = data.get("cc") if isinstance(data, dict) else None
        for address in copied if isinstance(copied, list) else []:
            try:
                found.add(normalize_email(str(address)))
            except InvalidAddress:
                continue
    return found


def _digest(bounce: Bounce) -> str:
    """Stands in for the report's own id: the same report read again digests the same."""
    parts = [
        *bounce.original_message_ids,
        "|",
        *bounce.recipients,
        "|",
        bounce.status,
        bounce.diagnostic,
        str(bounce.permanent),
    ]
    return "sha256:" + hashlib.sha256("\n".join(parts).encode()).hexdigest()


def _applied(message: Message, report: str) -> bool:
    return message.conversation.events.filter(
        type=EventType.DELIVERY_FAILED, data__message_id=message.pk, data__report=report
    ).exists()


def _about_an_earlier_sending(message: Message, reported_at: datetime | None) -> bool:
    """A report written before the agent sent the reply again is about the earlier copy;
    it must not fail the new one. A reply sent once is what any report is about,
    whatever the remote clock wrote in its Date."""
    if reported_at is None or message.sent_at is None:
        return False
    if reported_at + CLOCK_SKEW >= message.sent_at:
        return False
    return message.conversation.events.filter(
        type=EventType.DELIVERY_RETRIED, data__message_id=message.pk
    ).exists()


def _fail(message: Message, error: str) -> None:
    # Sent (or already failed): the remote side has given up on it. A reply pending or
    # being sent again after an agent's retry keeps going: that sending is newer than
    # whatever this report is about.
    Message.objects.filter(
        pk=message.pk, delivery_status__in=[DeliveryStatus.SENT, DeliveryStatus.FAILED]
    ).update(delivery_status=DeliveryStatus.FAILED, delivery_error=error[:2000], lease_until=None)


def _not_yet_counted(message: Message, recipients: list[str]) -> list[str]:
    """A report delivered twice (or a second report about the same message) counts
    each address once per message."""
    counted: set[str] = set()
    earlier = message.conversation.events.filter(type=EventType.DELIVERY_FAILED)
    for data in earlier.values_list("data", flat=True):
        if (
            isinstance(data, dict)
            and data.get("bounce")
            and data.get("permanent")
            and data.get("message_id") == message.pk
        ):
            counted.update(data.get("recipients") or [])
    return [a for a in recipients if a not in counted]


def count_hard_bounce(address: str, *, reason: str) -> EmailSuppression:
    """One more hard bounce for `address`; suppress it when the count reaches the limit."""
    now = timezone.now()
    row = _suppression_row(address)
    EmailSuppression.objects.filter(pk=row.pk).update(
        hard_bounces=F("hard_bounces") + 1, last_bounce_at=now, last_reason=reason[:2000]
    )
    # Conditional, so concurrent reports suppress once; a lifted address that bounces
    # its way back to the limit is suppressed anew.
    EmailSuppression.objects.filter(
        Q(suppressed_at__isnull=True) | Q(lifted_at__isnull=False),
        pk=row.pk,
        hard_bounces__gte=max(1, settings.HEEDFUL_BOUNCE_SUPPRESS_AFTER),
    ).update(suppressed_at=now, lifted_at=None, lifted_by=None)
    row.refresh_from_db()
    return row


def _suppression_row(address: str) -> EmailSuppression:
    row = EmailSuppression.objects.filter(address=address).first()
    if row is not None:
        return row
    try:
        with transaction.atomic():
            return EmailSuppression.objects.create(address=address)
    except IntegrityError:  # another report created it first
        return EmailSuppression.objects.get(address=address)


def lift_suppression(*, address: str, actor: User) -> EmailSuppression:
    """Allow sending to `address` again (the customer fixed their mailbox); its count
    starts from zero."""
    require(actor, "configuration.manage")
    try:
        value = normalize_email(address)
    except InvalidAddress as exc:
        raise NotFound(str(exc)) from None
    updated = EmailSuppression.objects.filter(address=value).update(
        lifted_at=timezone.now(), lifted_by=actor, hard_bounces=0
    )
    if not updated:
        raise NotFound(f"{value} is not suppressed.")
    return EmailSuppression.objects.get(address=value)


def is_suppressed(address: str) -> bool:
    try:
        value = normalize_email(address)
    except InvalidAddress:
        return False
    return EmailSuppression.objects.filter(
        address=value, suppressed_at__isnull=False, lifted_at__isnull=True
    ).exists()
