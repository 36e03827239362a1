"""WebSocket routes. `asgi.py` checks the Origin of every socket before these."""

from typing import Any

from channels.auth import AuthMiddlewareStack
from django.urls import path

from heedful.workspace.consumers import AgentConsumer

websocket_urlpatterns: list[Any] = [
    # The session cookie decides who the agent is, as it does for the pages.
    path("ws/app/", AuthMiddlewareStack(AgentConsumer.as_asgi())),
]
