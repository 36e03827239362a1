"""The email channel: inbound through `ingest`, outbound through `outbound`."""

from typing import TYPE_CHECKING

from heedful.customers.identities import IdentityKind
from heedful.inboxes.email.outbound import EmailDelivery, new_message_id

if TYPE_CHECKING:
    from heedful.conversations.inbound import InboundMessage
    from heedful.conversations.services.receive import ReceiveResult
    from heedful.inboxes.models import RawInbound

__all__ = ["EmailAdapter", "new_message_id"]


class EmailAdapter(EmailDelivery):
    kind = "email"
    label = "Email"
    icon = "✉"
    identity_kind = IdentityKind.EMAIL
    synchronous = False

    def parse(self, raw: "RawInbound") -> "InboundMessage":
        from heedful.inboxes.email.ingest import to_inbound
        from heedful.inboxes.email.parse import parse_email

        return to_inbound(raw.inbox, parse_email(bytes(raw.payload)), raw)

    def process(self, raw: "RawInbound") -> "ReceiveResult | None":
        """Stored raw input -> bounce report or conversation message (see ingest)."""
        from heedful.inboxes.email.ingest import process

        return process(raw)
