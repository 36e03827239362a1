"""The "Contact us" form: requests arrive by form post, answers leave by email."""

from typing import TYPE_CHECKING

from heedful.inboxes.email.adapter import EmailAdapter

if TYPE_CHECKING:
    from heedful.conversations.inbound import InboundMessage
    from heedful.inboxes.models import RawInbound


class WebFormAdapter(EmailAdapter):
    kind = "webform"
    label = "Web form"
    icon = "✎"
    synchronous = False

    def parse(self, raw: "RawInbound") -> "InboundMessage":
        from heedful.inboxes.webform.intake import parse_raw

        return parse_raw(raw)
