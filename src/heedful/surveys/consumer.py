"""The outbox consumer that turns solves into survey timers and reopens into cancellations.

It reads ConversationEvent with a cursor of its own (core.outbox), so it is
incremental and survives restarts: each event is handled once, in order.
"""

from heedful.conversations.models import ConversationEvent, EventType
from heedful.core.outbox import consumer
from heedful.surveys.services import SOLVED_STATES, cancel_scheduled, schedule_after_solve

TYPES = [EventType.STATUS_CHANGED, EventType.REOPENED, EventType.MERGED_INTO]


@consumer("surveys.schedule", types=TYPES)
def handle_events(events: list[ConversationEvent]) -> None:
    for event in events:
        if event.type == EventType.STATUS_CHANGED and _is_solve(event.data):
            schedule_after_solve(
                conversation_id=event.conversation_id,
                solved_at=event.created_at,
                agent_id=event.data.get("assignee_id"),
            )
        elif event.type == EventType.REOPENED:
            cancel_scheduled(
                conversation_id=event.conversation_id, reason="the conversation was reopened"
            )
        elif event.type == EventType.MERGED_INTO:
            cancel_scheduled(
                conversation_id=event.conversation_id,
                reason="the conversation was merged into another",
            )


def _is_solve(data: dict[str, object]) -> bool:
    # Solved then closed is one resolution: the survey was decided at the solve.
    return data.get("to") in SOLVED_STATES and data.get("from") not in SOLVED_STATES
