"""Merging conversations and customers: everything moves, nothing is lost."""

from typing import TYPE_CHECKING

from django.db import transaction
from django.db.models import Max, Min
from django.utils import timezone

from heedful.accounts.permissions import require
from heedful.conversations.access import can_see
from heedful.conversations.models import (
    UNSOLVED,
    Conversation,
    ConversationParticipant,
    ConversationTag,
    DeliveryStatus,
    Direction,
    EventType,
    Message,
    Status,
)
from heedful.conversations.services.events import record_event
from heedful.core.errors import NotFound, ServiceError
from heedful.customers.models import Customer, Identity

if TYPE_CHECKING:
    from heedful.accounts.models import User


def merge_conversations(
    *, source: Conversation, target: Conversation, actor: "User"
) -> Conversation:
    """Move every message of `source` into `target`; `source` closes and points at `target`."""
    require(actor, "conversation.merge")
    if not (can_see(actor, source) and can_see(actor, target)):
        raise NotFound("No such conversation.")
    if source.pk == target.pk:
        raise ServiceError("A conversation cannot be merged into itself.")
    if source.customer_id != target.customer_id:
        # Merging across customers exposes one customer's thread to another: a lead's call.
        require(actor, "customer.merge")
    with transaction.atomic():
        # Lock in a fixed order (ORDER BY pk ... FOR UPDATE): opposite merges queue, never deadlock.
        both = Conversation.objects.select_for_update().filter(pk__in=[source.pk, target.pk])
        locked = {c.pk: c for c in both.order_by("pk")}
        source, target = locked[source.pk], locked[target.pk]
        if source.merged_into_id is not None or target.merged_into_id is not None:
            raise ServiceError("One of these conversations was already merged.")
        if target.status == Status.CLOSED:
            raise ServiceError("A closed conversation cannot take in another one.")
        moved = Message.objects.filter(conversation=source).update(conversation=target)
        _move_participants(source, target)
        for tag_id in ConversationTag.objects.filter(conversation=source).values_list(
            "tag_id", flat=True
        ):
            ConversationTag.objects.get_or_create(conversation=target, tag_id=tag_id)
        _refresh_counters(target, extra_reopens=source.reopen_count)
        now = timezone.now()
        source.merged_into = target
        source.status = Status.CLOSED
        source.solved_at = source.solved_at or now
        source.waiting_since = None
        source.message_count = 0
        source.updated_at = now
        source.save(
            update_fields=[
                "merged_into",
                "status",
                "solved_at",
                "waiting_since",
                "message_count",
                "updated_at",
            ]
        )
        record_event(
            conversation=source,
            type=EventType.MERGED_INTO,
            actor=actor,
            data={"target_id": target.pk, "target_number": target.number, "messages": moved},
        )
        record_event(
            conversation=target,
            type=EventType.MERGED_FROM,
            actor=actor,
            data={"source_id": source.pk, "source_number": source.number, "messages": moved},
        )
    return target


def _move_participants(source: Conversation, target: Conversation) -> None:
    have_identities = set(
        target.participants.exclude(identity=None).values_list("identity_id", flat=True)
    )
    have_agents = set(target.participants.exclude(agent=None).values_list("agent_id", flat=True))
    for p in source.participants.all():
        if (p.identity_id and p.identity_id in have_identities) or (
            p.agent_id and p.agent_id in have_agents
        ):
            continue
        ConversationParticipant.objects.create(
            conversation=target, identity_id=p.identity_id, agent_id=p.agent_id, role=p.role
        )


def _refresh_counters(conversation: Conversation, extra_reopens: int = 0) -> None:
    """Recompute what the timeline determines after messages moved in."""
    # Notes are internal: as in reply() and receive(), the counters see only what
    # the customer and the team said to each other.
    messages = Message.objects.filter(conversation=conversation, is_note=False).exclude(
        delivery_status=DeliveryStatus.CANCELLED  # withdrawn replies were never sent
    )
    stats = messages.aggregate(first=Min("created_at"), last=Max("created_at"))
    first_reply = messages.filter(direction=Direction.OUTBOUND, is_automatic=False).aggregate(
        at=Min("created_at")
    )["at"]
    last = messages.order_by("-created_at", "-id").first()
    conversation.message_count = messages.count()
    conversation.first_response_at = first_reply
    conversation.last_message_at = stats["last"] or conversation.last_message_at
    conversation.created_at = min(filter(None, [conversation.created_at, stats["first"]]))
    conversation.reopen_count += extra_reopens
    if last is not None:
        conversation.last_message_preview = " ".join(last.body_text.split())[:200]
        if last.direction == Direction.INBOUND and conversation.status in UNSOLVED:
            conversation.waiting_since = conversation.waiting_since or last.created_at
    conversation.updated_at = timezone.now()
    conversation.save()


def merge_customers(*, source: Customer, target: Customer, actor: "User") -> Customer:
    """Identities and conversations of `source` move to `target`; `source` points at it."""
    require(actor, "customer.merge")
    if source.pk == target.pk:
        raise ServiceError("A customer cannot be merged into themselves.")
    with transaction.atomic():
        # Lock both rows in one fixed order: two opposite merges at once must queue,
        # not deadlock; the second then sees the first and is refused.
        locked = Customer.objects.select_for_update().filter(pk__in=[source.pk, target.pk])
        rows = {c.pk: c for c in locked.order_by("pk")}
        source, target = rows[source.pk], rows[target.pk]
        if source.merged_into_id is not None or target.merged_into_id is not None:
            raise ServiceError("One of these customers was already merged.")
        identity_ids = list(Identity.objects.filter(customer=source).values_list("pk", flat=True))
        Identity.objects.filter(pk__in=identity_ids).update(customer=target)
        conversations = list(Conversation.objects.filter(customer=source))
        Conversation.objects.filter(customer=source).update(customer=target)
        for field in ("name", "preferred_channel", "language", "time_zone"):
            if not getattr(target, field) and getattr(source, field):
                setattr(target, field, getattr(source, field))
        if source.organization_id and not target.organization_id:
            target.organization_id = source.organization_id
        if source.notes:
            target.notes = "\n\n".join(filter(None, [target.notes, source.notes]))
        target.save()
        source.merged_into = target
        source.save(update_fields=["merged_into", "updated_at"])
        for conversation in conversations:
            record_event(
                conversation=conversation,
                type=EventType.CUSTOMER_MERGED,
                actor=actor,
                data={
                    "from_customer_id": source.pk,
                    "to_customer_id": target.pk,
                    "identities": identity_ids,
                },
            )
    return target
