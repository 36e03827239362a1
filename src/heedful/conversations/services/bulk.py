"""One action applied to many conversations (the lists' bulk bar; later the API).

Each conversation goes through the same service as a single change would, in its
own transaction, so one refusal (no access, a Conflict, a closed conversation)
fails that row only and the others still apply.
"""

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from heedful.conversations.models import Conversation, Status
from heedful.conversations.services.actions import assign, set_status, tag
from heedful.core.errors import ServiceError

if TYPE_CHECKING:
    from heedful.accounts.models import User

LIMIT = 200
ACTIONS = ("assign", "set_status", "tag")
UNKNOWN = object()  # the agent did not say which assignee they saw


@dataclass(frozen=True)
class Target:
    conversation_id: int
    # The assignee the agent saw on the row (UNKNOWN: don't guard). Taking a
    # conversation only succeeds if nobody took it since; else a Conflict names them.
    seen_assignee: object = UNKNOWN


@dataclass
class BulkResult:
    updated: int = 0
    failed: list[str] = field(default_factory=list)

    @property
    def summary(self) -> str:
        text = f"{self.updated} updated"
        if self.failed:
            text += f", {len(self.failed)} failed: " + "; ".join(self.failed)
        return text


def bulk_apply(
    *,
    actor: "User",
    targets: Iterable[Target],
    action: str,
    agent: "User | None" = None,
    status: str = "",
    tag_name: str = "",
) -> BulkResult:
    """Apply `action` ("assign" to `agent`, "set_status" to `status`, "tag" with
    `tag_name`) to each target the actor may see. The action's arguments are
    checked before any conversation is touched (ServiceError)."""
    apply = _action(action, actor=actor, agent=agent, status=status, tag_name=tag_name)
    unique: dict[int, Target] = {}
    for target in targets:
        unique.setdefault(target.conversation_id, target)
    if not unique:
        raise ServiceError("Select at least one conversation.")
    if len(unique) > LIMIT:
        raise ServiceError(f"Select at most {LIMIT} conversations at once.")
    visible = {c.pk: c for c in Conversation.objects.visible_to(actor).filter(pk__in=list(unique))}
    result = BulkResult()
    for pk, target in unique.items():
        conversation = visible.get(pk)
        if conversation is None:
            result.failed.append(f"conversation {pk}: not found")
            continue
        try:
            apply(conversation, target)
        except ServiceError as exc:
            result.failed.append(f"#{conversation.number}: {exc.message}")
        else:
            result.updated += 1
    return result


def _action(
    action: str, *, actor: "User", agent: "User | None", status: str, tag_name: str
) -> Callable[[Conversation, Target], object]:
    if action == "assign":
        if agent is not None and not agent.is_active:
            raise ServiceError("Choose an active agent to assign to.")

        def do_assign(conversation: Conversation, target: Target) -> object:
            guard = (
                {}
                if target.seen_assignee is UNKNOWN
                else {"expected_assignee_id": target.seen_assignee}
            )
            return assign(conversation=conversation, agent=agent, actor=actor, **guard)

        return do_assign
    if action == "set_status":
        if status not in Status.values:
            raise ServiceError("Choose a status.")
        return lambda conversation, target: set_status(
            conversation=conversation, status=status, actor=actor
        )
    if action == "tag":
        name = tag_name.strip()
        if not name:
            raise ServiceError("Type a tag to add.")
        return lambda conversation, target: tag(conversation=conversation, actor=actor, add=[name])
    raise ServiceError("Unknown bulk action.")
