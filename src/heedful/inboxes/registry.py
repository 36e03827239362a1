"""Channel kinds are plugins: kind -> adapter. No `if kind == ...` outside inboxes/."""

from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from heedful.conversations.inbound import InboundMessage
    from heedful.conversations.models import Message
    from heedful.inboxes.models import RawInbound


@dataclass(frozen=True)
class DeliveryResult:
    ok: bool
    external_id: str | None = None
    error: str = ""
    # A permanent failure is not retried (a rejected address); a transient one is.
    permanent: bool = False


class ChannelAdapter(Protocol):
    @property
    def kind(self) -> str: ...

    @property
    def label(self) -> str: ...

    @property
    def icon(self) -> str:
        """A one-character symbol for lists and timelines. A plain Unicode symbol, not
        an emoji: every system font has those, emoji need an emoji font."""
        ...

    @property
    def identity_kind(self) -> str:
        """What kind of Identity senders on this channel have."""
        ...

    @property
    def synchronous(self) -> bool:
        """Live chat and phone: a conversation is one session."""
        ...

    def deliver(self, message: "Message") -> DeliveryResult: ...

    def parse(self, raw: "RawInbound") -> "InboundMessage":
        """Turn stored raw input back into an InboundMessage (for retries)."""
        ...


_ADAPTERS: dict[str, ChannelAdapter] = {}


def register(adapter: ChannelAdapter) -> ChannelAdapter:
    _ADAPTERS[adapter.kind] = adapter
    return adapter


def get_adapter(kind: str) -> ChannelAdapter:
    _load_builtin()
    try:
        return _ADAPTERS[kind]
    except KeyError:
        raise LookupError(f"no adapter for channel kind {kind!r}") from None


def channel_display(kind: str) -> tuple[str, str]:
    """(label, icon) of a channel kind; a kind whose adapter is gone still shows."""
    try:
        adapter = get_adapter(kind)
    except LookupError:
        return kind, "•"
    return adapter.label, adapter.icon


def kinds() -> dict[str, str]:
    _load_builtin()
    return {kind: adapter.label for kind, adapter in sorted(_ADAPTERS.items())}


def _load_builtin() -> None:
    # Importing the adapter packages registers them.
    from heedful.inboxes import email, unconnected, webform  # noqa: F401
