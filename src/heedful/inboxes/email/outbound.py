"""Outbound email: replies leave as proper emails through the inbox's transport.

A reply carries text and HTML, the agent's signature, optionally the customer's
last message quoted, a Message-ID stored before sending, In-Reply-To and
References for threading, a Reply-To with a signed conversation token (for mail
clients that drop those headers), the CC'd participants ("reply all") and the
message's attachments.
"""

import re
import secrets
from dataclasses import dataclass
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.core.mail.backends.base import BaseEmailBackend
from django.utils import timezone
from django.utils.html import escape, linebreaks

from heedful.customers.identities import IdentityKind
from heedful.inboxes.email import tokens
from heedful.inboxes.email.config import EmailSettings
from heedful.inboxes.email.transport import TransportError, classify, connection_for
from heedful.inboxes.registry import DeliveryResult

if TYPE_CHECKING:
    from heedful.conversations.models import Conversation, Message
    from heedful.inboxes.models import Inbox

# RFC 5322 lets References grow without bound; mail servers refuse very long headers.
MAX_REFERENCES = 20
# "Re:", "RE :", "Aw:", "Sv:", "Antw:" (and repeats) at the start of a subject.
_REPLY_PREFIX = re.compile(r"^\s*(?:(?:re|aw|sv|antw|fwd?)\s*(?:\[\d+\])?\s*:\s*)+", re.I)
_REFERENCE_TAG = re.compile(r"\s*\[#\d{1,18}\]")


def new_message_id(domain: str) -> str:
    # Random, so nobody can predict one of ours and inject into a thread.
    return f"<{secrets.token_hex(16)}@{domain}>"


def one_line(value: str) -> str:
    """A header value on one line whatever the stored text holds (no header injection)."""
    return " ".join(value.split())


def reply_subject(subject: str, number: int) -> str:
    """ "Re: <subject> [#number]" however many "Re:" and tags the subject already has."""
    bare = _REFERENCE_TAG.sub("", one_line(subject))
    bare = _REPLY_PREFIX.sub("", bare).strip() or "Your request"
    return f"Re: {bare} [#{number}]"


def ack_subject(config: EmailSettings, number: int) -> str:
    subject = one_line(config.auto_ack_subject.replace("{number}", str(number)))
    tag = f"[#{number}]"
    return subject if tag in subject else f"{subject or 'We received your message'} {tag}"


def is_message_id(value: str | None) -> bool:
    """A real Message-ID (not a web-form id, not one we made up for a message without one)."""
    if not value or not (value.startswith("<") and value.endswith(">")):
        return False
    return not value.startswith("<sha256.") and not any(c.isspace() for c in value)


@dataclass(frozen=True)
class Threading:
    in_reply_to: str | None
    references: tuple[str, ...]


def threading_for(conversation: "Conversation", exclude_pk: int) -> Threading:
    """In-Reply-To: the customer's latest message (else our own latest). References:
    every Message-ID of the conversation in order (only the last MAX_REFERENCES kept,
    the first always), that latest one last."""
    from heedful.conversations.models import Direction

    rows = list(
        conversation.messages.filter(external_id__isnull=False, is_note=False)
        .exclude(pk=exclude_pk)
        .order_by("created_at", "id")
        .values_list("external_id", "direction")
    )
    ids = [(str(mid), direction) for mid, direction in rows if is_message_id(mid)]
    inbound = [mid for mid, direction in ids if direction == Direction.INBOUND]
    latest = inbound[-1] if inbound else None
    chain = list(dict.fromkeys(mid for mid, _ in ids if mid != latest))
    if latest:
        chain.append(latest)
    if len(chain) > MAX_REFERENCES:
        chain = [chain[0], *chain[-(MAX_REFERENCES - 1) :]]
    return Threading(in_reply_to=chain[-1] if chain else None, references=tuple(chain))


def own_addresses(inbox: "Inbox") -> set[str]:
    """Every address Heedful receives on (all inboxes and this one's aliases), bare and
    lower case: never copied on our own replies."""
    from heedful.inboxes.models import Inbox

    found = {a.lower() for a in Inbox.objects.exclude(address="").values_list("address", flat=True)}
    found.update(EmailSettings.of(inbox).addresses(inbox))
    return {tokens.base_address(a.strip()) for a in found if a.strip()}


