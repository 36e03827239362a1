"""Outbound delivery under a lease: pending -> sending (until a deadline) -> sent | failed.

Only one worker can hold a message's lease, so a message is never sent twice
at once; the sweep re-sends only what is pending or whose lease expired.
"""

import logging
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from heedful.conversations.models import DeliveryStatus, EventType, Message
from heedful.conversations.services.events import record_event
from heedful.inboxes.registry import DeliveryResult, get_adapter

log = logging.getLogger(__name__)

# Our lease expired and another worker re-claimed the message: its outcome is theirs
# to record. (Keep EMAIL_TIMEOUT well below the lease so this stays rare.)
LOST_LEASE = "lost-lease"


def _due(now: object) -> Q:
    """Outside its undo window: a reply is never handed over before `send_after`."""
    return Q(send_after__isnull=True) | Q(send_after__lte=now)


def claim(message_id: int) -> Message | None:
    """Take the delivery lease, or None if another worker has it, it is done, it was
    withdrawn (undo), or its undo window is still open."""
    now = timezone.now()
    lease_until = now + timedelta(seconds=settings.HEEDFUL_DELIVERY_LEASE_SECONDS)
    with transaction.atomic():
        # The same conditional UPDATE as undo_reply's (pending -> ...): of a claim and
        # an undo racing for one message, exactly one changes the row.
        taken = Message.objects.filter(
            Q(delivery_status=DeliveryStatus.PENDING) & _due(now)
            | Q(delivery_status=DeliveryStatus.SENDING, lease_until__lt=now),
            pk=message_id,
        ).update(
            delivery_status=DeliveryStatus.SENDING,
            lease_until=lease_until,
            delivery_attempts=F("delivery_attempts") + 1,
        )
    if not taken:
        return None
    return Message.objects.select_related(
        "conversation", "inbox", "recipient_identity", "conversation__customer"
    ).get(pk=message_id)


def deliver_message(message_id: int) -> str:
    """Send one message through its inbox's adapter. Returns the resulting status."""
    message = claim(message_id)
    if message is None:
        return "skipped"
    try:
        result = get_adapter(message.inbox.kind).deliver(message)
    except Exception as exc:  # an adapter bug must not leave the lease dangling silently
        log.exception("delivery of message %s failed", message_id)
        result = DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
    return _finish(message, result)


def _finish(message: Message, result: DeliveryResult) -> str:
    now = timezone.now()
    with transaction.atomic():
        mine = Message.objects.filter(
            pk=message.pk, delivery_status=DeliveryStatus.SENDING, lease_until=message.lease_until
        )
        if result.ok:
            status = DeliveryStatus.SENT
            if not mine.update(
                delivery_status=status,
                sent_at=now,
                lease_until=None,
                delivery_error="",
                external_id=result.external_id or message.external_id,
            ):
                return LOST_LEASE
            record_event(
                conversation=message.conversation,
                type=EventType.DELIVERED,
                data={"message_id": message.pk},
            )
            return status
        retry = (
            not result.permanent
            and message.delivery_attempts < settings.HEEDFUL_DELIVERY_MAX_ATTEMPTS
        )
        status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
        if not mine.update(
            delivery_status=status, lease_until=None, delivery_error=result.error[:2000]
        ):
            return LOST_LEASE
        record_event(
            conversation=message.conversation,
            type=EventType.DELIVERY_FAILED,
            data={"message_id": message.pk, "error": result.error[:500], "will_retry": retry},
        )
        return status


def due_for_delivery(grace_seconds: int = 30) -> list[int]:
    """Pending messages older than the grace period and past their undo window, and
    sends whose lease expired."""
    now = timezone.now()
    return list(
        Message.objects.filter(
            Q(
                delivery_status=DeliveryStatus.PENDING,
                created_at__lt=now - timedelta(seconds=grace_seconds),
            )
            & _due(now)
            | Q(delivery_status=DeliveryStatus.SENDING, lease_until__lt=now)
        )
        .order_by("pk")
        .values_list("pk", flat=True)[:500]
    )


def seconds_until_due(message_id: int) -> float | None:
    """Seconds left in a pending reply's undo window, or None if it is not waiting on one."""
    send_after = (
        Message.objects.filter(pk=message_id, delivery_status=DeliveryStatus.PENDING)
        .values_list("send_after", flat=True)
        .first()
    )
    if send_after is None:
        return None
    left = (send_after - timezone.now()).total_seconds()
    return left + 0.5 if left > 0 else None
