"""What a signed-in customer may see and do in the portal: the one access rule.

`portal_conversations(customer)` is every conversation the portal may show this
customer; `get_request_for` and `get_attachment_for` load through it and raise 404
(never 403: a number that is not yours looks like a number that does not exist).
The list, the thread, replies and downloads all go through these functions.
"""

import dataclasses
from dataclasses import dataclass
from typing import Any

from django.conf import settings
from django.db.models import Q, QuerySet
from django.http import Http404
from django.utils import timezone

from heedful.conversations.inbound import InboundAttachment
from heedful.conversations.models import (
    Attachment,
    AuthorType,
    Conversation,
    DeliveryStatus,
    Direction,
    Message,
    Status,
)
from heedful.conversations.services import ReceiveResult, receive
from heedful.customers.models import Customer, Identity
from heedful.inboxes.models import Inbox
from heedful.inboxes.webform.intake import active_inbox, from_raw, to_raw

# Internal statuses in the customer's words.
FRIENDLY_STATUS = {
    Status.NEW: "Open",
    Status.OPEN: "Open",
    Status.ON_HOLD: "Open",
    Status.PENDING: "Awaiting your reply",
    Status.SOLVED: "Solved",
    Status.CLOSED: "Closed",
}


def friendly_status(status: str) -> str:
    return FRIENDLY_STATUS.get(status, "Open")  # type: ignore[call-overload]


def shares_with_organization(customer: Customer) -> bool:
    org = customer.organization
    return bool(org is not None and org.share_requests)


def portal_conversations(
    customer: Customer, *, organization: bool = True
) -> QuerySet[Conversation]:
    """The conversations the portal shows `customer` (the surviving record after merges):
    their own on every channel, and with `organization` the other members' too when
    the organization shares requests. Never spam, never one merged into another."""
    who = Q(customer_id=customer.pk)
    if organization and shares_with_organization(customer):
        who |= Q(customer__organization_id=customer.organization_id)
    return Conversation.objects.filter(who, is_spam=False, merged_into__isnull=True)


def get_request_for(customer: Customer, number: Any) -> Conversation:
    """The conversation with this number if the customer may see it, else 404. A number
    that was merged into another of theirs answers with the surviving conversation."""
    try:
        wanted = int(number)
    except (TypeError, ValueError, OverflowError):
        raise Http404("No such request") from None
    if not 0 < wanted < 2**63:  # a bigger number would overflow the database's integer
        raise Http404("No such request")
    visible = portal_conversations(customer).select_related("inbox", "customer")
    found = visible.filter(number=wanted).first()
    if found is not None:
        return found
    # Merged away: follow to the survivor, but only from a conversation that was theirs.
    merged = Conversation.objects.filter(
        number=wanted, merged_into__isnull=False, customer_id=customer.pk, is_spam=False
    ).first()
    seen: set[int] = set()
    while merged is not None and merged.merged_into_id is not None and merged.pk not in seen:
        seen.add(merged.pk)
        merged = Conversation.objects.filter(pk=merged.merged_into_id).first()
    if merged is not None:
        survivor = visible.filter(pk=merged.pk).first()
        if survivor is not None:
            return survivor
    raise Http404("No such request")


def public_messages(conversation: Conversation) -> QuerySet[Message]:
    """What the customer may read: what they (or others on the thread) sent, and the
    team's replies once they are really going out. Never a note, an automatic message,
    a reply withdrawn by undo or one still inside its undo window."""
    now = timezone.now()
    inbound = Q(direction=Direction.INBOUND)
    replies = (
        Q(direction=Direction.OUTBOUND, is_note=False, is_automatic=False)
        & Q(author_type=AuthorType.AGENT)
        & ~Q(delivery_status=DeliveryStatus.CANCELLED)
        & ~Q(delivery_status=DeliveryStatus.PENDING, send_after__gt=now)
    )
    return (
        Message.objects.filter(inbound | replies, conversation=conversation)
        .select_related("author_agent")
        .prefetch_related("attachments")
        .order_by("created_at", "id")
    )


def get_attachment_for(customer: Customer, pk: Any) -> Attachment:
    """An attachment of a public message of a conversation the customer may see, else 404."""
    try:
        wanted = int(pk)
        if not 0 < wanted < 2**63:
            raise ValueError(pk)
        attachment = Attachment.objects.select_related("message__conversation").get(pk=wanted)
    except (Attachment.DoesNotExist, TypeError, ValueError, OverflowError):
        raise Http404("No such attachment") from None
    conversation = attachment.message.conversation
    if not portal_conversations(customer).filter(pk=conversation.pk).exists():
        raise Http404("No such attachment")
    if not public_messages(conversation).filter(pk=attachment.message_id).exists():
        raise Http404("No such attachment")
    return attachment


def may_reply(customer: Customer, conversation: Conversation) -> bool:
    """Only the conversation's own customer replies; an organization member reads."""
    return conversation.customer_id == customer.pk


