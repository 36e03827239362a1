"""The one inbound pipeline: every channel's messages arrive through `receive`."""

import hashlib
import logging
from dataclasses import dataclass
from datetime import datetime

from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.utils import timezone

from heedful.conversations.inbound import InboundAttachment, InboundMessage, Sender
from heedful.conversations.models import (
    UNSOLVED,
    Attachment,
    AuthorType,
    Conversation,
    ConversationParticipant,
    Direction,
    EventType,
    Message,
    ParticipantRole,
    Status,
)
from heedful.conversations.services.events import record_event
from heedful.core import rows
from heedful.core.html import sanitize_html
from heedful.core.models import Counter
from heedful.customers.identities import normalize
from heedful.customers.models import BlockedSender, Customer, Identity
from heedful.inboxes.models import Inbox, RawInbound

log = logging.getLogger(__name__)

PREVIEW_LENGTH = 200


@dataclass(frozen=True)
class ReceiveResult:
    message: Message
    conversation: Conversation
    created_conversation: bool
    duplicate: bool
    raw: RawInbound | None


class AlreadyHandled(Exception):
    """Another worker processed this raw input first, into something other than a
    message (a bounce report). Nothing to do."""


class Quarantined(Exception):
    """Processing failed; the raw input is kept with the reason for a retry."""

    def __init__(self, raw: RawInbound, reason: str) -> None:
        super().__init__(reason)
        self.raw = raw
        self.reason = reason


def store_raw(
    *,
    inbox: Inbox,
    payload: bytes,
    content_type: str,
    source_key: str | None = None,
    quarantine_reason: str = "",
) -> RawInbound:
    """Commit the raw input on its own, so a later failure loses nothing.

    With a `source_key` (where the channel keeps it), storing the same input twice
    returns the row stored first.
    """
    try:
        with transaction.atomic():
            return rows.insert(
                RawInbound(
                    inbox=inbox,
                    payload=payload,
                    content_type=content_type,
                    sha256=hashlib.sha256(payload).hexdigest(),
                    source_key=source_key,
                    # Refused input is quarantined in the same insert: no moment in
                    # which a worker could take it for input to process.
                    status=(
                        RawInbound.Status.QUARANTINED
                        if quarantine_reason
                        else RawInbound.Status.RECEIVED
                    ),
                    reason=quarantine_reason,
                )
            )
    except IntegrityError:
        if source_key is None:
            raise
        return RawInbound.objects.get(inbox=inbox, source_key=source_key)


def receive(inbound: InboundMessage, *, raw: RawInbound | None = None) -> ReceiveResult:
    """Store raw input, dedupe, resolve the sender, thread, store the message.

    Raises `Quarantined` when processing fails after the raw input was stored.
    """
    if raw is None and inbound.raw:
        raw = store_raw(
            inbox=inbound.inbox,
            payload=inbound.raw,
            content_type=inbound.raw_content_type,
            source_key=inbound.source_key,
        )
    try:
        result = _receive_once(inbound, raw)
    except AlreadyHandled:
        raise
    except IntegrityError:
        # A concurrent receive of the same external id won the race: that is a duplicate.
        existing = _find_duplicate(inbound)
        if existing is None:
            return quarantine(raw, "database constraint failed while storing the message")
        result = ReceiveResult(existing, existing.conversation, False, True, raw)
        _mark_raw(raw, RawInbound.Status.DUPLICATE, existing)
    except Exception as exc:
        log.exception("inbound message quarantined")
        return quarantine(raw, f"{type(exc).__name__}: {exc}")
    return result


def quarantine(raw: RawInbound | None, reason: str) -> ReceiveResult:
    """Keep the raw input with the reason, for a retry after a fix; raises Quarantined."""
    if raw is None:
        raise RuntimeError(reason)
    RawInbound.objects.filter(pk=raw.pk).update(
        status=RawInbound.Status.QUARANTINED, reason=reason[:2000], attempts=raw.attempts + 1
    )
    raw.refresh_from_db()
    raise Quarantined(raw, reason)


def _mark_raw(raw: RawInbound | None, status: str, message: Message) -> None:
    if raw is not None:
        rows.update(
            RawInbound,
            raw.pk,
            status=status,
            message_id=message.pk,
            reason="",
            attempts=raw.attempts + 1,
        )


def _find_duplicate(inbound: InboundMessage) -> Message | None:
    if not inbound.external_id:
        return None
    pk = rows.first_id(Message, inbox_id=inbound.inbox.pk, external_id=inbound.external_id)
    if pk is None:
        return None
    return Message.objects.select_related("conversation").filter(pk=pk).first()


