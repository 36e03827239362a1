"""What each role may do. Services call `require`; views never re-implement it."""

from heedful.accounts.models import Role, User
from heedful.core.errors import PermissionDenied

# action -> roles allowed. Actions on a conversation also need access to it
# (conversations.access), which is checked separately.
RULES: dict[str, frozenset[str]] = {
    "conversation.reply": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "conversation.note": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "conversation.assign_self": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "conversation.assign_others": frozenset({Role.ADMIN, Role.LEAD}),
    "conversation.set_status": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "conversation.set_priority": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "conversation.tag": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "conversation.merge": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "conversation.mark_spam": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "customer.merge": frozenset({Role.ADMIN, Role.LEAD}),
    "customer.edit": frozenset({Role.ADMIN, Role.LEAD, Role.AGENT}),
    "configuration.manage": frozenset({Role.ADMIN}),
}


def can(user: User | None, action: str) -> bool:
    if user is None or not user.is_authenticated or not user.is_active:
        return False
    if user.is_superuser:
        return True
    return user.role in RULES[action]


def require(user: User | None, action: str) -> None:
    if not can(user, action):
        raise PermissionDenied("Your role does not allow this.", action=action)
