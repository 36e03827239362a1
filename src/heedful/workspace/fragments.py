"""Rendered timeline messages, cached as HTML.

Rendering a message costs about a millisecond of template work, most of a
50-message conversation page, and the page is rendered again on every live
refresh. A message's HTML changes only with its delivery state, the viewer's
time zone, and the customer's name (which labels the customer's own messages),
so those, with the template's own version, make the key. Only messages missing
from the cache are loaded in full and rendered. A stale author name (an agent
renamed) lasts at most TTL.
"""

import zlib
from collections.abc import Sequence
from datetime import datetime, tzinfo
from functools import cache as once
from typing import Any

from django.core.cache import cache
from django.template.loader import get_template, render_to_string
from django.utils import timezone
from django.utils.safestring import SafeString, mark_safe

from heedful.conversations.models import Conversation, Message
from heedful.inboxes.registry import channel_display

TEMPLATE = "workspace/conversation.html"
TTL = 24 * 3600

# (pk, created_at, delivery_status, delivery_attempts): what a key needs from each
# message. created_at keeps a restored or reloaded database from meeting old HTML
# under a reused id.
Row = tuple[int, datetime, str, int]


@once
def _version() -> int:
    """Changes when the template does, so a deploy never serves old markup."""
    engine_template: Any = get_template(TEMPLATE)
    source = getattr(engine_template.template, "source", "")
    return zlib.crc32(source.encode())


def _key(row: Row, conversation: Conversation, zone: tzinfo) -> str:
    pk, created_at, status, attempts = row
    customer = f"{conversation.customer_id}:{conversation.customer.name}"
    return (
        f"heedful:message-html:{_version()}:{pk}:{created_at.timestamp()}:{status}:{attempts}:{zone}:"
        f"{zlib.crc32(customer.encode())}"
    )


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
                label, icon = channel_display(message.inbox.kind)
                message.channel_label, message.channel_icon = label, icon  # type: ignore[attr-defined]
                text = render_to_string(
                    f"{TEMPLATE}#message", {"m": message, "conversation": conversation}
                )
                html[message.pk] = fresh[keys[message.pk]] = text
        cache.set_many(fresh, TTL)
    # Our own template's output, escaped when it was rendered.
    return {pk: mark_safe(text) for pk, text in html.items()}  # noqa: S308