def claim_raw(raw: RawInbound) -> ReceiveResult | None:
    """Lock the raw row for this transaction; the earlier result if it was processed.

    Two workers can hold the same raw id (its doorbell task and the sweep): the
    second waits here for the first to commit, then sees it done. Raises
    AlreadyHandled when it was processed into something other than a message.
    """
    row = rows.first_values(RawInbound, ("status", "message_id"), lock=True, id=raw.pk)
    done = (RawInbound.Status.PROCESSED, RawInbound.Status.DUPLICATE)
    if row is None or row[0] not in done:
        return None
    message = Message.objects.select_related("conversation").filter(pk=row[1]).first()
    if message is None:
        raise AlreadyHandled(f"raw inbound {raw.pk} was already processed")
    return ReceiveResult(message, message.conversation, False, True, raw)


def _receive_once(inbound: InboundMessage, raw: RawInbound | None) -> ReceiveResult:
    now = inbound.received_at or timezone.now()
    with transaction.atomic():
        if raw is not None and (earlier := claim_raw(raw)) is not None:
            return earlier
        duplicate = _find_duplicate(inbound)
        if duplicate is not None:
            _mark_raw(raw, RawInbound.Status.DUPLICATE, duplicate)
            return ReceiveResult(duplicate, duplicate.conversation, False, True, raw)

        identity = resolve_identity(inbound.sender)
        customer = identity.customer
        conversation = _thread(inbound, identity)
        created = conversation is None
        if conversation is None:
            conversation = _open_conversation(inbound, identity, now)
        elif conversation.status == Status.SOLVED:
            _reopen(conversation)

        message = rows.insert(
            Message(
                conversation=conversation,
                inbox=inbound.inbox,
                direction=Direction.INBOUND,
                author_type=AuthorType.CUSTOMER,
                sender_identity=identity,
                body_text=inbound.text,
                body_html=sanitize_html(inbound.html),
                quoted_text=inbound.quoted_text,
                notice=inbound.notice,
                sender_unverified=inbound.sender_unverified[:255],
                auto_submitted=inbound.auto_submitted[:255],
                external_id=inbound.external_id or None,
                created_at=now,
            )
        )
        _store_attachments(message, inbound.attachments)
        # Only someone already in the conversation (or opening it) brings people in,
        # and only when the receiving server vouched for them: otherwise a forged
        # From could copy a stranger into every later reply.
        established = created or _takes_part(conversation, identity)
        _add_participants(
            conversation,
            identity,
            inbound.cc if established and not inbound.sender_unverified else (),
            opened=created,
            established=established,
        )
        if not created:  # a new conversation was written with these fields already
            _touch_on_inbound(conversation, message, now)
        record_event(
            conversation=conversation,
            type=EventType.MESSAGE_RECEIVED,
            actor_type=AuthorType.CUSTOMER,
            data={
                "message_id": message.pk,
                "channel": inbound.inbox.kind,
                "identity_id": identity.pk,
                "customer_id": customer.pk,
            },
        )
        _mark_raw(raw, RawInbound.Status.PROCESSED, message)
    return ReceiveResult(message, conversation, created, False, raw)


def resolve_identity(sender: Sender) -> Identity:
    """The Identity for a sender, creating the customer on first contact."""
    address = normalize(sender.kind, sender.address)
    identity = None
    identity = _known_identity(sender.kind, address)
    if identity is None:
        try:
            with transaction.atomic():
                customer = rows.insert(Customer(name=sender.name.strip()[:200]))
                identity = rows.insert(
                    Identity(
                        customer=customer,
                        kind=sender.kind,
                        address=address,
                        verified=sender.verified,
                    )
                )
        except IntegrityError:
            # Created concurrently by another receive: use theirs.
            identity = Identity.objects.select_related("customer").get(
                kind=sender.kind, address=address
            )
    customer = identity.customer
    if customer.merged_into_id is not None:
        identity.customer = customer.resolve()
    if sender.verified and not identity.verified:
        Identity.objects.filter(pk=identity.pk).update(verified=True)
        identity.verified = True
    if sender.name.strip() and not identity.customer.name:
        Customer.objects.filter(pk=identity.customer.pk).update(name=sender.name.strip()[:200])
        identity.customer.name = sender.name.strip()[:200]
    return identity


