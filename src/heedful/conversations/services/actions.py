"""What agents do to a conversation. Each service checks role and access, writes
its events in the same transaction, and rings the outbox after commit."""

import re
from collections.abc import Iterable
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.db.models import Min, Q, QuerySet
from django.utils import timezone

from heedful.accounts.models import Notification, User
from heedful.accounts.notifications import notify
from heedful.accounts.permissions import require
from heedful.conversations.access import can_see, viewers_filter
from heedful.conversations.models import (
    UNSOLVED,
    AuthorType,
    Conversation,
    ConversationParticipant,
    ConversationTag,
    DeliveryStatus,
    Direction,
    EventType,
    Message,
    ParticipantRole,
    Priority,
    Status,
    Tag,
)
from heedful.conversations.services.events import record_event
from heedful.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from heedful.core.html import sanitize_html
from heedful.customers.models import Identity
from heedful.inboxes.models import Inbox
from heedful.inboxes.registry import get_adapter

_UNSET = object()


def _check(actor: "User", action: str, conversation: Conversation) -> None:
    require(actor, action)
    if not can_see(actor, conversation):
        raise NotFound("No such conversation.")


def _locked(conversation: Conversation) -> Conversation:
    """Re-read under a row lock so concurrent services see each other's writes."""
    return Conversation.objects.select_for_update().get(pk=conversation.pk)


