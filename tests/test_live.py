"""Live updates: the agent socket at /ws/app/, its authorization, presence, and the
push that `record_event` sends after commit.

pytest-asyncio is not installed: each scenario is an async function driven with
`async_to_sync`, and the services it calls run in threads (`sync_to_async`), as
they do under uvicorn. `transaction=True` so on_commit fires and the consumer's
own database connections see the committed rows.
"""

import json
from collections.abc import Awaitable, Callable
from datetime import timedelta
from typing import Any

import pytest
from asgiref.sync import async_to_sync, sync_to_async
from asgiref.testing import ApplicationCommunicator
from channels.layers import get_channel_layer
from django.conf import settings
from django.contrib.sessions.models import Session
from django.db import transaction
from django.test import Client
from django.utils import timezone

from heedful.accounts.models import TeamMembership, User
from heedful.asgi import application
from heedful.conversations import services
from heedful.conversations.access import visible_filter
from heedful.conversations.models import Conversation, ConversationEvent, Message, Status
from heedful.conversations.services import events
from heedful.core import live
from heedful.workspace.consumers import Agent, may_see
from tests.conftest import Cast
from tests.factories import UserFactory

ORIGIN = (b"origin", b"http://testserver")
PUSH_KEYS = {"type", "conversation_id", "event_type", "actor_id", "event_id"}


class WebsocketCommunicator(ApplicationCommunicator):
    """A browser's socket, driven frame by frame.

    `channels.testing` cannot be imported without daphne, which Heedful does not
    use (uvicorn serves it), so this is its WebsocketCommunicator, trimmed.
    """

    def __init__(self, app: Any, path: str, headers: list[tuple[bytes, bytes]]) -> None:
        scope = {"type": "websocket", "path": path, "query_string": b"", "headers": headers}
        super().__init__(app, scope)

    async def connect(self, timeout: float = 1) -> tuple[bool, Any]:
        await self.send_input({"type": "websocket.connect"})
        response = await self.receive_output(timeout)
        if response["type"] == "websocket.close":
            return False, response.get("code", 1000)
        assert response["type"] == "websocket.accept"
        return True, response.get("subprotocol")

    async def send_to(self, text_data: str | None = None, bytes_data: bytes | None = None) -> None:
        if bytes_data is not None:
            await self.send_input({"type": "websocket.receive", "bytes": bytes_data})
        else:
            await self.send_input({"type": "websocket.receive", "text": text_data})

    async def send_json_to(self, data: Any) -> None:
        await self.send_to(text_data=json.dumps(data))

    async def receive_json_from(self, timeout: float = 1) -> Any:
        response = await self.receive_output(timeout)
        assert response["type"] == "websocket.send", response
        return json.loads(response["text"])

    async def disconnect(self, code: int = 1000, timeout: float = 1) -> None:
        await self.send_input({"type": "websocket.disconnect", "code": code})
        await self.wait(timeout)


def run(scenario: Callable[[], Awaitable[None]]) -> None:
    async_to_sync(scenario)()


def session_key(user: User) -> str:
    client = Client()
    client.force_login(user)
    return client.cookies[settings.SESSION_COOKIE_NAME].value


async def open_socket(
    user: User | None = None,
    *,
    origin: tuple[bytes, bytes] = ORIGIN,
    key: str | None = None,
    host: bytes = b"testserver",
) -> tuple[bool, WebsocketCommunicator]:
    headers = [origin, (b"host", host)]
    if user is not None or key is not None:
        key = key or await sync_to_async(session_key)(user)  # type: ignore[arg-type]
        headers.append((b"cookie", f"{settings.SESSION_COOKIE_NAME}={key}".encode()))
    socket = WebsocketCommunicator(application, "/ws/app/", headers=headers)
    connected, _ = await socket.connect(timeout=5)
    return connected, socket


