"""A customer's history across every channel, as the viewing agent may see it.

Conversations are filtered by the one access rule, so the customer panel and
profile never reveal a conversation its list would hide.
"""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.db.models import Max
from django.utils import timezone

from heedful.conversations.models import Conversation, Direction, Message
from heedful.customers.models import Customer

if TYPE_CHECKING:
    from heedful.accounts.models import User

RECENT_DAYS = 7
MAX_SHOWN = 10


def conversations_of(
    customer: Customer,
    user: "User | Any",
    *,
    limit: int | None = None,
    exclude: Conversation | None = None,
) -> list[Conversation]:
    """Every conversation of the customer the user may see, newest first."""
    qs = (
        Conversation.objects.visible_to(user)
        .filter(customer=customer, merged_into__isnull=True)
        .select_related("inbox", "assignee")
        .order_by("-last_message_at", "-id")
    )
    if exclude is not None:
        qs = qs.exclude(pk=exclude.pk)
    return list(qs[:limit] if limit else qs)


def recent_elsewhere(
    conversation: Conversation, user: "User | Any", *, now: datetime | None = None
) -> list[Message]:
    """What the customer wrote on other channels in the last 7 days, newest first.

    One message per other conversation: the latest inbound one, so the agent
    sees "wrote on chat 2 hours ago: ..." before answering here.
    """
    since = (now or timezone.now()) - timedelta(days=RECENT_DAYS)
    theirs = (
        Message.objects.filter(
            direction=Direction.INBOUND,
            sender_identity__customer_id=conversation.customer_id,
            created_at__gte=since,
            conversation__in=Conversation.objects.visible_to(user).values("pk"),
        )
        .exclude(inbox__kind=conversation.inbox.kind)
        .exclude(conversation_id=conversation.pk)
    )
    # The latest message of each other conversation first, then the newest of those:
    # a busy chat must not push a quieter SMS or email thread out of the box.
    latest = (
        theirs.order_by()
        .values("conversation_id")
        .annotate(last=Max("id"))
        .order_by("-last")
        .values_list("last", flat=True)[:MAX_SHOWN]
    )
    return list(
        Message.objects.filter(pk__in=list(latest))
        .select_related("inbox", "conversation")
        .order_by("-created_at", "-id")
    )
