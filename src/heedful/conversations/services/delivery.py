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

from heedful.accounts.models import User
from heedful.accounts.permissions import require
from heedful.conversations.models import DeliveryStatus, Direction, EventType, Message
from heedful.conversations.services.events import record_event
from heedful.core.errors import Conflict, ServiceError
from heedful.inboxes.registry import DeliveryResult, get_adapter

log = logging.getLogger(__name__)

# Our lease expired and another worker re-claimed the message: its outcome is theirs
# to record. (Keep EMAIL_TIMEOUT well below the lease so this stays rare.)
LOST_LEASE = "lost-lease"
# Waits after the 1st, 2nd, ... transient failure; the last repeats.
RETRY_DELAYS_MINUTES = (1, 5, 15, 60, 240)


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
            data: dict[str, object] = {"message_id": message.pk}
            # Email names whom it copied the reply to, only when it copied anyone: a
            # bounce report about a copy is checked against this list.
            copied = list(getattr(result, "cc", ()))
            if copied:
                data["cc"] = copied
            record_event(conversation=message.conversation, type=EventType.DELIVERED, data=data)
            return status
        retry = (
            not result.permanent
            and message.delivery_attempts < settings.HEEDFUL_DELIVERY_MAX_ATTEMPTS
        )
        status = DeliveryStatus.PENDING if retry else DeliveryStatus.FAILED
        retry_at = now + backoff(message.delivery_attempts) if retry else None
        if not mine.update(
            delivery_status=status,
            lease_until=None,
            delivery_error=result.error[:2000],
            send_after=retry_at,
        ):
            return LOST_LEASE
        data = {"message_id": message.pk, "error": result.error[:500], "will_retry": retry}
        if retry_at is not None:
            data["retry_at"] = retry_at.isoformat()
        record_event(conversation=message.conversation, type=EventType.DELIVERY_FAILED, data=data)
        return status


def backoff(attempts: int) -> timedelta:
    """How long to wait after the `attempts`-th failed try: a server that said "try
    later" is given time, and a long outage does not use up the attempts in minutes."""
    delays = RETRY_DELAYS_MINUTES
    return timedelta(minutes=delays[min(max(attempts, 1), len(delays)) - 1])


def retry_delivery(*, message: Message, actor: User) -> Message:
    """Send a failed reply again (the agent's retry button): back to pending with its
    attempts reset, delivered after commit. Access is the caller's to check.

    Only a failed reply: a sent one would go out twice, a withdrawn one was taken
    back on purpose, a pending one is already on its way.
    """
    if message.is_note or message.direction != Direction.OUTBOUND:
        raise ServiceError("Only a reply can be sent again.")
    require(actor, "conversation.reply")
    with transaction.atomic():
        # Conditional, so two clicks (or a click racing a bounce) retry once.
        taken = Message.objects.filter(pk=message.pk, delivery_status=DeliveryStatus.FAILED).update(
            delivery_status=DeliveryStatus.PENDING,
            delivery_attempts=0,
            send_after=None,
            lease_until=None,
        )
        if not taken:
            raise Conflict("Only a reply whose delivery failed can be sent again.")
        message.refresh_from_db()
        # Its own event type: metrics count REPLY_SENT as a reply, and this is the
        # same reply going out again.
        record_event(
            conversation=message.conversation,
            type=EventType.DELIVERY_RETRIED,
            actor=actor,
            data={"message_id": message.pk, "previous_error": message.delivery_error[:500]},
        )
        message_id = message.pk
        transaction.on_commit(lambda: _deliver_later(message_id))
    return message


def _deliver_later(message_id: int) -> None:
    from heedful.conversations.tasks import deliver

    deliver(message_id)


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
