import logging
from typing import TYPE_CHECKING, Any

from django.db import connection, transaction
from django.utils import timezone

from heedful.conversations.models import AuthorType, ConversationEvent, EventType
from heedful.core import doorbell, live, rows

if TYPE_CHECKING:
    from heedful.accounts.models import User
    from heedful.conversations.models import Conversation

log = logging.getLogger(__name__)


def record_event(
    *,
    conversation: "Conversation",
    type: str,
    actor: "User | None" = None,
    actor_type: str | None = None,
    data: dict[str, Any] | None = None,
) -> ConversationEvent:
    """Write one event in the caller's transaction and ring the consumers after commit.

    Always stamped now: outbox consumers read behind a lag window on that time.
    Written with a precompiled INSERT (core.rows): every inbound message writes
    one or two events, and the ORM's compiling was most of their cost.

    `conversation` must carry its team and assignee as they are after the change:
    the live push to agents' screens is addressed by them.
    """
    event = rows.insert(
        ConversationEvent(
            conversation=conversation,
            type=type,
            actor=actor,
            actor_type=actor_type or (AuthorType.AGENT if actor else AuthorType.SYSTEM),
            data=data or {},
            created_at=timezone.now(),
        )
    )
    # The push first: after commit it marks its events as pushed before the
    # doorbell's outbox run could look at them (core.live.catch_up).
    _push_after_commit(conversation, event)
    doorbell.ring()
    return event


class _Pushes:
    """The live pushes one transaction owes: one per conversation, sent after commit.

    Pushes go out directly, not through the outbox: they must reach screens within
    a second, and one lost is harmless (the page shows the truth when reloaded).
    """

    def __init__(self) -> None:
        self.__qualname__ = "record_event.push"  # on_commit logs callbacks by this name
        self.by_conversation: dict[int, dict[str, Any]] = {}
        self.event_ids: list[int] = []

    def add(self, conversation: "Conversation", event: ConversationEvent) -> None:
        self.event_ids.append(event.pk)
        push = self.by_conversation.get(conversation.pk)
        if push is None:
            # The first event names the change ("created" rather than "message_received").
            push = self.by_conversation[conversation.pk] = {
                "conversation_id": conversation.pk,
                "event_type": event.type,
                "previous_assignee_id": None,
            }
        push["team_id"] = conversation.team_id
        push["assignee_id"] = conversation.assignee_id
        push["actor_id"] = event.actor_id
        push["event_id"] = event.pk
        if event.type == EventType.ASSIGNED:
            previous = (event.data or {}).get("from")
            if isinstance(previous, int) and previous != conversation.assignee_id:
                push["previous_assignee_id"] = previous

    def __call__(self) -> None:
        try:
            live.pushed_here(self.event_ids)
        except Exception:
            log.warning("could not note pushed events", exc_info=True)
        for push in self.by_conversation.values():
            try:
                live.publish_conversation_event(**push)
            except Exception:  # it never should; the commit is done, so never raise here
                log.warning("live push for %s failed", push["conversation_id"], exc_info=True)


def _push_after_commit(conversation: "Conversation", event: ConversationEvent) -> None:
    try:
        for entry in connection.run_on_commit:
            if isinstance(entry[1], _Pushes):
                entry[1].add(conversation, event)
                return
        pushes = _Pushes()
        pushes.add(conversation, event)
        transaction.on_commit(pushes)
    except Exception:
        log.warning("could not schedule a live push for %s", conversation.pk, exc_info=True)
