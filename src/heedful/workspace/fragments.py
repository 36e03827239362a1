"""Rendered timeline messages, cached as HTML.

Rendering a message costs about a millisecond of template work, most of a
50-message conversation page, and the page is rendered again on every live
refresh. A message's HTML changes only with its conversation (a merge moves it),
its delivery state (status, attempts, the retry time and the last error), the
viewer's time zone, and the customer's name (which labels the customer's own
messages), so those, with the templates' own version, make the key. Everything
else a message shows (its text, quoted history, flags, notice, attachments) is
written once when it is stored. Only messages missing from the cache are loaded
in full and rendered. A stale author name (an agent renamed) lasts at most TTL.
"""

import base64
import logging
import re
import zlib
from collections.abc import Sequence
from datetime import datetime, tzinfo
from functools import cache as once
from html import unescape
from html.parser import HTMLParser
from typing import Any
from urllib.parse import unquote

from django.core.cache import cache
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from heedful.conversations.models import Attachment, Conversation, Message
from heedful.core.html import sanitize_html
from heedful.inboxes.registry import channel_display

log = logging.getLogger(__name__)

TEMPLATE = "workspace/conversation.html"
# The partials the message template includes: a change to any of them is a new version.
INCLUDED = (
    "workspace/_message_flags.html",
    "workspace/_message_delivery.html",
    "workspace/_email_body.html",
)
TTL = 24 * 3600

# (pk, created_at, delivery_status, delivery_attempts, send_after, delivery_error):
# what a key needs from each message. created_at keeps a restored or reloaded
# database from meeting old HTML under a reused id.
Row = tuple[int, datetime, str, int, datetime | None, str]


@once
def _version() -> int:
    """Changes when a template does, so a deploy never serves old markup."""
    version = 0
    for name in (TEMPLATE, *INCLUDED):
        engine_template: Any = get_template(name)
        source = getattr(engine_template.template, "source", "")
        version = zlib.crc32(source.encode(), version)
    return version


def _key(row: Row, conversation: Conversation, zone: tzinfo) -> str:
    pk, created_at, status, attempts, send_after, error = row
    customer = f"{conversation.customer_id}:{conversation.customer.name}"
    retry_at = send_after.timestamp() if send_after else ""
    # The conversation: a merge moves messages, and their links name the conversation.
    return (
        f"heedful:message-html:{_version()}:{pk}:{created_at.timestamp()}:{conversation.pk}:"
        f"{status}:{attempts}:{retry_at}:{zlib.crc32(error.encode())}:{zone}:"
        f"{zlib.crc32(customer.encode())}"
    )


class _ImageSources(HTMLParser):
    """The src of every <img> in a piece of (already sanitized) HTML."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.sources: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img":
            self.sources.extend(value.strip() for name, value in attrs if name == "src" and value)


def image_sources(html: str) -> list[str]:
    parser = _ImageSources()
    parser.feed(html)
    parser.close()
    return parser.sources


def is_remote(src: str) -> bool:
    """Fetched from another server: http(s) or protocol-relative (`//host/x.png`).

    Read the way a browser does: tabs and newlines dropped, backslashes as slashes.
    """
    url = re.sub(r"[\t\n\r]", "", src).replace("\\", "/").lower()
    return url.startswith(("http:", "https:", "//"))


def cid_of(src: str) -> str | None:
    """The Content-ID a `cid:` URL names (RFC 2392 URLs are percent-encoded)."""
    if src[:4].lower() != "cid:":
        return None
    return unquote(src[4:]).strip().strip("<>")


def _annotate(message: Message) -> None:
    """What the message template needs beyond the model's own fields."""
    label, icon = channel_display(message.inbox.kind)
    message.channel_label, message.channel_icon = label, icon  # type: ignore[attr-defined]
    sources = image_sources(message.body_html) if message.body_html else []
    cids = {cid for cid in map(cid_of, sources) if cid}
    message.remote_images = any(map(is_remote, sources))  # type: ignore[attr-defined]
    # An inline image the formatted view shows in place is not listed again below it.
    message.listed_attachments = [  # type: ignore[attr-defined]
        a
        for a in message.attachments.all()
        if not (a.inline and a.content_id in cids and embeddable(a))
    ]


