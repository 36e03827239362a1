"""Channel kinds whose provider connection is not built yet.

Their conversations can be received (through `receive`) and shown, so demo
data and imports keep every channel; replies on them fail delivery with a
clear reason instead of pretending to have been sent.
"""

from typing import TYPE_CHECKING

from heedful.customers.identities import IdentityKind
from heedful.inboxes.registry import DeliveryResult, register

if TYPE_CHECKING:
    from heedful.conversations.inbound import InboundMessage
    from heedful.conversations.models import Message
    from heedful.inboxes.models import RawInbound


class UnconnectedAdapter:
    def __init__(
        self, kind: str, label: str, icon: str, identity_kind: str, synchronous: bool
    ) -> None:
        self.kind = kind
        self.label = label
        self.icon = icon
        self.identity_kind = identity_kind
        self.synchronous = synchronous

    def deliver(self, message: "Message") -> DeliveryResult:
        return DeliveryResult(
            ok=False,
            permanent=True,
            error=f"No {self.label} provider is connected to this inbox yet.",
        )

    def parse(self, raw: "RawInbound") -> "InboundMessage":
        raise ValueError(f"{self.label} input cannot be re-parsed yet")


for _adapter in (
    UnconnectedAdapter("chat", "Live chat", "❝", IdentityKind.CHAT, synchronous=True),
    UnconnectedAdapter("sms", "SMS", "✆", IdentityKind.PHONE, synchronous=False),
    UnconnectedAdapter("whatsapp", "WhatsApp", "☏", IdentityKind.WHATSAPP, synchronous=False),
    UnconnectedAdapter("voice", "Phone", "☎", IdentityKind.PHONE, synchronous=True),
):
    register(_adapter)
