"""ConversationEvent is the outbox; consumers read it with a cursor each.

A consumer handles a batch and advances its cursor in the same transaction,
so each event is handled exactly once per consumer, and a lost doorbell only
delays work. On PostgreSQL ids can commit out of order, so consumers read
behind a short lag window (HEEDFUL_OUTBOX_LAG_SECONDS).
"""

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from heedful.core import doorbell
from heedful.core.models import ConsumerCursor

if TYPE_CHECKING:
    from heedful.conversations.models import ConversationEvent

log = logging.getLogger(__name__)

Handler = Callable[[list["ConversationEvent"]], None]


@dataclass(frozen=True)
class Consumer:
    name: str
    handle: Handler
    types: frozenset[str] | None  # None: every event type


_CONSUMERS: dict[str, Consumer] = {}
_run_lock = threading.Lock()
_rerun = threading.Event()


def consumer(name: str, types: Iterable[str] | None = None) -> Callable[[Handler], Handler]:
    def decorate(handle: Handler) -> Handler:
        _CONSUMERS[name] = Consumer(name, handle, frozenset(types) if types else None)
        return handle

    return decorate


def consumers() -> dict[str, Consumer]:
    return dict(_CONSUMERS)


def run_consumer(name: str, batch_size: int = 1000) -> int:
    """Handle one batch; returns how many events the cursor moved past."""
    from heedful.conversations.models import ConversationEvent

    spec = _CONSUMERS[name]
    with transaction.atomic():
        ConsumerCursor.objects.get_or_create(name=name)
        cursor = ConsumerCursor.objects.select_for_update().get(name=name)
        events = list(
            ConversationEvent.objects.filter(id__gt=cursor.position).order_by("id")[:batch_size]
        )
        events = _settled(events)
        if not events:
            return 0
        wanted = [e for e in events if spec.types is None or e.type in spec.types]
        if wanted:
            spec.handle(wanted)
        cursor.position = events[-1].pk
        cursor.save(update_fields=["position", "updated_at"])
    return len(events)


def _settled(events: list["ConversationEvent"]) -> list["ConversationEvent"]:
    """The events up to (not including) the first one still inside the lag window.

    Cutting at the first young event, rather than skipping young events, keeps
    the cursor from jumping past one whose lower id commits after a higher one.
    """
    lag = settings.HEEDFUL_OUTBOX_LAG_SECONDS
    if not lag:
        return events
    cutoff = timezone.now() - timedelta(seconds=lag)
    for index, event in enumerate(events):
        if event.created_at > cutoff:
            return events[:index]
    return events


def run_all(batch_size: int = 1000, max_batches: int = 1000) -> dict[str, int]:
    """Drain every consumer. A caller that finds a run in progress in this process
    asks it to go round once more instead of waiting."""
    # Before reading: events committed from now on ring for another run.
    doorbell.answered()
    _rerun.set()
    done: dict[str, int] = {}
    if not _run_lock.acquire(blocking=False):
        return done
    try:
        while _rerun.is_set():
            _rerun.clear()
            for name in sorted(_CONSUMERS):
                done[name] = done.get(name, 0) + _drain(name, batch_size, max_batches)
    finally:
        _run_lock.release()
    return done


def _drain(name: str, batch_size: int, max_batches: int) -> int:
    """One consumer's pending events; its failure is logged and holds up no other."""
    total = 0
    try:
        for _ in range(max_batches):
            moved = run_consumer(name, batch_size)
            total += moved
            if moved < batch_size:
                break
    except Exception:
        log.exception("outbox consumer %s failed; its cursor stays before the failing batch", name)
    return total


def mark_all_caught_up() -> None:
    """Move every cursor to the newest event (after a bulk load built its own results)."""
    from heedful.conversations.models import ConversationEvent

    last = ConversationEvent.objects.order_by("-id").values_list("id", flat=True).first() or 0
    for name in _CONSUMERS:
        ConsumerCursor.objects.update_or_create(name=name, defaults={"position": last})
