"""Refuse request bodies over a limit before Django spools them to disk.

Django's ASGI handler reads the whole body into a temporary file before any
middleware or view runs, so a size check in a view comes too late. This wraps
the ASGI application: a declared Content-Length over the limit is answered 413
at once; a body without one (chunked) is counted as it arrives and cut off.
"""

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[..., Awaitable[None]]


class BodyLimit:
    def __init__(self, app: ASGIApp, limit: Callable[[], int]) -> None:
        self.app = app
        self.limit = limit

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        limit = self.limit()
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None:
            try:
                too_large = int(declared) > limit
            except ValueError:
                await _refuse(send, 400, "The Content-Length header is not a number.")
                return
            if too_large:
                await _refuse(send, 413, _too_large_text(limit))
                return
        await self.app(scope, *self._counting(receive, send, limit))

    def _counting(self, receive: Receive, send: Send, limit: int) -> tuple[Receive, Send]:
        state = {"received": 0, "refused": False}

        async def counted_receive() -> Message:
            message = await receive()
            if message["type"] == "http.request" and not state["refused"]:
                state["received"] += len(message.get("body", b""))
                if state["received"] > limit:
                    state["refused"] = True
                    await _refuse(send, 413, _too_large_text(limit))
                    # Django stops reading and answers nothing more.
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message: Message) -> None:
            if not state["refused"]:
                await send(message)

        return counted_receive, guarded_send


def _too_large_text(limit: int) -> str:
    return f"The request is larger than this server accepts ({limit // 1048576} MB)."


async def _refuse(send: Send, status: int, text: str) -> None:
    body = json.dumps({"error": text}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
