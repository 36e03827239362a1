"""The one access rule: which conversations (and so messages, attachments) a user may see.

Lists filter with `visible_filter`; detail pages and downloads load through
`get_conversation_for`, so what a list hides a URL cannot reveal.
"""

from collections.abc import Collection
from typing import TYPE_CHECKING, Any

from django.db.models import Q
from django.http import Http404

if TYPE_CHECKING:
    from heedful.accounts.models import User
    from heedful.conversations.models import Attachment, Conversation

_NOTHING = Q(pk__in=[])


def visible_filter(user: "User | Any", *, team_ids: list[int] | None = None) -> Q:
    """`team_ids`: the user's teams when the caller has read them already."""
    if user is None or not user.is_authenticated or not user.is_active:
        return _NOTHING
    if user.is_admin:
        return Q()
    if team_ids is None:
        team_ids = list(user.teams.values_list("id", flat=True))
    # Unrouted conversations (no team) are a shared queue every agent sees.
    return Q(team__isnull=True) | Q(team_id__in=team_ids) | Q(assignee=user)


def sees(
    *,
    is_admin: bool,
    team_ids: Collection[int],
    user_id: int,
    team_id: int | None,
    assignee_id: int | None,
) -> bool:
    """`visible_filter` decided in memory for one conversation, for callers that hold
    the agent's teams and the conversation's team and assignee (live pushes)."""
    return is_admin or team_id is None or team_id in team_ids or assignee_id == user_id


def viewers_filter(conversation: "Conversation") -> Q:
    """The same rule read the other way: a filter on User for who may see `conversation`.

    Pickers (assign, @mention) offer only these; services still check `can_see`.
    """
    from heedful.accounts.models import Role

    active = Q(is_active=True)
    if conversation.team_id is None:
        return active
    return active & (
        Q(role=Role.ADMIN)
        | Q(is_superuser=True)
        | Q(teams=conversation.team_id)
        | Q(pk=conversation.assignee_id or 0)
    )


def can_see(user: "User | Any", conversation: "Conversation") -> bool:
    from heedful.conversations.models import Conversation

    return Conversation.objects.filter(visible_filter(user), pk=conversation.pk).exists()


def get_conversation_for(
    user: "User | Any", pk: int, *, related: tuple[str, ...] = ("customer", "inbox")
) -> "Conversation":
    """The conversation if `user` may see it, else 404; `related` is select_related."""
    from heedful.conversations.models import Conversation

    try:
        return Conversation.objects.visible_to(user).select_related(*related).get(pk=pk)
    except (Conversation.DoesNotExist, ValueError, TypeError):
        raise Http404("No such conversation") from None


def get_attachment_for(user: "User | Any", pk: int) -> "Attachment":
    from heedful.conversations.models import Attachment

    try:
        return Attachment.objects.select_related("message").get(
            pk=pk, message__conversation__in=_visible_ids(user)
        )
    except (Attachment.DoesNotExist, ValueError, TypeError):
        raise Http404("No such attachment") from None


def _visible_ids(user: "User | Any") -> Any:
    from heedful.conversations.models import Conversation

    return Conversation.objects.filter(visible_filter(user)).values("pk")
