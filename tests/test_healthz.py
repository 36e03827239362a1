"""GET /healthz: the database answers and a worker beat recently."""

import threading
import time

import pytest
from django.core.cache import cache
from django.db import DatabaseError

from heedful.core import heartbeat, views

pytestmark = pytest.mark.django_db


def test_healthy_with_a_fresh_heartbeat(client):
    heartbeat.beat()
    response = client.get("/healthz")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    assert body["database"] == "ok"
    assert body["worker"] == "ok"
    assert body["worker_heartbeat_age_seconds"] < heartbeat.STALE_AFTER


def test_unhealthy_without_a_heartbeat(client):
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response["Content-Type"] == "application/json"
    assert response.json() == {"status": "unhealthy", "database": "ok", "worker": "no heartbeat"}


def test_unhealthy_with_a_stale_heartbeat(client):
    cache.set(heartbeat.KEY, time.time() - heartbeat.STALE_AFTER - 30)
    response = client.get("/healthz")
    assert response.status_code == 503
    assert response.json()["worker"].startswith("last heartbeat")


class _BrokenConnection:
    def cursor(self) -> None:
        raise DatabaseError("connection refused")


def test_unhealthy_when_the_database_fails(client, monkeypatch):
    heartbeat.beat()
    monkeypatch.setattr(views, "connection", _BrokenConnection())
    response = client.get("/healthz")
    assert response.status_code == 503
    body = response.json()
    assert body["status"] == "unhealthy"
    assert body["database"] == "error: DatabaseError"
    assert body["worker"] == "ok"


def test_heartbeat_thread_beats_until_stopped():
    stop = threading.Event()
    thread = heartbeat.start(stop)
    try:
        deadline = time.monotonic() + 5
        while heartbeat.last_beat_age() is None and time.monotonic() < deadline:
            time.sleep(0.01)
        assert heartbeat.last_beat_age() is not None
    finally:
        stop.set()
        thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_worker_checkpoints_the_sqlite_wal_off_the_request_path(transactional_db):
    import threading

    from django.db import connection

    from heedful.core import checkpoint

    stop = threading.Event()
    thread = checkpoint.start(stop)
    if connection.vendor != "sqlite":
        assert thread is None
        return
    assert thread is not None and thread.is_alive()
    stop.set()
    thread.join(timeout=5)
    assert not thread.is_alive()


def test_the_favicon_is_served_from_static(client):
    response = client.get("/favicon.ico")
    assert response.status_code == 301
    assert response["Location"].endswith("heedful/favicon.svg")
    assert client.get(response["Location"]).status_code == 200