def _known_identity(kind: str, address: str) -> Identity | None:
    """The stored identity with its customer, read by two precompiled lookups (the hot
    path of every inbound message). Fields not read here load on first access."""
    found = rows.first_values(
        Identity, ("id", "customer_id", "verified"), kind=kind, address=address
    )
    if found is None:
        return None
    identity_id, customer_id, verified = found
    customer_row = rows.first_values(Customer, ("name", "merged_into_id"), id=customer_id)
    if customer_row is None:
        return None
    customer = Customer.from_db(
        "default", ["id", "name", "merged_into_id"], [customer_id, *customer_row]
    )
    identity = Identity.from_db(
        "default",
        ["id", "customer_id", "kind", "address", "verified"],
        [identity_id, customer_id, kind, address, bool(verified)],
    )
    identity.customer = customer
    return identity


def _thread(inbound: InboundMessage, identity: Identity) -> Conversation | None:
    """An existing conversation this message belongs to, or None to open a new one."""
    conversation: Conversation | None = None
    if inbound.thread_hints:
        conversation = _hinted(inbound, identity)
    if conversation is None and inbound.signed_conversation is not None:
        conversation = Conversation.objects.filter(number=inbound.signed_conversation).first()
    if conversation is None and inbound.conversation_hint is not None:
        candidate = Conversation.objects.filter(number=inbound.conversation_hint).first()
        # A reference number is only a hint from someone already in the thread:
        # a stranger who guesses one must not append to somebody else's case.
        if candidate is not None and _takes_part(candidate, identity):
            conversation = candidate
    if conversation is None:
        return None
    conversation = _follow_merges(conversation)
    if conversation.status == Status.CLOSED:
        return None  # closed is final: the customer's new message starts a new case
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def _hinted(inbound: InboundMessage, identity: Identity) -> Conversation | None:
    """The conversation the message's thread hints (Message-IDs) point at.

    Across inboxes: the answer to a web-form request goes out by email, and the
    customer's reply to it arrives in the email inbox. Because ids are unique only
    per inbox, a stranger could plant a copy of someone's Message-ID in another
    inbox; so our own ids (random, unguessable) win, then a conversation the sender
    takes part in, then one of this inbox; matches spread over several other
    conversations are ambiguous and thread nowhere.
    """
    # (conversation, direction, inbox) only: the matched messages' bodies can be large.
    matches = list(
        Message.objects.filter(external_id__in=list(inbound.thread_hints))
        .order_by("-created_at", "-id")
        .values_list("conversation_id", "direction", "inbox_id")[:20]
    )
    if not matches:
        return None
    ours = [
        conversation for conversation, direction, _ in matches if direction == Direction.OUTBOUND
    ]
    candidates = list(dict.fromkeys(conversation for conversation, _, _ in matches))
    if ours:
        chosen: int | None = ours[0]
    elif len(candidates) == 1:
        chosen = candidates[0]
    else:
        chosen = next(
            (
                c
                for c in candidates
                if _takes_part(Conversation.objects.only("id", "customer_id").get(pk=c), identity)
            ),
            next((c for c, _, inbox in matches if inbox == inbound.inbox.pk), None),
        )
    return None if chosen is None else Conversation.objects.filter(pk=chosen).first()


def _takes_part(conversation: Conversation, identity: Identity) -> bool:
    return (
        conversation.customer_id == identity.customer.pk
        or ConversationParticipant.objects.filter(
            conversation=conversation, identity=identity
        ).exists()
    )


def _follow_merges(conversation: Conversation) -> Conversation:
    seen = set()
    while conversation.merged_into_id is not None and conversation.pk not in seen:
        seen.add(conversation.pk)
        conversation = Conversation.objects.get(pk=conversation.merged_into_id)
    return conversation


def _open_conversation(inbound: InboundMessage, identity: Identity, now: datetime) -> Conversation:
    customer = identity.customer
    # Most workspaces block nobody; the lookup only runs when somebody is blocked.
    # The identity's address is already normalized: no second parse on the hot path.
    blocked = rows.any_row(BlockedSender) and BlockedSender.is_blocked(
        identity.kind, identity.address
    )
    # Written as `_touch_on_inbound` leaves it after the first message, so the
    # message does not have to update the row it just created.
    conversation = rows.insert(
        Conversation(
            number=Counter.next("conversation"),
            subject=(inbound.subject or _subject_from(inbound.text))[:255],
            status=Status.NEW,
            customer=customer,
            inbox=inbound.inbox,
            team_id=inbound.inbox.team_id,
            is_spam=blocked,
            created_at=now,
            updated_at=now,
            last_message_at=now,
            waiting_since=now,
            last_message_preview=_preview(inbound.text),
            message_count=1,
        )
    )
    record_event(
        conversation=conversation,
        type=EventType.CREATED,
        actor_type=AuthorType.CUSTOMER,
        data={"channel": inbound.inbox.kind, "inbox_id": inbound.inbox.pk, "spam": blocked},
    )
    return conversation