class PortalUnavailable(Exception):
    """No active web form inbox: the portal cannot take messages now."""


class RequestClosed(Exception):
    """A closed conversation takes no more messages; the customer opens a new one."""


@dataclass(frozen=True)
class Submission:
    message: str
    submission_id: str
    subject: str = ""
    files: tuple[InboundAttachment, ...] = ()
    client_ip: str = ""


def _inbox() -> Inbox:
    inbox = active_inbox()
    if inbox is None:
        raise PortalUnavailable("no active web form inbox")
    return inbox


def _fields(customer: Customer, identity: Identity, submission: Submission) -> dict[str, Any]:
    return {
        "name": customer.name,
        "email": identity.address,
        "subject": submission.subject,
        "message": submission.message,
        "submission_id": submission.submission_id,
        "client_ip": submission.client_ip,
        "source": "portal",
    }


def reply_from_portal(
    *,
    customer: Customer,
    identity: Identity,
    conversation: Conversation,
    submission: Submission,
) -> Message:
    """The customer's reply, received like any inbound message into this conversation.

    It arrives through the web form inbox (the portal's channel) with the conversation
    as its thread hint, which `receive` honours because the sender is the conversation's
    customer; a solved conversation reopens, as an email reply would reopen it. The
    submission id makes a double click one message.
    """
    if not may_reply(customer, conversation):
        raise Http404("No such request")
    if conversation.status == Status.CLOSED:
        raise RequestClosed()
    inbox = _inbox()
    fields = _fields(
        customer, identity, dataclasses.replace(submission, subject=conversation.subject)
    )
    fields["conversation"] = conversation.number
    inbound = from_raw(inbox, to_raw(fields, list(submission.files)))
    inbound = dataclasses.replace(inbound, conversation_hint=conversation.number)
    # Closed between the check and `receive`: it opens a new request, and the caller
    # shows the customer wherever the message landed.
    return receive(inbound).message


def open_request(
    *, customer: Customer, identity: Identity, submission: Submission
) -> ReceiveResult:
    """A new request from the signed-in customer, filed into the web form inbox
    (`duplicate` on the result: the same submission was received before)."""
    inbox = _inbox()
    fields = _fields(customer, identity, submission)
    return receive(from_raw(inbox, to_raw(fields, list(submission.files))))


def max_upload_bytes() -> int:
    return settings.HEEDFUL_MAX_ATTACHMENTS * settings.HEEDFUL_MAX_ATTACHMENT_BYTES


@dataclass(frozen=True)
class RequestRow:
    number: int
    subject: str
    channel: str
    status: str
    updated_at: Any
    opened_by: str  # empty for the customer's own requests
    closed: bool


def _channel(inbox: Inbox) -> str:
    try:
        return str(inbox.adapter.label)
    except Exception:  # a kind whose plugin is gone still lists its history
        return inbox.kind


def request_rows(customer: Customer, conversations: Any) -> list[RequestRow]:
    return [
        RequestRow(
            number=c.number,
            subject=c.subject or "(no subject)",
            channel=_channel(c.inbox),
            status=friendly_status(c.status),
            updated_at=c.last_message_at,
            opened_by=""
            if c.customer_id == customer.pk
            else (c.customer.first_name or "A colleague"),
            closed=c.status == Status.CLOSED,
        )
        for c in conversations
    ]


def list_requests(customer: Customer, *, organization: bool) -> QuerySet[Conversation]:
    """Newest activity first, as "My requests" shows them."""
    return (
        portal_conversations(customer, organization=organization)
        .select_related("inbox", "customer")
        .order_by("-last_message_at", "-id")
    )


@dataclass(frozen=True)
class ThreadEntry:
    pk: int
    author: str
    from_customer: bool
    created_at: Any
    text: str
    attachments: tuple[Attachment, ...]


def agent_first_name(message: Message) -> str:
    agent = message.author_agent
    if agent is None:
        return "Support"
    name = agent.first_name or agent.name
    # Never the agent's email address: the portal shows first names only.
    return name.split()[0] if name.strip() else "Support"


def thread(customer: Customer, conversation: Conversation) -> list[ThreadEntry]:
    entries = []
    for m in public_messages(conversation).select_related("sender_identity__customer"):
        inbound = m.direction == Direction.INBOUND
        if inbound:
            sender = m.sender_identity.customer if m.sender_identity else None
            author = (
                "You"
                if sender is not None and sender.resolve().pk == customer.pk
                else ((sender.first_name if sender else "") or "Customer")
            )
        else:
            author = agent_first_name(m)
        entries.append(
            ThreadEntry(
                pk=m.pk,
                author=author,
                from_customer=inbound,
                created_at=m.created_at,
                text=m.body_text,
                attachments=tuple(a for a in m.attachments.all() if not a.inline),
            )
        )
    return entries
