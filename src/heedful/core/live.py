"""Pushes to agents' screens: "conversation N changed", ids and types only.

A push never carries content. The browser re-fetches what it shows over HTTP,
so everything an agent reads still passes the normal access rule; the consumer
(`workspace.consumers`) only decides, from the team and assignee ids below,
which sockets hear about a conversation at all.

Publishing is fire-and-forget and never raises: a lost push loses nothing, the
page shows the truth on its next load. Where the coroutine runs depends on the
channel layer:

- In-memory layer (one process: uvicorn and the worker threads of `heedful run`):
  the sockets' queues belong to the event loop that serves them, so the send is
  scheduled on that loop, remembered when the first socket connects. With no
  socket connected in this process there is nobody to tell.
- Any other layer (channels-redis): a daemon thread keeps one event loop, and so
  one connection pool, for the whole process; callers hand it the send and
  return at once instead of opening a connection per push.

`record_event` publishes after commit, in the process that made the change. With
the in-memory layer a change made by another process (`heedful shell`, a command
piped from the mail server, a separate `heedful worker`) cannot reach the sockets
directly; the outbox consumer `catch_up` pushes those when the embedded worker of
`heedful run` reads them, skipping what this process already pushed.
"""

import asyncio
import atexit
import concurrent.futures
import logging
import threading
from collections import deque
from collections.abc import Coroutine, Iterable
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from channels.layers import InMemoryChannelLayer, get_channel_layer
from django.conf import settings
from django.db import transaction
from django.utils import timezone

from heedful.core import outbox

if TYPE_CHECKING:
    from heedful.conversations.models import ConversationEvent

log = logging.getLogger(__name__)

AGENTS_GROUP = "agents"

_consumer_loop: asyncio.AbstractEventLoop | None = None
_publisher_loop: asyncio.AbstractEventLoop | None = None
_publisher_lock = threading.Lock()
_in_flight: set[concurrent.futures.Future[None]] = set()
_tasks: set[asyncio.Task[None]] = set()
# A short-lived command (`heedful ingest-email`) waits this long at exit for its pushes.
EXIT_WAIT_SECONDS = 1.0
# The outbox catch-up pushes nothing older: a screen open now needs no history.
CATCH_UP_MAX_AGE = timedelta(seconds=60)
# Event ids this process pushed itself, so the catch-up does not push them again.
_PUSHED_MAX = 20_000
_pushed: set[int] = set()
_pushed_order: deque[int] = deque()
_pushed_lock = threading.Lock()


def conversation_group(conversation_id: int) -> str:
    """The group of sockets viewing one conversation (presence)."""
    return f"conv-{conversation_id}"


def remember_loop() -> None:
    """Called by a consumer as it connects: the loop that owns the sockets' queues."""
    global _consumer_loop
    _consumer_loop = asyncio.get_running_loop()


def publish_conversation_event(
    *,
    conversation_id: int,
    team_id: int | None,
    assignee_id: int | None,
    event_type: str,
    actor_id: int | None = None,
    event_id: int | None = None,
    previous_assignee_id: int | None = None,
) -> None:
    """Tell every connected agent socket that a conversation changed; never raises.

    `previous_assignee_id`: an agent who just lost the conversation still hears
    about it once, so their "mine" list drops it (their re-fetch gets the truth).
    """
    message = {
        "type": "conversation.changed",
        "conversation_id": conversation_id,
        "team_id": team_id,
        "assignee_id": assignee_id,
        "previous_assignee_id": previous_assignee_id,
        "event_type": event_type,
        "actor_id": actor_id,
        "event_id": event_id,
    }
    try:
        _send(AGENTS_GROUP, message)
    except Exception:
        log.warning("live push for conversation %s failed", conversation_id, exc_info=True)


def _send(group: str, message: dict[str, Any]) -> None:
    layer = get_channel_layer()
    if layer is None:
        return
    if isinstance(layer, InMemoryChannelLayer):
        loop = _consumer_loop
        if loop is None or loop.is_closed():
            return  # no socket has connected in this process: nobody to tell
    else:
        loop = _publisher()
    _schedule(loop, layer.group_send(group, message))


