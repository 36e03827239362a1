"""Fill a macro's placeholders from the conversation, its customer and the agent.

A whitelist substitution, not a template engine: macros are typed by admins
but shown to customers, so they must not be able to reach anything else.
"""

import re
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django.db.models import QuerySet

    from heedful.accounts.models import User
    from heedful.automation.models import Macro
    from heedful.conversations.models import Conversation

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_]+\.[a-z_]+)\s*\}\}")


def placeholders(*, conversation: "Conversation", agent: "User") -> dict[str, str]:
    customer = conversation.customer
    return {
        "customer.name": customer.name or "there",
        "customer.first_name": customer.first_name or "there",
        "agent.name": agent.display_name,
        "agent.first_name": agent.first_name_or_name,
        "conversation.number": str(conversation.number),
        "conversation.subject": conversation.subject,
    }


def render_macro(*, macro: "Macro", conversation: "Conversation", agent: "User") -> str:
    values = placeholders(conversation=conversation, agent=agent)
    # Unknown placeholders stay visible so the agent notices before sending.
    return _PLACEHOLDER.sub(lambda m: values.get(m.group(1), m.group(0)), macro.body)


def usable_macros(user: "User") -> "QuerySet[Macro]":
    """Active macros the agent may insert: everyone's, plus their teams' (admins: all)."""
    from django.db.models import Q

    from heedful.automation.models import Macro

    macros = Macro.objects.filter(is_active=True)
    if not getattr(user, "is_admin", False):
        macros = macros.filter(Q(team__isnull=True) | Q(team__in=user.teams.all()))
    return macros.order_by("name")
