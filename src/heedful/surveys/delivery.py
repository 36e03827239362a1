"""How a survey reaches the customer: one delivery per channel kind, chosen from a registry.

Email (and the web form, whose answers go out as email) send the survey email
through the inbox's own From address and transport. A kind with no delivery of
its own (chat, SMS, WhatsApp, phone today) falls back to emailing the link from
the site's address when the customer has an email address: the survey page at
/s/<token>/ works from any channel. To survey inline on such a channel later,
write a class with `channel`, `can_reach` and `send(invitation, link)` (posting
`link.page()` or native buttons through the provider) and `register(kind, it)`.

A survey email is never a conversation Message: its Message-ID is kept on the
invitation, it carries no conversation reference, and nothing threads on it.
"""

from dataclasses import dataclass
from email.utils import formataddr, parseaddr
from typing import TYPE_CHECKING, Protocol

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.core.mail.backends.base import BaseEmailBackend
from django.template.loader import render_to_string
from django.urls import reverse

from heedful.customers.identities import IdentityKind
from heedful.inboxes.registry import DeliveryResult
from heedful.surveys.defaults import SUBJECTS, scale
from heedful.surveys.wording import wording_for

if TYPE_CHECKING:
    from heedful.customers.models import Identity
    from heedful.inboxes.models import Inbox
    from heedful.surveys.models import SurveyInvitation


@dataclass(frozen=True)
class SurveyLink:
    """The invitation's links; the token appears nowhere else."""

    token: str

    def page(self, score: int | None = None) -> str:
        url = settings.BASE_URL + reverse("surveys:survey", args=[self.token])
        return url if score is None else f"{url}?score={score}"

    def unsubscribe(self) -> str:
        return settings.BASE_URL + reverse("surveys:unsubscribe", args=[self.token])


class SurveyDelivery(Protocol):
    @property
    def channel(self) -> str:
        """Recorded on the invitation: how it went out."""
        ...

    def can_reach(self, invitation: "SurveyInvitation") -> bool: ...

    def send(self, invitation: "SurveyInvitation", link: SurveyLink) -> DeliveryResult: ...


_DELIVERIES: dict[str, SurveyDelivery] = {}


def register(kind: str, delivery: SurveyDelivery) -> SurveyDelivery:
    _DELIVERIES[kind] = delivery
    return delivery


def delivery_for(kind: str) -> SurveyDelivery:
    return _DELIVERIES.get(kind, LINK_BY_EMAIL)


def sending_inbox(invitation: "SurveyInvitation") -> "Inbox | None":
    """The conversation's inbox; for a relationship survey, the inbox of the customer's
    latest conversation (the channel they last used with us)."""
    from heedful.conversations.models import Conversation

    if invitation.inbox_id is not None:
        return invitation.inbox
    latest = (
        Conversation.objects.filter(customer=invitation.customer_id, merged_into__isnull=True)
        .select_related("inbox")
        .order_by("-last_message_at", "-id")
        .first()
    )
    return latest.inbox if latest else None


def delivery_of(invitation: "SurveyInvitation") -> SurveyDelivery:
    inbox = sending_inbox(invitation)
    return delivery_for(inbox.kind if inbox else "")


def email_identity(invitation: "SurveyInvitation") -> "Identity | None":
    """Where the customer last wrote to us from on this conversation if that is an email
    address, else any email address of theirs."""
    from heedful.conversations.services import default_recipient
    from heedful.customers.models import Identity

    if invitation.conversation is not None:
        found = default_recipient(invitation.conversation)
        if found is not None and found.kind == IdentityKind.EMAIL:
            return found
    return (
        Identity.objects.filter(customer=invitation.customer_id, kind=IdentityKind.EMAIL)
        .order_by("-verified", "pk")
        .first()
    )