def suppression_of(address: str) -> str | None:
    """Why we refuse to send to `address`, or None."""
    from heedful.inboxes.models import EmailSuppression

    row = (
        EmailSuppression.objects.filter(
            address=address.strip().lower(), suppressed_at__isnull=False, lifted_at__isnull=True
        )
        .values("hard_bounces")
        .first()
    )
    if row is None:
        return None
    return (
        f"not sent: {address} is suppressed after {row['hard_bounces']} hard bounces "
        "(lift it in Admin > Suppressed email addresses, then retry)"
    )


@dataclass(frozen=True)
class EmailSent(DeliveryResult):
    """A sent email and whom it was copied to ("reply all"): delivery records the
    copies with the DELIVERED event, and a later bounce report counts only against
    addresses the reply really went to."""

    cc: tuple[str, ...] = ()


class EmailDelivery:
    """Delivery by email, shared by every kind whose answers go out as email."""

    def _reserve_message_id(self, message: "Message", domain: str) -> str:
        """Store the Message-ID before sending, so a re-send after a crash reuses it
        and the customer's mail client shows one message, not two."""
        from heedful.conversations.models import Message

        candidate = new_message_id(domain)
        Message.objects.filter(pk=message.pk, external_id__isnull=True).update(
            external_id=candidate
        )
        stored = Message.objects.values_list("external_id", flat=True).get(pk=message.pk)
        return stored or candidate

    def from_address(self, message: "Message") -> str:
        """The bare sending address (DEFAULT_FROM_EMAIL may carry a display name)."""
        from email.utils import parseaddr

        written = message.inbox.address or settings.DEFAULT_FROM_EMAIL
        return parseaddr(written)[1] or written

    def from_header(self, message: "Message") -> str:
        """The inbox's name and address; the site's DEFAULT_FROM_EMAIL as it is written
        when the inbox has no address of its own (the web form)."""
        from email.utils import formataddr

        if not message.inbox.address:
            return settings.DEFAULT_FROM_EMAIL
        return formataddr((one_line(message.inbox.name), message.inbox.address))

    def deliver(self, message: "Message") -> DeliveryResult:
        recipient = message.recipient_identity
        if recipient is None or recipient.kind != IdentityKind.EMAIL:
            return DeliveryResult(ok=False, error="no email address to answer to", permanent=True)
        refused = suppression_of(recipient.address)
        if refused:
            return DeliveryResult(ok=False, error=refused, permanent=True)
        sender = self.from_address(message)
        domain = sender.rsplit("@", 1)[-1] or "localhost"
        message_id = message.external_id or self._reserve_message_id(message, domain)
        try:
            connection = connection_for(message.inbox)
            email = self.compose(message, message_id, connection)
        except (TransportError, MissingAttachment) as exc:
            return DeliveryResult(ok=False, error=f"not sent: {exc}", permanent=True)
        try:
            email.send(fail_silently=False)
        except Exception as exc:  # SMTP, provider API and network errors alike
            return classify(exc)
        return EmailSent(ok=True, external_id=message_id, cc=tuple(email.cc))

    def compose(
        self, message: "Message", message_id: str, connection: BaseEmailBackend | None = None
    ) -> EmailMultiAlternatives:
        """The email for `message`, ready to send (nothing is sent here)."""
        conversation = message.conversation
        inbox = message.inbox
        config = EmailSettings.of(inbox)
        assert message.recipient_identity is not None
        recipient = message.recipient_identity.address
        headers = {
            "Message-ID": message_id,
            "Auto-Submitted": "auto-replied" if message.is_automatic else "no",
        }
        if message.is_automatic:
            # Asks Exchange and friends not to answer our acknowledgment with theirs.
            headers["X-Auto-Response-Suppress"] = "All"
        thread = threading_for(conversation, message.pk)
        if thread.in_reply_to:
            headers["In-Reply-To"] = thread.in_reply_to
            headers["References"] = " ".join(thread.references)
        reply_to = tokens.reply_address(
            _bare(config.reply_to) or self.from_address(message), conversation.number
        )
        text, html = self.bodies(message, quote=config.quote_history)
        email = EmailMultiAlternatives(
            subject=self.subject(message, config),
            body=text,
            from_email=self.from_header(message),
            to=[recipient],
            cc=self.cc(message, recipient),
            reply_to=[reply_to],
            headers=headers,
            connection=connection,
        )
        email.attach_alternative(html, "text/html")
        for attachment in message.attachments.all().order_by("pk"):
            name = one_line(attachment.filename) or "attachment"
            email.attach(name, _read(attachment), attachment.content_type)
        return email

    def subject(self, message: "Message", config: EmailSettings) -> str:
        from heedful.conversations.models import AuthorType

        number = message.conversation.number
        if message.is_automatic and message.author_type == AuthorType.SYSTEM:
            # The inbox's acknowledgment (autoreply) has a subject of its own.
            return ack_subject(config, number)
        return reply_subject(message.conversation.subject, number)

    def cc(self, message: "Message", recipient: str) -> list[str]:
        """ "Reply all": the conversation's CC'd participants, less the recipient, our own
        addresses and suppressed ones (a bounced CC must not stop the customer's answer)."""
        from heedful.conversations.models import ConversationParticipant, ParticipantRole

        ours = own_addresses(message.inbox)
        skip = {recipient.lower()}
        found: list[str] = []
        addresses = (
            ConversationParticipant.objects.filter(
                conversation=message.conversation_id,
                role=ParticipantRole.CC,
                identity__kind=IdentityKind.EMAIL,
            )
            .order_by("pk")
            .values_list("identity__address", flat=True)
        )
        for address in addresses:
            bare = address.strip().lower()
            if bare in skip or tokens.base_address(bare) in ours or suppression_of(bare):
                continue
            skip.add(bare)
            found.append(address.strip())
        return found

    def bodies(self, message: "Message", *, quote: bool) -> tuple[str, str]:
        """(text, html): the reply, the agent's signature, then the quoted history."""
        text = message.body_text.rstrip()
        html = message.body_html.strip() or linebreaks(text, autoescape=True)
        signature = message.author_agent.signature.strip() if message.author_agent else ""
        if signature:
            text += f"\n\n-- \n{signature}"
            html += (
                f'\n<div class="signature">-- <br>{linebreaks(signature, autoescape=True)}</div>'
            )
        quoted = _latest_inbound(message) if quote else None
        if quoted is not None:
            intro, body = quoted
            lines = "\n".join(f"> {line}" if line else ">" for line in body.splitlines())
            text += f"\n\n{intro}\n{lines}"
            html += (
                f'\n<p>{escape(intro)}</p>\n<blockquote type="cite">'
                f"{linebreaks(body, autoescape=True)}</blockquote>"
            )
        head = '<!DOCTYPE html>\n<html><head><meta charset="utf-8"></head><body>'
        return text, f"{head}\n{html}\n</body></html>"


