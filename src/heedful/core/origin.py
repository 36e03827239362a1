"""WebSockets only from pages of this site.

Channels' AllowedHostsOriginValidator compares host names only, so a page on any
port of an allowed host (localhost:9999 beside Heedful on localhost:8000) could
open the agent's socket with their cookie. This applies Django's CSRF rule
instead: the Origin must be the very origin the request was sent to (host and
port), or one of CSRF_TRUSTED_ORIGINS, and its host must be allowed.
"""

from typing import Any
from urllib.parse import urlsplit

from channels.security.websocket import WebsocketDenier
from django.conf import settings
from django.http.request import split_domain_port, validate_host


def _header(scope: dict[str, Any], name: bytes) -> str:
    for key, value in scope.get("headers", []):
        if key == name:
            return str(value.decode("latin1"))
    return ""


def origin_allowed(scope: dict[str, Any]) -> bool:
    origin = _header(scope, b"origin")
    if not origin or origin == "null":
        return False
    if origin in settings.CSRF_TRUSTED_ORIGINS:
        return True
    parts = urlsplit(origin)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        return False
    host = _header(scope, b"host")
    if getattr(settings, "USE_X_FORWARDED_HOST", False):
        host = _header(scope, b"x-forwarded-host").split(",")[0].strip() or host
    if parts.netloc.lower() != host.lower():
        return False
    domain, _port = split_domain_port(parts.netloc)
    return validate_host(domain, settings.ALLOWED_HOSTS)


class SameOriginWebSocket:
    def __init__(self, app: Any) -> None:
        self.app = app

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> Any:
        if scope["type"] == "websocket" and not origin_allowed(scope):
            return await WebsocketDenier()(scope, receive, send)
        return await self.app(scope, receive, send)
