"""The agent's live socket: "conversation N changed" pushes and presence.

Every signed-in workspace page opens one socket at `/ws/app/`. The socket joins
the group of all agents and filters each push in memory against the agent's
teams, with the same rule as `conversations.access.visible_filter`; pushes
carry ids and types only, so whatever the page then shows is fetched over HTTP
through the access rule.

The agent is re-checked at most every HEEDFUL_LIVE_RECHECK_SECONDS, before the
next push or frame: a deactivated user, a signed-out or rotated session (logout,
password change) closes the socket (4403); a lost team stops that team's pushes.

Presence: a conversation page says "viewing N" every few seconds and "typing"
while its composer is used; after an access check the socket joins `conv-N`
and tells the others there, so two agents see each other before they collide.
"""

import json
import logging
import time
from dataclasses import dataclass, field
from importlib import import_module
from typing import Any

from channels.db import database_sync_to_async
from channels.generic.websocket import AsyncJsonWebsocketConsumer
from django.conf import settings

from heedful.conversations.access import sees
from heedful.core.live import AGENTS_GROUP, conversation_group, remember_loop

log = logging.getLogger(__name__)

CLOSE_FORBIDDEN = 4403
# More frames than this in one second are ignored: a page sends a few a minute.
MAX_FRAMES_PER_SECOND = 20
COMPOSERS = {"reply", "note"}
# "Replying" lasts this long after the last keystroke frame.
TYPING_SECONDS = 15.0


@dataclass(frozen=True)
class Agent:
    """What the socket needs to know about its user, reloaded on each re-check."""

    user_id: int
    name: str
    is_admin: bool
    team_ids: frozenset[int] = field(default_factory=frozenset)


def may_see(agent: Agent, team_id: int | None, assignee_id: int | None) -> bool:
    """The access rule for one pushed conversation (tested to agree with visible_filter)."""
    return sees(
        is_admin=agent.is_admin,
        team_ids=agent.team_ids,
        user_id=agent.user_id,
        team_id=team_id,
        assignee_id=assignee_id,
    )


def load_agent(user_id: int, session_key: str | None) -> Agent | None:
    """The agent behind a still-valid session, or None.

    Goes through `django.contrib.auth.get_user` on a fresh read of the session,
    exactly as an HTTP request would: a deleted session (logout), a changed
    password (hash mismatch), a deactivated user all come back anonymous.
    """
    from django.contrib.auth import get_user

    if not session_key:
        return None
    store = import_module(settings.SESSION_ENGINE).SessionStore(session_key)

    class _Request:
        session = store

    user: Any = get_user(_Request())  # type: ignore[arg-type]
    if not user.is_authenticated or not user.is_active or user.pk != user_id:
        return None
    return Agent(
        user_id=user.pk,
        name=user.display_name,
        is_admin=user.is_admin,
        team_ids=frozenset(user.teams.values_list("id", flat=True)),
    )


def conversation_scope(conversation_id: int) -> tuple[int | None, int | None] | None:
    """(team_id, assignee_id) of a conversation, or None if there is no such one."""
    from heedful.conversations.models import Conversation

    row = Conversation.objects.filter(pk=conversation_id).values_list("team_id", "assignee_id")
    return row.first()


