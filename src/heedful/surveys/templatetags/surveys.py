"""Survey answers beside a conversation and a customer in the workspace.

The conversation page is already behind the access rule; the customer panel
lists only answers about conversations the viewer may see (and relationship
surveys, which are about no conversation).
"""

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django import template

from heedful.conversations.models import Conversation
from heedful.customers.models import Customer
from heedful.insights.metrics import is_low
from heedful.surveys.defaults import scale
from heedful.surveys.models import (
    InvitationStatus,
    SurveyInvitation,
    SurveyOptOut,
    SurveyResponse,
)

register = template.Library()

PANEL_LIMIT = 5


@dataclass(frozen=True)
class Answer:
    kind: str
    score: int
    top: int
    low: bool
    comment: str
    completed: bool
    at: datetime
    agent: str
    conversation_id: int | None
    number: int | None


def _answers(responses: Any) -> list[Answer]:
    return [
        Answer(
            kind=r.get_kind_display(),
            score=r.score,
            top=scale(r.kind)[-1],
            low=is_low(r.kind, r.score),
            comment=r.comment,
            completed=r.completed,
            at=r.responded_at,
            agent=r.agent.display_name if r.agent else "",
            conversation_id=r.conversation_id,
            number=r.conversation.number if r.conversation else None,
        )
        for r in responses
    ]


@register.inclusion_tag("surveys/_conversation_surveys.html")
def conversation_surveys(conversation: Conversation) -> dict[str, Any]:
    responses = (
        SurveyResponse.objects.filter(conversation=conversation)
        .select_related("agent", "conversation")
        .order_by("-responded_at", "-pk")
    )
    waiting = SurveyInvitation.objects.filter(
        conversation=conversation,
        status__in=[InvitationStatus.SCHEDULED, InvitationStatus.SENT],
    ).order_by("due_at", "pk")
    return {"answers": _answers(responses), "waiting": list(waiting)}


@register.inclusion_tag("surveys/_customer_surveys.html", takes_context=True)
def customer_surveys(context: template.Context, customer: Customer) -> dict[str, Any]:
    responses = (
        SurveyResponse.objects.visible_to(context["request"].user)
        .filter(customer=customer)
        .select_related("agent", "conversation")
        .order_by("-responded_at", "-pk")[:PANEL_LIMIT]
    )
    opted_out = SurveyOptOut.objects.filter(customer=customer).first()
    return {"answers": _answers(responses), "opted_out": opted_out}
