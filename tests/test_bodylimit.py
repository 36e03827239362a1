"""Request bodies over the limit are refused before Django reads them."""

import asyncio
import json

from heedful.core.bodylimit import BodyLimit


class App:
    """Stands in for Django: reads the whole body, then answers 200."""

    def __init__(self) -> None:
        self.read = b""
        self.called = False

    async def __call__(self, scope, receive, send):  # type: ignore[no-untyped-def]
        self.called = True
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                return
            self.read += message.get("body", b"")
            if not message.get("more_body"):
                break
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"ok"})


def run(headers: list[tuple[bytes, bytes]], chunks: list[bytes], limit: int = 10):
    app = App()
    sent: list[dict] = []
    pending = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive():  # type: ignore[no-untyped-def]
        return pending.pop(0) if pending else {"type": "http.disconnect"}

    async def send(message):  # type: ignore[no-untyped-def]
        sent.append(message)

    scope = {"type": "http", "method": "POST", "headers": headers}
    asyncio.run(BodyLimit(app, limit=lambda: limit)(scope, receive, send))
    return app, sent


def test_a_body_within_the_limit_passes_through() -> None:
    app, sent = run([(b"content-length", b"5")], [b"hello"])
    assert app.read == b"hello"
    assert sent[0]["status"] == 200


def test_a_declared_length_over_the_limit_is_413_before_the_app_runs() -> None:
    app, sent = run([(b"content-length", b"11")], [b"x" * 11])
    assert not app.called
    assert sent[0]["status"] == 413
    assert "larger than this server accepts" in json.loads(sent[1]["body"])["error"]


def test_a_chunked_body_is_cut_off_when_it_passes_the_limit() -> None:
    app, sent = run([], [b"x" * 6, b"x" * 6, b"x" * 6])
    assert len(app.read) <= 10
    assert [m["status"] for m in sent if m["type"] == "http.response.start"] == [413]


def test_a_nonsense_content_length_is_400() -> None:
    app, sent = run([(b"content-length", b"lots")], [b"x"])
    assert not app.called
    assert sent[0]["status"] == 400


def test_websockets_and_lifespan_are_left_alone() -> None:
    called = []

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        called.append(scope["type"])

    async def nothing():  # type: ignore[no-untyped-def]
        return {}

    async def sink(message):  # type: ignore[no-untyped-def]
        return None

    asyncio.run(BodyLimit(app, limit=lambda: 1)({"type": "websocket"}, nothing, sink))
    assert called == ["websocket"]
