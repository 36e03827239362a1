"""The normalized value every channel adapter hands to `receive`."""

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from heedful.inboxes.models import Inbox


@dataclass(frozen=True)
class InboundAttachment:
    filename: str
    content_type: str
    content: bytes
    content_id: str = ""  # without angle brackets; what cid: URLs in the HTML name
    inline: bool = False


@dataclass(frozen=True)
class Sender:
    kind: str  # an IdentityKind
    address: str
    name: str = ""
    # True only when the channel proves the address (a signed-in portal user,
    # a phone carrier's caller id); typed-in addresses are unverified.
    verified: bool = False


@dataclass(frozen=True)
class InboundMessage:
    inbox: "Inbox"
    sender: Sender
    text: str
    html: str = ""  # must already be sanitized by the adapter (nh3)
    subject: str = ""
    external_id: str | None = None
    # Provider ids this message answers (email In-Reply-To / References...).
    thread_hints: tuple[str, ...] = ()
    # A conversation number from a signed reply address (email plus-addressing):
    # we handed it out, so it is honoured whoever writes from it.
    signed_conversation: int | None = None
    # A conversation number the sender quoted; honoured only if they take part.
    conversation_hint: int | None = None
    cc: tuple[Sender, ...] = ()
    attachments: tuple[InboundAttachment, ...] = ()
    received_at: datetime | None = None
    # What the channel handed us, stored before anything else happens.
    raw: bytes = b""
    raw_content_type: str = "application/octet-stream"
    # Email: quoted history folded away, a note for the agent (limits hit), why the
    # sender is unverified, why the message is automatic (see Message's fields).
    quoted_text: str = ""
    notice: str = ""
    sender_unverified: str = ""
    auto_submitted: str = ""
    # Where the channel keeps the raw input (RawInbound.source_key).
    source_key: str | None = None
    metadata: dict[str, object] = field(default_factory=dict)