def _bare(address: str) -> str:
    from email.utils import parseaddr

    return parseaddr(one_line(address))[1] if address.strip() else ""


class MissingAttachment(Exception):
    """An attachment's file is gone from storage: sending without it would silently lose it."""


def _read(attachment: object) -> bytes:
    from heedful.conversations.models import Attachment

    assert isinstance(attachment, Attachment)
    try:
        with attachment.file.open("rb") as handle:
            return handle.read()
    except (OSError, ValueError) as exc:
        raise MissingAttachment(
            f"attachment {attachment.filename!r} cannot be read: {exc}"
        ) from None


def _latest_inbound(message: "Message") -> tuple[str, str] | None:
    """("On <date>, <who> wrote:", text) of the customer's latest message before this one."""
    from heedful.conversations.models import Direction

    latest = (
        message.conversation.messages.filter(
            direction=Direction.INBOUND, is_note=False, created_at__lte=message.created_at
        )
        .exclude(body_text="")
        .select_related("sender_identity__customer")
        .order_by("-created_at", "-id")
        .first()
    )
    if latest is None:
        return None
    who = "you"
    if latest.sender_identity is not None:
        name = one_line(latest.sender_identity.customer.name)
        address = latest.sender_identity.address
        who = f"{name} <{address}>" if name else address
    when = timezone.localtime(latest.created_at)
    date = f"{when:%a}, {when.day} {when:%b} {when.year} at {when:%H:%M}"
    return f"On {date}, {who} wrote:", latest.body_text.strip()
