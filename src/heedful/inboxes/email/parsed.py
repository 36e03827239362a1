"""What the email parser hands the rest of the channel: plain values, no Django."""

from dataclasses import dataclass, field
from datetime import datetime

from heedful.conversations.inbound import InboundAttachment


class EmailParseError(Exception):
    """The message cannot become a conversation message (no sender, over the size
    limit...). The raw bytes are quarantined with this reason."""


@dataclass(frozen=True)
class Address:
    address: str  # as written, not yet normalized ("" when unparseable)
    name: str = ""


@dataclass(frozen=True)
class Bounce:
    """A delivery status notification (RFC 3464) about a message we sent."""

    # Message-IDs ("<...>") of the original message, from the returned headers.
    original_message_ids: tuple[str, ...]
    recipients: tuple[str, ...]  # Final-Recipient / Original-Recipient addresses
    status: str  # "5.1.1"
    diagnostic: str  # the remote server's answer, e.g. "550 5.1.1 user unknown"
    permanent: bool  # Action: failed with a 5.x.x status


@dataclass(frozen=True)
class ParsedEmail:
    message_id: str | None  # "<id@host>", None when absent or unusable
    in_reply_to: tuple[str, ...]
    references: tuple[str, ...]
    sender: Address  # From (or Sender / Reply-To when From is unusable)
    reply_to: tuple[Address, ...]
    to: tuple[Address, ...]
    cc: tuple[Address, ...]
    # Envelope recipients the receiving server recorded (Delivered-To, X-Original-To):
    # where a plus-addressed reply token survives when To was rewritten.
    delivered_to: tuple[str, ...]
    subject: str
    date: datetime | None
    text: str  # the new part of the message, plain text (derived from HTML if no text part)
    quoted_text: str  # quoted history and signature folded away from `text`
    html: str  # sanitized with core.html.sanitize_html; "" when there was no HTML part
    attachments: tuple[InboundAttachment, ...]
    # Notes for the agent: attachments dropped over the limits, undecodable parts.
    notices: tuple[str, ...] = ()
    # "" for mail a person sent; otherwise why it is automatic ("Auto-Submitted:
    # auto-replied", "Precedence: bulk", "List-Id", "null sender", "mailer-daemon").
    auto_submitted: str = ""
    # "" when the receiving server's Authentication-Results passed or said nothing
    # usable; otherwise what failed ("dmarc=fail", "spf=fail dkim=fail").
    auth_failed: str = ""
    bounce: Bounce | None = None
    headers: dict[str, str] = field(default_factory=dict)  # a few, for display
