"""Outbound email: replies leave as proper emails through the inbox's transport."""

import secrets
from typing import TYPE_CHECKING

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection

from heedful.customers.identities import IdentityKind
from heedful.inboxes.registry import DeliveryResult

if TYPE_CHECKING:
    from heedful.conversations.models import Message


def new_message_id(domain: str) -> str:
    # Random, so nobody can predict one of ours and inject into a thread.
    return f"<{secrets.token_hex(16)}@{domain}>"


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
        return message.inbox.address or settings.DEFAULT_FROM_EMAIL

    def deliver(self, message: "Message") -> DeliveryResult:
        recipient = message.recipient_identity
        if recipient is None or recipient.kind != IdentityKind.EMAIL:
            return DeliveryResult(ok=False, error="no email address to answer to", permanent=True)
        conversation = message.conversation
        sender = self.from_address(message)
        domain = sender.rsplit("@", 1)[-1] or "localhost"
        message_id = message.external_id or self._reserve_message_id(message, domain)
        headers = {
            "Message-ID": message_id,
            "Auto-Submitted": "auto-replied" if message.is_automatic else "no",
        }
        previous = (
            conversation.messages.filter(direction="in", external_id__isnull=False)
            .exclude(pk=message.pk)
            .order_by("-created_at", "-id")
            .values_list("external_id", flat=True)
            .first()
        )
        # Only real Message-IDs thread in mail clients (web-form ids do not).
        if previous and previous.startswith("<") and previous.endswith(">"):
            headers["In-Reply-To"] = previous
            headers["References"] = previous
        # A header must be one line whatever the stored subject holds.
        subject = " ".join(conversation.subject.split()) or "Your request"
        email = EmailMultiAlternatives(
            subject=f"Re: {subject} [#{conversation.number}]",
            body=message.body_text,
            from_email=sender,
            to=[recipient.address],
            headers=headers,
            connection=get_connection(),
        )
        if message.body_html:
            email.attach_alternative(message.body_html, "text/html")
        try:
            email.send(fail_silently=False)
        except (OSError, ValueError) as exc:  # SMTP errors are OSError subclasses
            return DeliveryResult(ok=False, error=f"{type(exc).__name__}: {exc}")
        return DeliveryResult(ok=True, external_id=message_id)
