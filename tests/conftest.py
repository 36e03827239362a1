"""The standing cast: an admin, a lead and an agent in team A, an agent in team B,
customer one and customer two, and the inboxes they write to."""

import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.utils import timezone as django_timezone

from heedful.accounts.models import Role, Team, User
from heedful.conversations.inbound import InboundMessage, Sender
from heedful.conversations.models import Conversation
from heedful.conversations.services import receive
from heedful.customers.models import Customer
from heedful.inboxes.models import Inbox
from tests.factories import TeamFactory, UserFactory

# `server` (uvicorn on the test database) and `browser` (chromium) for the browser tests.
pytest_plugins = ["tests.browser_support"]


@dataclass
class Cast:
    admin: User
    lead_a: User
    agent_a: User
    agent_b: User
    team_a: Team
    team_b: Team
    inbox_a: Inbox
    inbox_b: Inbox
    webform: Inbox
    email: Inbox

    def inbound(
        self, *, inbox: Inbox | None = None, address: str = "one@customer.test", **kw: object
    ) -> InboundMessage:
        sender = kw.pop("sender", None) or Sender(
            kind="email", address=address, name=str(kw.pop("name", ""))
        )
        kw.setdefault("text", "My order has not arrived.")
        kw.setdefault("subject", "Where is my order?")
        return InboundMessage(inbox=inbox or self.inbox_a, sender=sender, **kw)  # type: ignore[arg-type]

    def conversation_a(self, **kw: object) -> Conversation:
        """A conversation from customer one in team A's inbox."""
        return receive(self.inbound(**kw)).conversation

    def conversation_b(self, **kw: object) -> Conversation:
        """A conversation from customer two in team B's inbox."""
        kw.setdefault("address", "two@customer.test")
        return receive(self.inbound(inbox=self.inbox_b, **kw)).conversation

    def customer(self, address: str) -> Customer:
        return Customer.objects.get(identities__kind="email", identities__address=address)


def webform_inbox() -> Inbox:
    """The inbox the first migration creates; transactional tests flush it, so re-create."""
    inbox, _ = Inbox.objects.get_or_create(kind="webform", defaults={"name": "Web form"})
    return inbox


@pytest.fixture
def webform(db: None) -> Inbox:
    return webform_inbox()


@pytest.fixture(autouse=True)
def _clear_cache() -> None:
    cache.clear()


@pytest.fixture
def cast(db: None) -> Cast:
    team_a, team_b = TeamFactory(name="Team A"), TeamFactory(name="Team B")
    return Cast(
        admin=UserFactory(email="admin@heedful.test", role=Role.ADMIN),
        lead_a=UserFactory(email="lead.a@heedful.test", role=Role.LEAD, teams=[team_a]),
        agent_a=UserFactory(email="agent.a@heedful.test", teams=[team_a]),
        agent_b=UserFactory(email="agent.b@heedful.test", teams=[team_b]),
        team_a=team_a,
        team_b=team_b,
        inbox_a=Inbox.objects.create(
            kind="email", name="Support A", address="a@support.test", team=team_a
        ),
        inbox_b=Inbox.objects.create(
            kind="email", name="Support B", address="b@support.test", team=team_b
        ),
        webform=webform_inbox(),
        email=Inbox.objects.create(kind="email", name="Shared", address="help@support.test"),
    )


class Clock:
    """A hand-moved clock: `timezone.now()` returns `now` until the test advances it."""

    def __init__(self, now: datetime) -> None:
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> datetime:
        self.now += timedelta(**delta)
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    """Freeze `django.utils.timezone.now` (services, auto_now fields) at a Monday 09:00 UTC."""
    frozen = Clock(datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    monkeypatch.setattr(django_timezone, "now", frozen)
    return frozen


@pytest.fixture(autouse=True)
def media_root(settings: Any, tmp_path: Path) -> Path:
    """Attachments written by any test land in its own folder, never under var/."""
    settings.MEDIA_ROOT = tmp_path / "media"
    return settings.MEDIA_ROOT


@pytest.fixture
def run_at_once() -> Callable[..., list[object]]:
    """Run callables in threads released together by a barrier (for race tests with
    `django_db(transaction=True)`); returns each one's result or the exception it raised."""

    def run(*calls: Callable[[], object]) -> list[object]:
        barrier = threading.Barrier(len(calls))
        outcomes: list[object] = [None] * len(calls)

        def worker(index: int, call: Callable[[], object]) -> None:
            try:
                barrier.wait(timeout=10)
                outcomes[index] = call()
            except Exception as exc:
                outcomes[index] = exc
            finally:
                connection.close()  # each thread opened its own connection

        threads = [threading.Thread(target=worker, args=item) for item in enumerate(calls)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        return outcomes

    return run


@pytest.fixture
def migrated_rows(db: None) -> None:
    """Put back the rows data migrations create (the web form inbox), which an earlier
    `transaction=True` test's flush may have removed. List it before `cast`."""
    webform_inbox()