def render_message(message: Message, conversation: Conversation) -> str:
    """One message's HTML (call under the viewer's time zone)."""
    _annotate(message)
    return render_to_string(f"{TEMPLATE}#message", {"m": message, "conversation": conversation})


def rendered_messages(
    conversation: Conversation, rows: Sequence[Row], zone: tzinfo
) -> dict[int, SafeString]:
    """HTML of each message in `rows`, from the cache or rendered now."""
    keys = {row[0]: _key(row, conversation, zone) for row in rows}
    found: dict[str, Any] = cache.get_many(list(keys.values()))
    html = {pk: found[key] for pk, key in keys.items() if isinstance(found.get(key), str)}
    missing = [pk for pk in keys if pk not in html]
    if missing:
        fresh: dict[str, str] = {}
        messages = (
            Message.objects.filter(pk__in=missing)
            .select_related("author_agent", "sender_identity", "recipient_identity", "inbox")
            .prefetch_related("attachments")
        )
        with timezone.override(zone):
            for message in messages:
                text = render_message(message, conversation)
                html[message.pk] = fresh[keys[message.pk]] = text
        cache.set_many(fresh, TTL)
    # Our own template's output, escaped when it was rendered.
    return {pk: mark_safe(text) for pk, text in html.items()}  # noqa: S308


ROW_FIELDS = (
    "pk",
    "created_at",
    "delivery_status",
    "delivery_attempts",
    "send_after",
    "delivery_error",
)

FRAME_TEMPLATE = "workspace/_email_frame.html"
_CID_SRC = re.compile(r'\bsrc="(cid:[^"]*)"', re.IGNORECASE)
# Inline images travel inside the formatted document as data: URLs. The frame is
# sandboxed into an opaque origin, so it carries no session cookie and could not
# fetch them from the attachment download; embedding keeps it sealed. Bigger or
# unusual images stay in the attachment list instead.
INLINE_IMAGE_TYPES = frozenset({"image/png", "image/jpeg", "image/gif", "image/webp"})
INLINE_IMAGE_MAX_BYTES = 5 * 1024 * 1024


def embeddable(attachment: Attachment) -> bool:
    return (
        bool(attachment.content_id)
        and attachment.content_type.lower() in INLINE_IMAGE_TYPES
        and attachment.size <= INLINE_IMAGE_MAX_BYTES
    )


def formatted_document(message: Message) -> str:
    """A message's HTML as a page of its own, for the sandboxed "Show formatted" frame.

    Sanitized again here, not only when stored, so a row written before a sanitizer
    fix is still cleaned; then `cid:` images are replaced by their attachment's bytes.
    """
    body = _embed_inline_images(sanitize_html(message.body_html), message)
    # nh3's output plus our own data: URLs: the one piece of outside HTML marked safe.
    return render_to_string(FRAME_TEMPLATE, {"body": mark_safe(body)})  # noqa: S308


def _embed_inline_images(html: str, message: Message) -> str:
    wanted = {cid for cid in (cid_of(unescape(m)) for m in _CID_SRC.findall(html)) if cid}
    if not wanted:
        return html
    urls = {
        a.content_id: url
        for a in message.attachments.filter(content_id__in=wanted)
        if embeddable(a) and (url := _data_url(a))
    }

    def swap(match: re.Match[str]) -> str:
        url = urls.get(cid_of(unescape(match.group(1))) or "")
        return f'src="{url}"' if url else match.group(0)

    return _CID_SRC.sub(swap, html)


def _data_url(attachment: Attachment) -> str:
    try:
        with attachment.file.open("rb") as handle:
            content = handle.read(INLINE_IMAGE_MAX_BYTES + 1)
    except OSError:
        log.error("inline image %s is missing from storage", attachment.pk)
        return ""
    if len(content) > INLINE_IMAGE_MAX_BYTES:
        return ""  # the file outgrew its recorded size: list it, do not embed it
    encoded = base64.b64encode(content).decode("ascii")
    return f"data:{attachment.content_type.lower()};base64,{encoded}"