class AgentConsumer(AsyncJsonWebsocketConsumer):
    agent: Agent | None = None

    async def connect(self) -> None:
        user = self.scope.get("user")
        if user is None or not user.is_authenticated or not user.is_active:
            await self.close()
            return
        session = self.scope.get("session")
        self.session_key = session.session_key if session is not None else None
        self.agent = await database_sync_to_async(load_agent)(user.pk, self.session_key)
        if self.agent is None:
            await self.close()
            return
        self.checked_at = time.monotonic()
        self.viewing: int | None = None
        self.typing_at = 0.0
        self.composer = ""
        # conversation id -> (team_id, assignee_id): presence checks hit the database once.
        self.scopes: dict[int, tuple[int | None, int | None] | None] = {}
        self.window = (0, 0)  # (second, frames in it)
        remember_loop()
        await self.channel_layer.group_add(AGENTS_GROUP, self.channel_name)
        await self.accept()

    async def disconnect(self, code: int) -> None:
        if self.agent is None:
            return
        await self._leave()
        await self.channel_layer.group_discard(AGENTS_GROUP, self.channel_name)
        self.agent = None

    # --- the agent, re-checked -------------------------------------------------

    async def _fresh(self) -> bool:
        """True while the socket may keep going; closes it when access is gone."""
        if self.agent is None:
            return False
        if time.monotonic() - self.checked_at < settings.HEEDFUL_LIVE_RECHECK_SECONDS:
            return True
        agent = await database_sync_to_async(load_agent)(self.agent.user_id, self.session_key)
        self.checked_at = time.monotonic()
        if agent is None:
            await self._shut()
            return False
        self.agent = agent
        self.scopes.clear()  # a conversation may have moved team since it was checked
        # Refreshes the membership too: channels-redis expires groups after a day.
        await self.channel_layer.group_add(AGENTS_GROUP, self.channel_name)
        if self.viewing is not None and not await self._may_view(self.viewing):
            await self._leave()
        return True

    async def _shut(self) -> None:
        await self._leave()
        await self.channel_layer.group_discard(AGENTS_GROUP, self.channel_name)
        self.agent = None
        await self.close(code=CLOSE_FORBIDDEN)

    # --- frames from the browser ---------------------------------------------

    async def receive(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if not self._within_rate():
            return
        try:
            content = json.loads(text_data) if text_data else None
        except ValueError:
            content = None
        if not isinstance(content, dict):
            await self._error("Frames are JSON objects.")
            return
        await self.receive_json(content)

    async def receive_json(self, content: Any, **kwargs: Any) -> None:
        if not await self._fresh():
            return
        action = content.get("action")
        if action == "ping":
            await self.send_json({"type": "pong"})
        elif action == "left":
            await self._leave()
        elif action in ("viewing", "typing"):
            conversation_id = content.get("conversation_id")
            if type(conversation_id) is not int or conversation_id <= 0:
                await self._error("conversation_id must be a positive integer.")
                return
            composer = content.get("composer", "reply")
            if action == "typing" and composer not in COMPOSERS:
                await self._error("composer must be reply or note.")
                return
            await self._view(conversation_id, composer if action == "typing" else None)
        else:
            await self._error("Unknown action.")

    def _within_rate(self) -> bool:
        second = int(time.monotonic())
        start, count = self.window
        if second != start:
            start, count = second, 0
        self.window = (start, count + 1)
        return count < MAX_FRAMES_PER_SECOND

    async def _error(self, text: str) -> None:
        await self.send_json({"type": "error", "error": text})

    # --- presence ----------------------------------------------------------------

    async def _may_view(self, conversation_id: int) -> bool:
        assert self.agent is not None
        if conversation_id not in self.scopes:
            if len(self.scopes) > 100:
                self.scopes.clear()
            self.scopes[conversation_id] = await database_sync_to_async(conversation_scope)(
                conversation_id
            )
        where = self.scopes[conversation_id]
        return where is not None and may_see(self.agent, *where)

    async def _view(self, conversation_id: int, composer: str | None) -> None:
        joined = False
        if conversation_id != self.viewing:
            await self._leave()
            if not await self._may_view(conversation_id):
                # The same answer for "hidden" and "no such conversation".
                await self._error("No such conversation.")
                return
            self.viewing = conversation_id
            self.typing_at = 0.0
            await self.channel_layer.group_add(
                conversation_group(conversation_id), self.channel_name
            )
            joined = True
        if composer is not None:
            self.typing_at = time.monotonic()
            self.composer = composer
        await self._announce(joined=joined)

    async def _announce(self, *, joined: bool = False) -> None:
        if self.viewing is None or self.agent is None:
            return
        replying = time.monotonic() - self.typing_at < TYPING_SECONDS
        await self.channel_layer.group_send(
            conversation_group(self.viewing),
            {
                "type": "presence",
                "sender": self.channel_name,
                "conversation_id": self.viewing,
                "user_id": self.agent.user_id,
                "name": self.agent.name,
                "state": "replying" if replying else "viewing",
                "composer": self.composer if replying else "",
                "joined": joined,
            },
        )

    async def _leave(self) -> None:
        if self.viewing is None:
            return
        group = conversation_group(self.viewing)
        await self.channel_layer.group_discard(group, self.channel_name)
        if self.agent is not None:
            await self.channel_layer.group_send(
                group,
                {
                    "type": "presence",
                    "sender": self.channel_name,
                    "conversation_id": self.viewing,
                    "user_id": self.agent.user_id,
                    "name": self.agent.name,
                    "state": "left",
                    "composer": "",
                    "joined": False,
                },
            )
        self.viewing = None

    # --- messages from the channel layer -------------------------------------

    async def presence(self, event: dict[str, Any]) -> None:
        if event.get("sender") == self.channel_name or event.get("conversation_id") != self.viewing:
            return
        if not await self._fresh() or self.viewing is None:
            return
        await self.send_json(
            {
                "type": "presence",
                "conversation_id": event["conversation_id"],
                "user_id": event["user_id"],
                "name": event["name"],
                "state": event["state"],
                "composer": event.get("composer", ""),
            }
        )
        if event.get("joined"):
            await self._announce()  # so the newcomer sees who is here right away

    async def conversation_changed(self, event: dict[str, Any]) -> None:
        if not await self._fresh():
            return
        assert self.agent is not None
        conversation_id = event["conversation_id"]
        where = (event.get("team_id"), event.get("assignee_id"))
        if conversation_id in self.scopes or conversation_id == self.viewing:
            self.scopes[conversation_id] = where
        allowed = may_see(self.agent, *where)
        if conversation_id == self.viewing and not allowed:
            await self._leave()
        previous = event.get("previous_assignee_id")
        if not allowed and (previous is None or previous != self.agent.user_id):
            return
        await self.send_json(
            {
                "type": "conversation.changed",
                "conversation_id": conversation_id,
                "event_type": event.get("event_type"),
                "actor_id": event.get("actor_id"),
                "event_id": event.get("event_id"),
            }
        )