async def push(socket: WebsocketCommunicator) -> dict[str, Any]:
    frame: dict[str, Any] = await socket.receive_json_from(timeout=5)
    return frame


async def closed_with(socket: WebsocketCommunicator) -> int | None:
    output = await socket.receive_output(timeout=5)
    assert output["type"] == "websocket.close"
    code: int | None = output.get("code")
    return code


# --- connecting ------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_anonymous_is_refused(cast: Cast) -> None:
    async def scenario() -> None:
        connected, socket = await open_socket()
        assert not connected
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("origin", "host"),
    [
        (b"http://localhost:9999", b"localhost:8000"),  # another port of an allowed host
        (b"null", b"testserver"),
        (b"http://testserver", b"testserver:8000"),
    ],
)
def test_a_page_of_another_origin_on_an_allowed_host_is_refused(
    cast: Cast, origin: bytes, host: bytes
) -> None:
    async def scenario() -> None:
        connected, socket = await open_socket(cast.agent_a, origin=(b"origin", origin), host=host)
        assert not connected
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_trusted_origin_is_accepted(cast: Cast, settings: Any) -> None:
    settings.CSRF_TRUSTED_ORIGINS = ["https://help.example.com"]

    async def scenario() -> None:
        connected, socket = await open_socket(
            cast.agent_a, origin=(b"origin", b"https://help.example.com"), host=b"10.0.0.5:8000"
        )
        assert connected
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_another_origin_is_refused(cast: Cast) -> None:
    async def scenario() -> None:
        connected, socket = await open_socket(cast.agent_a, origin=(b"origin", b"http://evil.test"))
        assert not connected
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_stale_session_cookie_is_refused(cast: Cast) -> None:
    async def scenario() -> None:
        key = await sync_to_async(session_key)(cast.agent_a)
        await sync_to_async(Session.objects.filter(pk=key).delete)()
        connected, socket = await open_socket(key=key)
        assert not connected
        await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_an_inactive_agent_is_refused(cast: Cast) -> None:
    async def scenario() -> None:
        key = await sync_to_async(session_key)(cast.agent_a)
        await sync_to_async(User.objects.filter(pk=cast.agent_a.pk).update)(is_active=False)
        connected, socket = await open_socket(key=key)
        assert not connected
        await socket.disconnect()

    run(scenario)


# --- pushes go only where the access rule lets them ------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_reply_reaches_team_a_and_the_admin_but_not_team_b(cast: Cast) -> None:
    conversation = cast.conversation_a()

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        _, b = await open_socket(cast.agent_b)
        _, admin = await open_socket(cast.admin)
        try:
            await sync_to_async(services.reply)(
                conversation=conversation, author=cast.lead_a, text="On its way."
            )
            for socket in (a, admin):
                frame = await push(socket)
                assert set(frame) == PUSH_KEYS  # ids and types only, never content
                assert frame["type"] == "conversation.changed"
                assert frame["conversation_id"] == conversation.pk
                assert frame["event_type"] == "reply_sent"
                assert frame["actor_id"] == cast.lead_a.pk
            assert await b.receive_nothing(timeout=0.3)
        finally:
            for socket in (a, b, admin):
                await socket.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_team_b_hears_about_team_b_and_team_a_does_not(cast: Cast) -> None:
    conversation = cast.conversation_b()

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        _, b = await open_socket(cast.agent_b)
        try:
            await sync_to_async(services.note)(
                conversation=conversation, author=cast.agent_b, text="Checking stock."
            )
            frame = await push(b)
            assert (frame["conversation_id"], frame["event_type"]) == (
                conversation.pk,
                "note_added",
            )
            assert await a.receive_nothing(timeout=0.3)
        finally:
            await a.disconnect()
            await b.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_new_inbound_conversation_is_one_push(cast: Cast) -> None:
    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        try:
            conversation = await sync_to_async(cast.conversation_a)()
            frame = await push(a)
            # "created" and "message_received" in one transaction: one push, the first type.
            assert frame["conversation_id"] == conversation.pk
            assert frame["event_type"] == "created"
            assert frame["actor_id"] is None
            assert await a.receive_nothing(timeout=0.3)
        finally:
            await a.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_unrouted_conversations_reach_every_agent(cast: Cast) -> None:
    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        _, b = await open_socket(cast.agent_b)
        try:
            conversation = await sync_to_async(cast.conversation_a)(inbox=cast.email)
            assert conversation.team_id is None
            assert (await push(a))["conversation_id"] == conversation.pk
            assert (await push(b))["conversation_id"] == conversation.pk
        finally:
            await a.disconnect()
            await b.disconnect()

    run(scenario)