def _schedule(loop: asyncio.AbstractEventLoop, coro: Coroutine[Any, Any, None]) -> None:
    try:
        running = asyncio.get_running_loop()
    except RuntimeError:
        running = None
    try:
        if running is loop:
            task = loop.create_task(coro)
            _tasks.add(task)  # the loop keeps only a weak reference to a task
            task.add_done_callback(_tasks.discard)
            task.add_done_callback(_report)
        else:
            future = asyncio.run_coroutine_threadsafe(coro, loop)
            _in_flight.add(future)
            future.add_done_callback(_in_flight.discard)
            future.add_done_callback(_report)
    except Exception:
        coro.close()  # the loop is gone: drop the push without a "never awaited" warning
        raise


def _report(future: Any) -> None:
    if not future.cancelled() and future.exception() is not None:
        log.warning("live push failed", exc_info=future.exception())


def _publisher() -> asyncio.AbstractEventLoop:
    """The process's publishing loop for cross-process layers, started on first use."""
    global _publisher_loop
    with _publisher_lock:
        if _publisher_loop is None or _publisher_loop.is_closed():
            loop = asyncio.new_event_loop()
            thread = threading.Thread(
                target=loop.run_forever, name="heedful-live-publisher", daemon=True
            )
            thread.start()
            _publisher_loop = loop
            atexit.register(_drain)
        return _publisher_loop


def _drain() -> None:
    if _in_flight:
        concurrent.futures.wait(_in_flight.copy(), timeout=EXIT_WAIT_SECONDS)


# --- changes made by other processes (in-memory layer only) -------------------------


def _in_memory_layer() -> bool:
    backend = str(settings.CHANNEL_LAYERS.get("default", {}).get("BACKEND", ""))
    return backend.endswith("InMemoryChannelLayer")


def pushed_here(event_ids: Iterable[int]) -> None:
    """Note events this process pushed itself (only the catch-up needs to know)."""
    if not _in_memory_layer():
        return
    with _pushed_lock:
        for event_id in event_ids:
            if event_id not in _pushed:
                _pushed.add(event_id)
                _pushed_order.append(event_id)
        while len(_pushed_order) > _PUSHED_MAX:
            _pushed.discard(_pushed_order.popleft())


def catch_up(events: list["ConversationEvent"]) -> None:
    """Outbox consumer: push recent events that another process wrote.

    Only with the in-memory layer and sockets connected to this process; a
    cross-process layer (Redis) already carried every push from where it happened.
    """
    from heedful.conversations.models import Conversation, EventType

    loop = _consumer_loop
    if loop is None or loop.is_closed() or not _in_memory_layer():
        return
    cutoff = timezone.now() - CATCH_UP_MAX_AGE
    with _pushed_lock:
        fresh = [e for e in events if e.pk not in _pushed and e.created_at >= cutoff]
    if not fresh:
        return
    ids = {e.conversation_id for e in fresh}
    where = {
        pk: (team_id, assignee_id)
        for pk, team_id, assignee_id in Conversation.objects.filter(pk__in=ids).values_list(
            "pk", "team_id", "assignee_id"
        )
    }
    pushes: dict[int, dict[str, Any]] = {}
    for event in fresh:
        if event.conversation_id not in where:
            continue
        push = pushes.setdefault(
            event.conversation_id,
            {
                "conversation_id": event.conversation_id,
                "event_type": event.type,
                "previous_assignee_id": None,
            },
        )
        push["team_id"], push["assignee_id"] = where[event.conversation_id]
        push["actor_id"] = event.actor_id
        push["event_id"] = event.pk
        previous = (event.data or {}).get("from") if event.type == EventType.ASSIGNED else None
        if isinstance(previous, int) and previous != push["assignee_id"]:
            push["previous_assignee_id"] = previous
    pushed_here(e.pk for e in fresh)

    def send() -> None:
        for push in pushes.values():
            publish_conversation_event(**push)

    transaction.on_commit(send)  # the consumer's cursor moves in this transaction


def serve_catch_up() -> None:
    """Register `catch_up` in the one process that both serves sockets and runs the
    outbox (`heedful run` with its embedded worker).

    Registered nowhere else: a worker process without sockets would move the shared
    cursor past events no browser was told about. Without Redis, a separate
    `heedful worker` therefore cannot reach screens; its changes show on the next
    push or reload (the README says so).
    """
    if _in_memory_layer():
        outbox.consumer("live")(catch_up)
