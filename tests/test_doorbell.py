"""core.doorbell: a burst of commits queues one outbox task, never none."""

import time
from typing import Any

import pytest

from heedful.core import doorbell, outbox, tasks


class FakeHuey:
    """The part of Huey the doorbell uses, as a queue with a consumer that is behind."""

    immediate = False

    def __init__(self) -> None:
        self.data: dict[str, Any] = {}

    def get(self, key: str, peek: bool = False) -> Any:
        return self.data.get(key) if peek else self.data.pop(key, None)

    def put(self, key: str, value: Any) -> None:
        self.data[key] = value

    def delete(self, key: str) -> None:
        self.data.pop(key, None)


@pytest.fixture
def queue(monkeypatch):
    huey = FakeHuey()
    enqueued: list[float] = []
    monkeypatch.setattr("huey.contrib.djhuey.HUEY", huey)
    monkeypatch.setattr(tasks, "process_outbox", lambda: enqueued.append(time.time()))
    return huey, enqueued


def test_rings_while_a_task_waits_queue_nothing_more(queue):
    _huey, enqueued = queue
    for _ in range(5):
        doorbell._enqueue()
    assert len(enqueued) == 1


def test_a_task_that_starts_lets_the_next_commit_ring(queue, db):
    _huey, enqueued = queue
    doorbell._enqueue()
    outbox.run_all()  # what the queued task runs; it wipes the mark before reading
    doorbell._enqueue()
    assert len(enqueued) == 2


def test_a_mark_left_by_a_lost_task_expires(queue):
    huey, enqueued = queue
    huey.put(doorbell.PENDING_KEY, time.time() - doorbell.STALE_SECONDS - 1)
    doorbell._enqueue()
    assert len(enqueued) == 1


def test_immediate_mode_rings_every_time(queue):
    huey, enqueued = queue
    huey.immediate = True
    doorbell._enqueue()
    doorbell._enqueue()
    assert len(enqueued) == 2
    assert huey.data == {}