@pytest.mark.django_db
def test_may_see_agrees_with_visible_filter(cast: Cast) -> None:
    outsider = UserFactory(email="nobody@heedful.test")  # in no team
    in_a = cast.conversation_a()
    in_b = cast.conversation_b()
    unrouted = cast.conversation_a(inbox=cast.email, address="three@customer.test")
    mine_in_b = cast.conversation_b(address="four@customer.test")
    Conversation.objects.filter(pk=mine_in_b.pk).update(assignee=cast.agent_a)
    mine_unrouted = cast.conversation_a(inbox=cast.email, address="five@customer.test")
    Conversation.objects.filter(pk=mine_unrouted.pk).update(assignee=outsider)
    conversations = list(
        Conversation.objects.filter(
            pk__in=[c.pk for c in (in_a, in_b, unrouted, mine_in_b, mine_unrouted)]
        )
    )
    for user in (cast.admin, cast.lead_a, cast.agent_a, cast.agent_b, outsider):
        agent = Agent(
            user_id=user.pk,
            name=user.display_name,
            is_admin=user.is_admin,
            team_ids=frozenset(user.teams.values_list("id", flat=True)),
        )
        visible = set(
            Conversation.objects.filter(visible_filter(user)).values_list("pk", flat=True)
        )
        for c in conversations:
            assert may_see(agent, c.team_id, c.assignee_id) == (c.pk in visible), (user, c)
    # The cast really covers both answers.
    assert not may_see(
        Agent(cast.agent_b.pk, "b", False, frozenset([cast.team_b.pk])), in_a.team_id, None
    )


# --- losing access stops the stream ------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_deactivated_agent_is_cut_off_at_the_next_push(cast: Cast, settings: Any) -> None:
    settings.HEEDFUL_LIVE_RECHECK_SECONDS = 0
    conversation = cast.conversation_a()

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        try:
            await sync_to_async(User.objects.filter(pk=cast.agent_a.pk).update)(is_active=False)
            await sync_to_async(services.note)(
                conversation=conversation, author=cast.lead_a, text="Secret plan."
            )
            assert await closed_with(a) == 4403
        finally:
            await a.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_leaving_team_a_stops_team_a_pushes(cast: Cast, settings: Any) -> None:
    settings.HEEDFUL_LIVE_RECHECK_SECONDS = 0
    conversation = cast.conversation_a()

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        try:
            await sync_to_async(TeamMembership.objects.filter(user=cast.agent_a).delete)()
            await sync_to_async(services.note)(
                conversation=conversation, author=cast.lead_a, text="Moving on."
            )
            assert await a.receive_nothing(timeout=0.3)
            await a.send_json_to({"action": "ping"})
            assert await push(a) == {"type": "pong"}  # still signed in, just not in team A
        finally:
            await a.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_signing_out_closes_the_socket(cast: Cast, settings: Any) -> None:
    settings.HEEDFUL_LIVE_RECHECK_SECONDS = 0

    async def scenario() -> None:
        key = await sync_to_async(session_key)(cast.agent_a)
        _, a = await open_socket(key=key)
        try:
            await sync_to_async(Session.objects.filter(pk=key).delete)()
            await a.send_json_to({"action": "ping"})
            assert await closed_with(a) == 4403
        finally:
            await a.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_a_password_change_closes_the_socket(cast: Cast, settings: Any) -> None:
    settings.HEEDFUL_LIVE_RECHECK_SECONDS = 0

    def change_password() -> None:
        user = User.objects.get(pk=cast.agent_a.pk)
        user.set_password("another long passphrase")
        user.save()

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        try:
            await sync_to_async(change_password)()
            await a.send_json_to({"action": "ping"})
            assert await closed_with(a) == 4403
        finally:
            await a.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_the_recheck_waits_for_its_interval(cast: Cast, settings: Any) -> None:
    settings.HEEDFUL_LIVE_RECHECK_SECONDS = 3600

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        try:
            await sync_to_async(User.objects.filter(pk=cast.agent_a.pk).update)(is_active=False)
            await a.send_json_to({"action": "ping"})
            assert await push(a) == {"type": "pong"}  # no query per frame
        finally:
            await a.disconnect()

    run(scenario)


