"""Server-Timing: every response says how long the server spent on it."""

import re

import pytest
from asgiref.sync import async_to_sync
from django.test import AsyncClient, Client

SERVER_TIMING = re.compile(r"^app;dur=(\d+\.\d+)$")


def _duration(value: str | None) -> float:
    assert value is not None
    match = SERVER_TIMING.match(value)
    assert match, value
    return float(match.group(1))


@pytest.mark.django_db
def test_every_response_carries_its_server_time(client: Client) -> None:
    for url in ("/healthz", "/app/conversations/", "/no-such-page/"):
        response = client.get(url)
        assert _duration(response.headers.get("Server-Timing")) >= 0


@pytest.mark.django_db(transaction=True)
def test_server_time_under_asgi() -> None:
    """Through Django's async handler, as uvicorn serves it: the async path."""
    response = async_to_sync(AsyncClient().get)("/healthz")
    assert _duration(response.headers.get("Server-Timing")) >= 0