def reply(
    *,
    conversation: Conversation,
    author: "User",
    text: str,
    html: str = "",
    via_identity: Identity | None = None,
    is_automatic: bool = False,
) -> Message:
    """Store a public reply as pending; delivery happens after commit, under a lease."""
    _check(author, "conversation.reply", conversation)
    if not text.strip():
        raise ServiceError("A reply needs some text.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _locked(conversation)
        if conversation.status == Status.CLOSED:
            raise ServiceError("This conversation is closed; start a new one to write again.")
        recipient = via_identity or default_recipient(conversation)
        inbox = _inbox_for(conversation, recipient)
        hold = max(0, int(settings.HEEDFUL_UNDO_SECONDS))
        message = Message.objects.create(
            conversation=conversation,
            inbox=inbox,
            direction=Direction.OUTBOUND,
            author_type=AuthorType.AGENT,
            author_agent=author,
            recipient_identity=recipient,
            body_text=text,
            body_html=sanitize_html(html),
            is_automatic=is_automatic,
            delivery_status=DeliveryStatus.PENDING,
            # The undo window: neither the delivery task nor the sweep sends before it.
            send_after=now + timedelta(seconds=hold) if hold else None,
            created_at=now,
        )
        fields = ["last_message_at", "updated_at", "last_message_preview", "message_count"]
        if not is_automatic:
            if conversation.first_response_at is None:
                conversation.first_response_at = now
                fields.append("first_response_at")
            conversation.waiting_since = None
            fields.append("waiting_since")
        if conversation.status == Status.NEW:
            conversation.status = Status.OPEN
            fields.append("status")
        conversation.last_message_at = now
        conversation.updated_at = now
        conversation.last_message_preview = " ".join(text.split())[:200]
        conversation.message_count += 1
        conversation.save(update_fields=fields)
        _join(conversation, author)
        record_event(
            conversation=conversation,
            type=EventType.REPLY_SENT,
            actor=author,
            data={
                "message_id": message.pk,
                "channel": inbox.kind,
                "automatic": is_automatic,
                "recipient_identity_id": recipient.pk if recipient else None,
            },
        )
        message_id = message.pk
        transaction.on_commit(lambda: _schedule_delivery(message_id))
    return message


def _schedule_delivery(message_id: int) -> None:
    from heedful.conversations.tasks import deliver

    hold = max(0, int(settings.HEEDFUL_UNDO_SECONDS))
    if hold:
        # A second of slack: a task that wakes before send_after is skipped by claim(),
        # and the message would then wait for the sweep.
        deliver.schedule((message_id,), delay=hold + 1)
    else:
        deliver(message_id)


def undo_reply(*, message: Message, actor: "User") -> Message:
    """Take back a reply inside its undo window, before any delivery attempt.

    One conditional UPDATE (pending and still inside the window -> cancelled)
    decides: claim() moves pending -> sending the same way, so an undo and a
    delivery racing for the same message cannot both win. The withdrawn message
    stays stored (cancelled) for the audit trail; the conversation's counters are
    put back as if it had never been written.
    """
    conversation = message.conversation
    _check(actor, "conversation.reply", conversation)
    if message.is_note or message.direction != Direction.OUTBOUND:
        raise ServiceError("Only a reply can be taken back.")
    if message.author_agent_id != actor.pk:
        raise PermissionDenied("Only the agent who wrote a reply can take it back.")
    now = timezone.now()
    with transaction.atomic():
        conversation = _locked(conversation)
        taken = Message.objects.filter(
            pk=message.pk,
            conversation=conversation,
            delivery_status=DeliveryStatus.PENDING,
            delivery_attempts=0,
            send_after__gt=now,
        ).update(delivery_status=DeliveryStatus.CANCELLED, lease_until=None)
        if not taken:
            raise _too_late(message.pk)
        _restore_after_undo(conversation, message, now)
        record_event(
            conversation=conversation,
            type=EventType.REPLY_UNDONE,
            actor=actor,
            data={"message_id": message.pk},
        )
    message.refresh_from_db()
    return message


def _too_late(message_id: int) -> ServiceError:
    current = Message.objects.filter(pk=message_id).values("delivery_status").first()
    status = current["delivery_status"] if current else None
    if status == DeliveryStatus.CANCELLED:
        return Conflict("This reply was already taken back.")
    if status in (DeliveryStatus.SENDING, DeliveryStatus.SENT, DeliveryStatus.FAILED):
        return Conflict("Too late to undo: this reply is already being sent.")
    return Conflict("Too late to undo: the undo window has closed.")


def _restore_after_undo(conversation: Conversation, message: Message, now: object) -> None:
    """Recompute what reply() changed from the timeline that remains.

    Recomputed rather than restored from a snapshot: a customer message may have
    arrived during the window, and it must keep the conversation waiting.
    """
    remaining = Message.objects.filter(conversation=conversation, is_note=False).exclude(
        Q(pk=message.pk) | Q(delivery_status=DeliveryStatus.CANCELLED)
    )
    replies = remaining.filter(direction=Direction.OUTBOUND, is_automatic=False)
    fields = ["message_count", "updated_at"]
    conversation.message_count = max(0, conversation.message_count - 1)
    conversation.updated_at = now  # type: ignore[assignment]
    if not message.is_automatic:
        if conversation.first_response_at == message.created_at:
            conversation.first_response_at = replies.aggregate(at=Min("created_at"))["at"]
            fields.append("first_response_at")
        last_reply = replies.order_by("-created_at", "-id").first()
        unanswered = remaining.filter(direction=Direction.INBOUND)
        if last_reply is not None:
            # After it in timeline order: (created_at, id), as the timeline sorts.
            unanswered = unanswered.filter(
                Q(created_at__gt=last_reply.created_at)
                | Q(created_at=last_reply.created_at, pk__gt=last_reply.pk)
            )
        first_unanswered = unanswered.aggregate(at=Min("created_at"))["at"]
        if conversation.status in UNSOLVED and first_unanswered is not None:
            conversation.waiting_since = first_unanswered
            fields.append("waiting_since")
    # The acknowledgment never set the preview or the time (autoreply): nor does it now.
    latest = remaining.filter(is_automatic=False).order_by("-created_at", "-id").first()
    if latest is not None:
        conversation.last_message_at = latest.created_at
        conversation.last_message_preview = " ".join(latest.body_text.split())[:200]
        fields += ["last_message_at", "last_message_preview"]
    if conversation.status == Status.OPEN and _opened_only_by_replies(conversation, remaining):
        conversation.status = Status.NEW
        fields.append("status")
    conversation.save(update_fields=fields)


def _opened_only_by_replies(conversation: Conversation, remaining: "QuerySet[Message]") -> bool:
    """Whether the withdrawn reply is what moved the conversation from new to open.

    Inbound messages leave a new conversation new; only a reply, a status change
    or a reopen makes it open, and the last two leave events. The inbox's automatic
    acknowledgment answers nobody and leaves it new too.
    """
    if remaining.filter(direction=Direction.OUTBOUND, is_automatic=False).exists():
        return False
    changed = (EventType.STATUS_CHANGED, EventType.REOPENED, EventType.MERGED_FROM)
    return not conversation.events.filter(type__in=changed).exists()


def default_recipient(conversation: Conversation) -> Identity | None:
    """Answer where the customer last wrote from, else any identity the channel can reach.

    Only the conversation's own customer: a CC'd or other participant is never
    the default recipient of a reply.
    """
    last_inbound = (
        conversation.messages.filter(
            direction=Direction.INBOUND, sender_identity__customer=conversation.customer_id
        )
        .order_by("-created_at", "-id")
        .select_related("sender_identity")
        .first()
    )
    if last_inbound is not None:
        return last_inbound.sender_identity
    kind = get_adapter(conversation.inbox.kind).identity_kind
    return conversation.customer.identities.filter(kind=kind).first()


_default_recipient = default_recipient


def _inbox_for(conversation: Conversation, recipient: Identity | None) -> Inbox:
    """The conversation's inbox if it reaches the recipient, else an inbox that does."""
    if recipient is None:
        raise ServiceError("This customer has no address we can answer on.")
    if (
        recipient.customer_id != conversation.customer_id
        and not ConversationParticipant.objects.filter(
            conversation=conversation, identity=recipient
        ).exists()
    ):
        raise ServiceError("That address does not take part in this conversation.")
    if get_adapter(conversation.inbox.kind).identity_kind == recipient.kind:
        return conversation.inbox
    for inbox in Inbox.objects.filter(is_active=True).order_by("pk"):
        try:
            if get_adapter(inbox.kind).identity_kind == recipient.kind:
                return inbox
        except LookupError:
            continue
    raise ServiceError(f"No active inbox can send to a {recipient.get_kind_display()} address.")


def _join(conversation: Conversation, agent: "User") -> None:
    ConversationParticipant.objects.get_or_create(
        conversation=conversation, agent=agent, defaults={"role": ParticipantRole.AGENT}
    )


def note(*, conversation: Conversation, author: "User", text: str) -> Message:
    """An internal note: never delivered, never counted as a response.

    `@mentions` (see `mentioned_users`) are kept in the event and notify the
    mentioned agents who may see the conversation; the others learn nothing.
    """
    _check(author, "conversation.note", conversation)
    if not text.strip():
        raise ServiceError("A note needs some text.")
    # Resolved among those who may see it, as the picker offers them: a local part
    # shared with an agent of another team still names the one who can read it.
    mentioned = mentioned_users(text, among=viewers_filter(conversation))
    with transaction.atomic():
        conversation = _locked(conversation)
        message = Message.objects.create(
            conversation=conversation,
            inbox=conversation.inbox,
            direction=Direction.OUTBOUND,
            is_note=True,
            author_type=AuthorType.AGENT,
            author_agent=author,
            body_text=text,
            created_at=timezone.now(),
        )
        record_event(
            conversation=conversation,
            type=EventType.NOTE_ADDED,
            actor=author,
            # "mentions" only when there are some: notes written elsewhere (the demo)
            # carry just the message id, and consumers read data.get("mentions", []).
            data={"message_id": message.pk}
            | ({"mentions": [u.pk for u in mentioned]} if mentioned else {}),
        )
        readers = [u for u in mentioned if can_see(u, conversation)]
        if readers:
            snippet = " ".join(text.split())[:120]
            notify(
                users=readers,
                kind=Notification.Kind.MENTION,
                text=f"{author.display_name} mentioned you on #{conversation.number}: {snippet}",
                conversation=conversation,
                actor=author,
            )
    return message


# `@ana.silva` (an email's local part) or `@ana.silva@example.com` (the whole address).
# Not after a word character, so "mail me at ana@example.com" mentions nobody.
MENTION_RE = re.compile(r"(?<![\w@.+-])@([A-Za-z0-9._%+-]+(?:@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)+)?)")


def mentioned_users(text: str, *, among: Q | None = None) -> list[User]:
    """Active agents (within `among`) named by `@local-part` or `@full-address` in
    `text`, in text order.

    A local part shared by several of them (ana@a.test, ana@b.test) mentions
    nobody: the picker then inserts the full address, which is unambiguous.
    """
    tokens: list[str] = []
    for match in MENTION_RE.finditer(text):
        token = match.group(1).rstrip(".").lower()
        if token and token not in tokens:
            tokens.append(token)
    if not tokens:
        return []
    emails = [t for t in tokens if "@" in t]
    locals_ = [t for t in tokens if "@" not in t]
    query = Q(email__in=emails)
    for local in locals_[:20]:
        query |= Q(email__istartswith=f"{local}@")
    candidates = list(User.objects.filter(query, among or Q(), is_active=True).distinct()[:200])
    by_email = {u.email.lower(): u for u in candidates}
    by_local: dict[str, list[User]] = {}
    for candidate in candidates:
        by_local.setdefault(candidate.email.lower().split("@")[0], []).append(candidate)
    found: list[User] = []
    for token in tokens:
        user: User | None
        if "@" in token:
            user = by_email.get(token)
        else:
            same = by_local.get(token, [])
            user = same[0] if len(same) == 1 else None
        if user is not None and user not in found:
            found.append(user)
    return found


def assign(
    *,
    conversation: Conversation,
    agent: "User | None",
    actor: "User",
    expected_assignee_id: object = _UNSET,
) -> Conversation:
    """Give the conversation to `agent` (None: unassign).

    Safe under races: the change only applies if the assignee is still the one
    the actor saw (by default, the one on the instance passed in). When two
    agents take the same conversation at once, exactly one wins; the other gets
    a Conflict naming who has it.
    """
    expected: int | None = (
        conversation.assignee_id if expected_assignee_id is _UNSET else expected_assignee_id  # type: ignore[assignment]
    )
    # Taking an unassigned conversation, or letting go of one's own, is self-service;
    # taking one from a colleague or handing one out is a lead's call.
    taking_free = agent is not None and agent.pk == actor.pk and expected in (None, actor.pk)
    releasing_own = agent is None and expected == actor.pk
    require(
        actor,
        "conversation.assign_self"
        if taking_free or releasing_own
        else "conversation.assign_others",
    )
    if not can_see(actor, conversation):
        raise NotFound("No such conversation.")
    if agent is not None and (not agent.is_active or not can_see(agent, conversation)):
        raise ServiceError(f"{agent} cannot work on this conversation.")
    now = timezone.now()
    with transaction.atomic():
        updated = Conversation.objects.filter(pk=conversation.pk, assignee_id=expected).update(
            assignee=agent, updated_at=now
        )
        current = Conversation.objects.select_related("assignee").get(pk=conversation.pk)
        if not updated:
            holder = current.assignee
            who = holder.display_name if holder else "nobody"
            raise Conflict(f"{who} has this conversation now.", assignee_id=current.assignee_id)
        if agent is not None:
            _join(current, agent)
        record_event(
            conversation=current,
            type=EventType.ASSIGNED,
            actor=actor,
            data={"from": expected, "to": agent.pk if agent else None},
        )
        if agent is not None and agent.pk != actor.pk:
            notify(
                users=[agent],
                kind=Notification.Kind.ASSIGNED,
                text=f"{actor.display_name} assigned #{current.number} to you: {current.subject}",
                conversation=current,
                actor=actor,
            )
    return current


# Allowed status changes. Closed is final: a new message starts a new conversation.
_TRANSITIONS: dict[str, set[str]] = {
    Status.NEW: {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.OPEN: {Status.PENDING, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.PENDING: {Status.OPEN, Status.ON_HOLD, Status.SOLVED, Status.CLOSED},
    Status.ON_HOLD: {Status.OPEN, Status.PENDING, Status.SOLVED, Status.CLOSED},
    Status.SOLVED: {Status.OPEN, Status.PENDING, Status.ON_HOLD, Status.CLOSED},
    Status.CLOSED: set(),
}


def set_status(*, conversation: Conversation, status: str, actor: "User") -> Conversation:
    _check(actor, "conversation.set_status", conversation)
    if status not in Status.values:
        raise ServiceError(f"Unknown status {status!r}.")
    with transaction.atomic():
        conversation = _locked(conversation)
        previous = conversation.status
        if status == previous:
            return conversation
        if status not in _TRANSITIONS[previous]:
            raise ServiceError(f"A {previous} conversation cannot become {status}.")
        now = timezone.now()
        conversation.status = status
        conversation.updated_at = now
        if status in (Status.SOLVED, Status.CLOSED):
            conversation.solved_at = conversation.solved_at or now
            conversation.waiting_since = None
        if previous == Status.SOLVED and status != Status.CLOSED:
            conversation.solved_at = None
            conversation.reopen_count += 1
        conversation.save(
            update_fields=["status", "updated_at", "solved_at", "waiting_since", "reopen_count"]
        )
        record_event(
            conversation=conversation,
            type=EventType.STATUS_CHANGED,
            actor=actor,
            data={"from": previous, "to": status, "assignee_id": conversation.assignee_id},
        )
        if previous == Status.SOLVED and status != Status.CLOSED:
            record_event(
                conversation=conversation,
                type=EventType.REOPENED,
                actor=actor,
                data={"from": previous, "to": status, "reopen_count": conversation.reopen_count},
            )
    return conversation


def set_priority(*, conversation: Conversation, priority: int, actor: "User") -> Conversation:
    _check(actor, "conversation.set_priority", conversation)
    if priority not in Priority.values:
        raise ServiceError(f"Unknown priority {priority!r}.")
    with transaction.atomic():
        conversation = _locked(conversation)
        previous = conversation.priority
        if previous == priority:
            return conversation
        conversation.priority = priority
        conversation.updated_at = timezone.now()
        conversation.save(update_fields=["priority", "updated_at"])
        record_event(
            conversation=conversation,
            type=EventType.PRIORITY_CHANGED,
            actor=actor,
            data={"from": previous, "to": priority},
        )
    return conversation


def tag(
    *,
    conversation: Conversation,
    actor: "User",
    add: Iterable[str] = (),
    remove: Iterable[str] = (),
) -> list[str]:
    """Add and remove tags by name (new names create tags). Returns the tags now on it."""
    _check(actor, "conversation.tag", conversation)
    to_add = {n.strip().lower() for n in add if n.strip()}
    to_remove = {n.strip().lower() for n in remove if n.strip()} - to_add
    if any(len(n) > 50 for n in to_add):
        raise ServiceError("Tags are at most 50 characters.")
    with transaction.atomic():
        conversation = _locked(conversation)
        before = set(conversation.tags.values_list("name", flat=True))
        for name in sorted(to_add - before):
            tag_obj, _ = Tag.objects.get_or_create(name=name)
            ConversationTag.objects.get_or_create(conversation=conversation, tag=tag_obj)
        ConversationTag.objects.filter(conversation=conversation, tag__name__in=to_remove).delete()
        after = set(conversation.tags.values_list("name", flat=True))
        if after != before:
            record_event(
                conversation=conversation,
                type=EventType.TAGS_CHANGED,
                actor=actor,
                data={"added": sorted(after - before), "removed": sorted(before - after)},
            )
    return sorted(after)


def mark_spam(*, conversation: Conversation, actor: "User", spam: bool = True) -> Conversation:
    _check(actor, "conversation.mark_spam", conversation)
    with transaction.atomic():
        conversation = _locked(conversation)
        if conversation.is_spam == spam:
            return conversation
        conversation.is_spam = spam
        conversation.save(update_fields=["is_spam"])
        record_event(
            conversation=conversation, type=EventType.SPAM_MARKED, actor=actor, data={"spam": spam}
        )
    return conversation