# --- presence --------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_agents_on_one_conversation_see_each_other(cast: Cast) -> None:
    conversation = cast.conversation_a()
    n = conversation.pk

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        _, lead = await open_socket(cast.lead_a)
        try:
            await a.send_json_to({"action": "viewing", "conversation_id": n})
            assert await a.receive_nothing(timeout=0.2)  # nobody else there yet
            await lead.send_json_to({"action": "viewing", "conversation_id": n})
            seen_by_a = await push(a)
            assert seen_by_a == {
                "type": "presence",
                "conversation_id": n,
                "user_id": cast.lead_a.pk,
                "name": cast.lead_a.display_name,
                "state": "viewing",
                "composer": "",
            }
            # The newcomer learns at once who was already there.
            seen_by_lead = await push(lead)
            assert (seen_by_lead["user_id"], seen_by_lead["state"]) == (cast.agent_a.pk, "viewing")

            await a.send_json_to({"action": "typing", "conversation_id": n, "composer": "reply"})
            replying = await push(lead)
            assert (replying["state"], replying["composer"]) == ("replying", "reply")

            await a.send_json_to({"action": "left"})
            assert (await push(lead))["state"] == "left"
        finally:
            await a.disconnect()
            await lead.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_presence_does_not_leak_across_teams(cast: Cast) -> None:
    in_a = cast.conversation_a()
    in_b = cast.conversation_b()

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        _, b = await open_socket(cast.agent_b)
        try:
            # agent_b cannot join team A's conversation ...
            await b.send_json_to({"action": "viewing", "conversation_id": in_a.pk})
            assert (await push(b))["type"] == "error"
            await a.send_json_to({"action": "viewing", "conversation_id": in_a.pk})
            await a.send_json_to({"action": "typing", "conversation_id": in_a.pk})
            assert await b.receive_nothing(timeout=0.3)
            assert await a.receive_nothing(timeout=0.1)
            # ... and agent_a cannot see who looks at team B's.
            await b.send_json_to({"action": "viewing", "conversation_id": in_b.pk})
            await a.send_json_to({"action": "viewing", "conversation_id": in_b.pk})
            assert (await push(a))["type"] == "error"
            assert await a.receive_nothing(timeout=0.3)
            assert await b.receive_nothing(timeout=0.1)
            # A conversation that does not exist answers the same as a hidden one.
            await a.send_json_to({"action": "viewing", "conversation_id": 10**9})
            assert (await push(a))["error"] == "No such conversation."
        finally:
            await a.disconnect()
            await b.disconnect()

    run(scenario)


