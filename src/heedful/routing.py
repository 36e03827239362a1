"""WebSocket routes. The agent workspace adds its live-update consumers here."""

from typing import Any

websocket_urlpatterns: list[Any] = []
