"""`Server-Timing: app;dur=<ms>` on every response: the time Django spent on it.

First in MIDDLEWARE, so it covers the other middleware, the view and the
template rendering (a streamed body is not included: it is sent afterwards).
The benchmark (bench/workspace.py) reads it to separate server time from the
client's; browsers show it in their network panel. It costs two clock reads.
"""

import time
from collections.abc import Callable
from typing import Any

from asgiref.sync import iscoroutinefunction, markcoroutinefunction
from django.http import HttpRequest, HttpResponseBase

HEADER = "Server-Timing"


def _stamp(response: HttpResponseBase, started: float) -> HttpResponseBase:
    elapsed_ms = (time.perf_counter() - started) * 1000
    existing = response.get(HEADER)
    value = f"app;dur={elapsed_ms:.2f}"
    response[HEADER] = f"{existing}, {value}" if existing else value
    return response


class ServerTimingMiddleware:
    sync_capable = True
    async_capable = True

    def __init__(self, get_response: Callable[[HttpRequest], Any]) -> None:
        self.get_response = get_response
        self.is_async = iscoroutinefunction(get_response)
        if self.is_async:
            markcoroutinefunction(self)

    def __call__(self, request: HttpRequest) -> Any:
        if self.is_async:
            return self._acall(request)
        started = time.perf_counter()
        return _stamp(self.get_response(request), started)

    async def _acall(self, request: HttpRequest) -> HttpResponseBase:
        started = time.perf_counter()
        response = await self.get_response(request)
        return _stamp(response, started)
