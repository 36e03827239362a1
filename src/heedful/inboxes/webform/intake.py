"""Turn a contact-form submission into the raw record and the InboundMessage."""

import base64
import hashlib
import json
from typing import Any

from heedful.conversations.inbound import InboundAttachment, InboundMessage, Sender
from heedful.customers.identities import IdentityKind
from heedful.inboxes.models import Inbox, RawInbound

RAW_CONTENT_TYPE = "application/vnd.heedful.webform+json"


def to_raw(fields: dict[str, Any], files: list[InboundAttachment]) -> bytes:
    payload = dict(fields)
    payload["attachments"] = [
        {
            "filename": f.filename,
            "content_type": f.content_type[:100],
            "content": base64.b64encode(f.content).decode(),
        }
        for f in files
    ]
    return json.dumps(payload, sort_keys=True).encode()


def external_id(data: dict[str, Any]) -> str:
    """The form's submission id plus a digest of what was typed: a double click is the
    same message, while going back, editing and sending again is a new one."""
    typed = "\x1f".join(str(data.get(k, "")) for k in ("email", "name", "subject", "message"))
    digest = hashlib.sha256(typed.encode()).hexdigest()[:16]
    return f"webform:{data['submission_id']}:{digest}"


def active_inbox() -> Inbox | None:
    """The inbox /contact/ files requests into: the oldest active web form inbox."""
    return Inbox.objects.filter(kind="webform", is_active=True).order_by("pk").first()


def from_raw(inbox: Inbox, payload: bytes) -> InboundMessage:
    data = json.loads(payload)
    attachments = tuple(
        InboundAttachment(a["filename"], a["content_type"], base64.b64decode(a["content"]))
        for a in data.get("attachments", [])
    )
    return InboundMessage(
        inbox=inbox,
        sender=Sender(kind=IdentityKind.EMAIL, address=data["email"], name=data.get("name", "")),
        subject=data.get("subject", ""),
        text=data["message"],
        external_id=external_id(data),
        attachments=attachments,
        raw=payload,
        raw_content_type=RAW_CONTENT_TYPE,
        metadata={"client_ip": data.get("client_ip", "")},
        conversation_hint=_hint(data.get("conversation")),
    )


def _hint(value: Any) -> int | None:
    """A portal reply names its conversation; receive() honours it only for a sender who
    takes part, so a retried (once quarantined) reply threads like the first try would."""
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


def parse_raw(raw: RawInbound) -> InboundMessage:
    return from_raw(raw.inbox, bytes(raw.payload))
