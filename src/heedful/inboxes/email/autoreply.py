"""The inbox's automatic acknowledgment of a new conversation (RFC 3834).

Never to mail that is itself automatic (the parser sets `auto_submitted` for
Auto-Submitted, Precedence bulk/junk/list, List-Id, X-Auto-Response-Suppress, a
null or mailer-daemon sender), never to a suppressed address, and at most once
per sender per HEEDFUL_AUTOREPLY_WINDOW_HOURS, claimed in the AutoReply table so
that two workers handling two messages from one sender send one acknowledgment.
Two auto-responders answering each other stop after one message each.
"""

from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import F
from django.utils import timezone

from heedful.conversations.models import (
    AuthorType,
    Conversation,
    DeliveryStatus,
    Direction,
    EventType,
    Message,
)
from heedful.conversations.services.events import record_event
from heedful.customers.identities import IdentityKind
from heedful.inboxes.email.config import EmailSettings
from heedful.inboxes.email.outbound import own_addresses, suppression_of
from heedful.inboxes.email.tokens import base_address
from heedful.inboxes.models import AutoReply, Inbox


def maybe_acknowledge(*, conversation: Conversation, message: Message) -> Message | None:
    """Send the inbox's acknowledgment for `message` if one is due; the stored
    acknowledgment, or None when none is due."""
    inbox = conversation.inbox
    config = EmailSettings.of(inbox)
    sender = message.sender_identity
    # Not to a sender the receiving server could not vouch for either: a forged From
    # would make us mail whoever it names.
    if not config.auto_ack or message.auto_submitted or message.sender_unverified:
        return None
    if message.direction != Direction.INBOUND:
        return None
    if sender is None or sender.kind != IdentityKind.EMAIL:
        return None
    if conversation.is_spam:  # a blocked sender: answering spam is backscatter
        return None
    address = sender.address.strip().lower()
    if base_address(address) in own_addresses(inbox) or suppression_of(address):
        return None
    with transaction.atomic():
        if not claim_acknowledgment(inbox=inbox, address=address):
            return None
        ack = _store_acknowledgment(conversation, message, config)
    return ack


def claim_acknowledgment(*, inbox: Inbox, address: str) -> bool:
    """Whether this call may acknowledge `address` now; records that it did.

    A conditional UPDATE for a sender answered before the window, else an INSERT
    under the (inbox, address) unique constraint: of two concurrent calls exactly
    one changes a row. Call inside a transaction with the acknowledgment's insert,
    so a failure after the claim gives it back.
    """
    now = timezone.now()
    window = timedelta(hours=settings.HEEDFUL_AUTOREPLY_WINDOW_HOURS)
    if AutoReply.objects.filter(inbox=inbox, address=address, sent_at__lt=now - window).update(
        sent_at=now
    ):
        return True
    try:
        with transaction.atomic():
            AutoReply.objects.create(inbox=inbox, address=address, sent_at=now)
    except IntegrityError:  # answered within the window, or a concurrent claim won
        return False
    return True


def _store_acknowledgment(
    conversation: Conversation, message: Message, config: EmailSettings
) -> Message:
    now = timezone.now()
    number = conversation.number
    ack = Message.objects.create(
        conversation=conversation,
        inbox=conversation.inbox,
        direction=Direction.OUTBOUND,
        author_type=AuthorType.SYSTEM,
        recipient_identity=message.sender_identity,
        body_text=config.auto_ack_text.replace("{number}", str(number)),
        is_automatic=True,
        delivery_status=DeliveryStatus.PENDING,
        created_at=max(now, message.created_at),
    )
    # Counted as a message, but it answers nobody: the conversation stays new and
    # waiting, its preview keeps the customer's words, and no first response is set.
    Conversation.objects.filter(pk=conversation.pk).update(
        message_count=F("message_count") + 1, updated_at=now
    )
    conversation.refresh_from_db()
    record_event(
        conversation=conversation,
        type=EventType.REPLY_SENT,
        data={
            "message_id": ack.pk,
            "channel": conversation.inbox.kind,
            "automatic": True,
            "acknowledgment": True,
            "recipient_identity_id": message.sender_identity_id,
        },
    )
    ack_id = ack.pk
    transaction.on_commit(lambda: _deliver(ack_id))
    return ack


def _deliver(message_id: int) -> None:
    from heedful.conversations.tasks import deliver

    deliver(message_id)
