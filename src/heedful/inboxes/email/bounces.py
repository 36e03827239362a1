"""Delivery status notifications (bounces) about mail we sent, and the suppression
of addresses that keep hard-bouncing.

A permanent bounce marks our outbound message failed with the remote server's
answer, visibly in the conversation, and counts a hard bounce against each
failed recipient; after HEEDFUL_BOUNCE_SUPPRESS_AFTER of them the address is
suppressed: replies to it fail at once, without contacting any server, until an
admin lifts it. A delay report (4.x.x) changes nothing but is noted.
"""

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


def record_bounce(*, inbox: Inbox, bounce: Bounce) -> Message | None:
    """Apply a bounce report to the outbound message it is about.

    Returns that message, or None when the report names no message we sent (it is
    then kept as an ordinary message, so someone sees it). Runs in the caller's
    transaction (ingest)."""
    message = _original(bounce)
    if message is None:
        return None
    recipients = _recipients(bounce, message)
    detail = " ".join(f"{bounce.status} {bounce.diagnostic}".split())
    data = {
        "message_id": message.pk,
        "bounce": True,
        "permanent": bounce.permanent,
        "status": bounce.status,
        "diagnostic": bounce.diagnostic[:500],
        "recipients": recipients,
    }
    if not bounce.permanent:
        data |= {"error": f"Delayed: {detail} (the mail server is still trying)"[:500]}
        record_event(conversation=message.conversation, type=EventType.DELIVERY_FAILED, data=data)
        return message
    error = f"Bounced: {detail}"
    new_recipients = _not_yet_counted(message, recipients)
    # Whatever it was (sent, or pending a retry), the remote side has given up on it.
    Message.objects.filter(pk=message.pk).exclude(delivery_status=DeliveryStatus.CANCELLED).update(
        delivery_status=DeliveryStatus.FAILED, delivery_error=error[:2000], lease_until=None
    )
    record_event(
        conversation=message.conversation,
        type=EventType.DELIVERY_FAILED,
        data=data | {"error": error[:500], "will_retry": False},
    )
    for address in new_recipients:
        count_hard_bounce(address, reason=detail)
    message.refresh_from_db()
    return message


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


def _recipients(bounce: Bounce, message: Message) -> list[str]:
    """The failed addresses, normalized; the message's recipient when the report
    names none it can read."""
    found: list[str] = []
    for address in bounce.recipients:
        try:
            value = normalize_email(address.split(";", 1)[-1])  # "rfc822; x@y"
        except InvalidAddress:
            continue
        if value not in found:
            found.append(value)
    if not found and message.recipient_identity is not None:
        found.append(message.recipient_identity.address.lower())
    return found


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
