"""ASGI entry point: HTTP through Django, WebSockets through Channels."""

import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")

# Django must be set up before anything imports models.
django_asgi_app = get_asgi_application()

from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from django.conf import settings  # noqa: E402

from heedful.core.bodylimit import BodyLimit  # noqa: E402
from heedful.core.origin import SameOriginWebSocket  # noqa: E402
from heedful.routing import websocket_urlpatterns  # noqa: E402

application = ProtocolTypeRouter(
    {
        "http": BodyLimit(django_asgi_app, limit=lambda: settings.HEEDFUL_MAX_REQUEST_BYTES),
        "websocket": SameOriginWebSocket(URLRouter(websocket_urlpatterns)),
    }
)
