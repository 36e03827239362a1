"""The "Contact us" form: requests arrive by form post, answers leave by email."""

from typing import TYPE_CHECKING

from heedful.customers.identities import IdentityKind
from heedful.inboxes.email.outbound import EmailDelivery

if TYPE_CHECKING:
    from heedful.conversations.inbound import InboundMessage
    from heedful.inboxes.models import RawInbound


class WebFormAdapter(EmailDelivery):
    kind = "webform"
    label = "Web form"
    icon = "✎"
    identity_kind = IdentityKind.EMAIL
    synchronous = False

    def parse(self, raw: "RawInbound") -> "InboundMessage":
        from heedful.inboxes.webform.intake import parse_raw

        return parse_raw(raw)