@pytest.mark.django_db(transaction=True)
def test_bad_frames_get_an_error_and_the_socket_lives_on(cast: Cast) -> None:
    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        try:
            bad: list[dict[str, Any]] = [
                {"text_data": "not json"},
                {"text_data": "[1, 2]"},
                {"text_data": ""},
                {"bytes_data": b"\x00\x01"},
                {"text_data": '{"action": "dance"}'},
                {"text_data": '{"action": "viewing", "conversation_id": "1"}'},
                {"text_data": '{"action": "viewing", "conversation_id": true}'},
                {"text_data": '{"action": "viewing", "conversation_id": -4}'},
                {"text_data": '{"action": "typing", "conversation_id": 1, "composer": "x"}'},
            ]
            for frame in bad:
                await a.send_to(**frame)
                assert (await push(a))["type"] == "error", frame
            await a.send_json_to({"action": "ping"})
            assert await push(a) == {"type": "pong"}
        finally:
            await a.disconnect()

    run(scenario)


# --- the publisher never hurts the service -----------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_service_succeeds_when_the_channel_layer_fails(
    cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = cast.conversation_a()

    def broken(*args: object, **kwargs: object) -> None:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(live, "get_channel_layer", broken)
    message = services.note(conversation=conversation, author=cast.lead_a, text="Still saved.")
    assert Message.objects.filter(pk=message.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_a_failing_group_send_is_logged_not_raised(cast: Cast) -> None:
    conversation = cast.conversation_a()
    layer = get_channel_layer()

    async def failing(group: str, message: dict[str, Any]) -> None:
        raise ConnectionError("redis is down")

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)  # so the in-memory layer has a loop
        original = layer.group_send
        layer.group_send = failing
        try:
            await sync_to_async(services.note)(
                conversation=conversation, author=cast.lead_a, text="Still saved."
            )
            assert await a.receive_nothing(timeout=0.2)
        finally:
            layer.group_send = original
            await a.disconnect()

    run(scenario)
    assert conversation.messages.filter(is_note=True).count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_crashing_publisher_does_not_surface_in_the_service(
    cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    conversation = cast.conversation_a()

    def broken(**kwargs: object) -> None:
        raise RuntimeError("bug in the publisher")

    monkeypatch.setattr(live, "publish_conversation_event", broken)
    message = services.note(conversation=conversation, author=cast.lead_a, text="Still saved.")
    assert Message.objects.filter(pk=message.pk).exists()


# --- what record_event publishes ----------------------------------------------------


@pytest.fixture
def published(monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr(live, "publish_conversation_event", lambda **kw: calls.append(kw))
    return calls


@pytest.mark.django_db(transaction=True)
def test_one_transaction_is_one_push_per_conversation_with_current_values(
    cast: Cast, published: list[dict[str, Any]]
) -> None:
    conversation = cast.conversation_a()
    services.set_status(conversation=conversation, status=Status.SOLVED, actor=cast.lead_a)
    published.clear()
    with transaction.atomic():
        # Reopening writes two events; assigning changes who it belongs to.
        services.set_status(conversation=conversation, status=Status.OPEN, actor=cast.lead_a)
        services.assign(conversation=conversation, agent=cast.agent_a, actor=cast.lead_a)
    assert len(published) == 1
    push = published[0]
    assert push["conversation_id"] == conversation.pk
    assert push["event_type"] == "status_changed"
    assert push["team_id"] == cast.team_a.pk
    assert push["assignee_id"] == cast.agent_a.pk  # the value after the change
    assert push["actor_id"] == cast.lead_a.pk


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_pushes_nothing(cast: Cast, published: list[dict[str, Any]]) -> None:
    conversation = cast.conversation_a()
    published.clear()
    with pytest.raises(RuntimeError), transaction.atomic():
        services.note(conversation=conversation, author=cast.lead_a, text="Draft")
        raise RuntimeError("changed my mind")
    assert published == []


@pytest.mark.django_db(transaction=True)
def test_the_agent_who_lost_a_conversation_hears_about_it(
    cast: Cast, published: list[dict[str, Any]]
) -> None:
    conversation = cast.conversation_a()
    conversation = services.assign(
        conversation=conversation, agent=cast.agent_a, actor=cast.agent_a
    )
    services.assign(conversation=conversation, agent=cast.lead_a, actor=cast.lead_a)
    push = published[-1]
    assert (push["assignee_id"], push["previous_assignee_id"]) == (cast.lead_a.pk, cast.agent_a.pk)
    agent_elsewhere = Agent(cast.agent_a.pk, "a", False, frozenset())
    assert not may_see(agent_elsewhere, push["team_id"], push["assignee_id"])


@pytest.mark.django_db(transaction=True)
def test_an_agent_outside_the_team_hears_once_that_their_conversation_went(cast: Cast) -> None:
    conversation = cast.conversation_b()
    Conversation.objects.filter(pk=conversation.pk).update(assignee=cast.agent_a)
    conversation.refresh_from_db()

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        try:
            await sync_to_async(services.assign)(
                conversation=conversation, agent=cast.agent_b, actor=cast.admin
            )
            frame = await push(a)  # so agent_a's "mine" list drops it
            assert (frame["conversation_id"], frame["event_type"]) == (conversation.pk, "assigned")
            await sync_to_async(services.note)(
                conversation=conversation, author=cast.agent_b, text="Mine now."
            )
            assert await a.receive_nothing(timeout=0.3)  # and nothing after that
        finally:
            await a.disconnect()

    run(scenario)


# --- changes made by another process reach the sockets through the outbox ---------

in_memory_only = pytest.mark.skipif(
    "InMemory" not in settings.CHANNEL_LAYERS["default"]["BACKEND"],
    reason="with Redis every process publishes to every socket itself",
)


def test_only_the_process_serving_sockets_consumes_for_them() -> None:
    from heedful.core import outbox

    # A worker process (no sockets) must not move the cursor past events nobody saw.
    assert "live" not in outbox.consumers()


@in_memory_only
@pytest.mark.django_db(transaction=True)
def test_a_change_from_another_process_is_pushed_by_the_outbox(
    cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heedful.core import outbox

    # This process serves the sockets and runs the outbox, as `heedful run` does.
    monkeypatch.setattr(outbox, "_CONSUMERS", dict(outbox._CONSUMERS))
    live.serve_catch_up()
    conversation = cast.conversation_a()
    # Another process has no sockets: its own push reaches nobody here.
    monkeypatch.setattr(events, "_push_after_commit", lambda conversation, event: None)

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        _, b = await open_socket(cast.agent_b)
        try:
            # The doorbell runs the outbox inline in tests, as the embedded worker would.
            await sync_to_async(services.note)(
                conversation=conversation, author=cast.lead_a, text="From a script."
            )
            frame = await push(a)
            assert (frame["conversation_id"], frame["event_type"]) == (
                conversation.pk,
                "note_added",
            )
            assert await a.receive_nothing(timeout=0.3)  # once, not twice
            assert await b.receive_nothing(timeout=0.1)  # and the rule still holds
        finally:
            await a.disconnect()
            await b.disconnect()

    run(scenario)


@in_memory_only
@pytest.mark.django_db(transaction=True)
def test_the_outbox_catch_up_skips_old_events(cast: Cast) -> None:
    conversation = cast.conversation_a()
    old = timezone.now() - timedelta(minutes=5)
    ConversationEvent.objects.filter(conversation=conversation).update(created_at=old)
    history = list(ConversationEvent.objects.filter(conversation=conversation))
    with live._pushed_lock:
        live._pushed.difference_update(e.pk for e in history)

    def catch_up() -> None:
        with transaction.atomic():
            live.catch_up(history)

    async def scenario() -> None:
        _, a = await open_socket(cast.agent_a)
        try:
            await sync_to_async(catch_up)()
            assert await a.receive_nothing(timeout=0.3)
        finally:
            await a.disconnect()

    run(scenario)