def _subject_from(text: str) -> str:
    first_line = next((line.strip() for line in text.splitlines() if line.strip()), "")
    return first_line[:80]


def _reopen(conversation: Conversation) -> None:
    previous = conversation.status
    conversation.status = Status.OPEN
    conversation.reopen_count += 1
    conversation.solved_at = None
    record_event(
        conversation=conversation,
        type=EventType.REOPENED,
        actor_type=AuthorType.CUSTOMER,
        data={"from": previous, "to": Status.OPEN, "reopen_count": conversation.reopen_count},
    )


def _touch_on_inbound(conversation: Conversation, message: Message, now: datetime) -> None:
    if conversation.status in (Status.PENDING, Status.ON_HOLD):
        conversation.status = Status.OPEN
    if conversation.waiting_since is None and conversation.status in UNSOLVED:
        conversation.waiting_since = now
    conversation.last_message_at = now
    conversation.updated_at = now
    conversation.last_message_preview = _preview(message.body_text)
    conversation.message_count += 1
    conversation.save(
        update_fields=[
            "status",
            "waiting_since",
            "last_message_at",
            "updated_at",
            "last_message_preview",
            "message_count",
            "reopen_count",
            "solved_at",
        ]
    )


def _preview(text: str) -> str:
    return " ".join(text.split())[:PREVIEW_LENGTH]


# Copies of every reply go to a conversation's CC participants: bounded, so the
# conversation cannot be grown into a mailing list.
MAX_PARTICIPANTS = 20


def _add_participants(
    conversation: Conversation,
    identity: Identity,
    cc: tuple[Sender, ...],
    *,
    opened: bool,
    established: bool,
) -> None:
    """Record the sender and the people they copied. A sender who is new to an
    existing conversation (it threaded by headers or a reply address) is not made a
    participant: their message is kept, but replies do not start going to them."""
    if not established:
        return
    role = (
        ParticipantRole.CUSTOMER
        if identity.customer.pk == conversation.customer_id
        else ParticipantRole.CC
    )
    wanted = [(identity, role)]
    for sender in cc:
        try:
            wanted.append((resolve_identity(sender), ParticipantRole.CC))
        except ValueError:
            continue  # an unparseable CC address is not worth losing the message over
    existing: set[int] = set()
    if not opened:  # a conversation opened by this message has nobody in it yet
        existing = set(
            ConversationParticipant.objects.filter(
                conversation=conversation, identity__in=[i for i, _ in wanted]
            ).values_list("identity_id", flat=True)
        )
    new: dict[int, tuple[Identity, ParticipantRole]] = {}
    for i, r in wanted:  # the first role wins: a sender who copies themselves stays the sender
        if i.pk not in existing:
            new.setdefault(i.pk, (i, r))
    room = MAX_PARTICIPANTS
    if not opened and len(new) > 1:
        room -= ConversationParticipant.objects.filter(conversation=conversation).count()
    for i, r in list(new.values())[: max(room, 0)]:
        rows.insert(ConversationParticipant(conversation=conversation, identity=i, role=r))


def _store_attachments(message: Message, attachments: tuple[InboundAttachment, ...]) -> None:
    for item in attachments:
        attachment = Attachment(
            message=message,
            filename=item.filename[:255] or "attachment",
            content_type=(item.content_type or "application/octet-stream")[:100],
            size=len(item.content),
            sha256=hashlib.sha256(item.content).hexdigest(),
            content_id=item.content_id[:255],
            inline=item.inline,
        )
        attachment.file.save(item.filename or "attachment", ContentFile(item.content), save=False)
        attachment.save()


def retry_quarantined(*, raw: RawInbound) -> ReceiveResult | None:
    """Run a quarantined raw input through its channel's processing again, after a fix.

    A channel whose raw input can be more than a message (an email can be a bounce
    report) processes it itself; the others are parsed and received.
    """
    adapter = raw.inbox.adapter
    process = getattr(adapter, "process", None)
    if process is not None:
        return process(raw)
    inbound = adapter.parse(raw)
    return receive(inbound, raw=raw)