class EmailSurveyDelivery:
    """The survey email: text and HTML, a button per score, List-Unsubscribe (RFC 8058).

    `own_inbox`: send from the inbox's address through its transport (email, web
    form); otherwise from the site's DEFAULT_FROM_EMAIL through the site's connection.
    """

    channel = "email"

    def __init__(self, *, own_inbox: bool) -> None:
        self.own_inbox = own_inbox

    def can_reach(self, invitation: "SurveyInvitation") -> bool:
        return email_identity(invitation) is not None

    def send(self, invitation: "SurveyInvitation", link: SurveyLink) -> DeliveryResult:
        from heedful.inboxes.email.outbound import new_message_id, suppression_of
        from heedful.inboxes.email.transport import TransportError, classify

        identity = email_identity(invitation)
        if identity is None:
            return DeliveryResult(ok=False, error="no email address to send to", permanent=True)
        refused = suppression_of(identity.address)
        if refused:
            return DeliveryResult(ok=False, error=refused, permanent=True)
        inbox = sending_inbox(invitation) if self.own_inbox else None
        sender = from_header(inbox)
        domain = parseaddr(sender)[1].rsplit("@", 1)[-1] or "localhost"
        message_id = new_message_id(domain)
        try:
            email = compose(
                invitation,
                link,
                to=identity.address,
                sender=sender,
                message_id=message_id,
                connection=self._connection(inbox),
            )
        except TransportError as exc:
            return DeliveryResult(ok=False, error=f"not sent: {exc}", permanent=True)
        try:
            email.send(fail_silently=False)
        except Exception as exc:  # SMTP, provider API and network errors alike
            return classify(exc)
        return DeliveryResult(ok=True, external_id=message_id)

    def _connection(self, inbox: "Inbox | None") -> BaseEmailBackend:
        from heedful.inboxes.email.transport import connection_for

        if inbox is None:
            return get_connection(fail_silently=False)
        return connection_for(inbox)


def from_header(inbox: "Inbox | None") -> str:
    """The inbox's name and address, as replies use; else the site's DEFAULT_FROM_EMAIL."""
    from heedful.inboxes.email.outbound import one_line

    if inbox is None or "@" not in inbox.address:
        return settings.DEFAULT_FROM_EMAIL
    return formataddr((one_line(inbox.name), inbox.address))


def compose(
    invitation: "SurveyInvitation",
    link: SurveyLink,
    *,
    to: str,
    sender: str,
    message_id: str,
    connection: BaseEmailBackend | None = None,
) -> EmailMultiAlternatives:
    """The survey email, ready to send. It names neither the customer nor the conversation."""
    wording = wording_for(invitation.kind, invitation.language)
    context = {
        "wording": wording,
        "buttons": [(score, link.page(score)) for score in scale(invitation.kind)],
        "page_url": link.page(),
        "unsubscribe_url": link.unsubscribe(),
    }
    headers = {
        "Message-ID": message_id,
        # RFC 3834: machine-made, so out-of-office replies stay away.
        "Auto-Submitted": "auto-generated",
        "X-Auto-Response-Suppress": "All",
        # RFC 2369 and RFC 8058: one click in the mail client opts out (a POST to this URL).
        "List-Unsubscribe": f"<{link.unsubscribe()}>",
        "List-Unsubscribe-Post": "List-Unsubscribe=One-Click",
    }
    email = EmailMultiAlternatives(
        subject=SUBJECTS[invitation.kind],
        body=render_to_string("surveys/email.txt", context),
        from_email=sender,
        to=[to],
        headers=headers,
        connection=connection,
    )
    email.attach_alternative(render_to_string("surveys/email.html", context), "text/html")
    return email


# Email and the web form answer by email from the inbox; every other kind, until it
# has an inline survey of its own, gets the link by email from the site's address.
register("email", EmailSurveyDelivery(own_inbox=True))
register("webform", EmailSurveyDelivery(own_inbox=True))
LINK_BY_EMAIL = EmailSurveyDelivery(own_inbox=False)
