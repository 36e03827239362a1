"""Deflection outcomes settled once per session (deflection.settle) and read by the
reports: the order in which things are recorded does not change the answer, settling
is idempotent, old data is backfilled, and the job runs on a schedule."""

import importlib
from datetime import timedelta
from typing import Any

import pytest
from django.apps import apps
from huey.contrib.djhuey import HUEY

from heedful.knowledge import deflection, tasks
from heedful.knowledge.models import HelpEventKind, HelpSession
from tests.conftest import Clock
from tests.factories import ConversationFactory, CustomerFactory
from tests.test_deflection import END, NOW, START, article, at, counts, event, session, viewed

pytestmark = pytest.mark.django_db


def figures() -> tuple[tuple[int, int, int, int], tuple[int, int, int, int]]:
    result = deflection.overview(START, END, now=NOW)
    return counts(result.day), counts(result.week)


def test_a_session_linked_to_its_customer_after_their_conversation_is_not_deflected(
    clock: Clock,
) -> None:
    clock.now = at(2, 10)
    customer = CustomerFactory()
    visit = viewed("v-link", at(2, 10), article())
    deflection.settle()
    ConversationFactory(customer=customer, created_at=at(2, 12))
    clock.now = at(2, 12.5)
    deflection.settle()
    # The visitor signs in only now: the conversation two hours after engaging counts.
    HelpSession.objects.filter(pk=visit.pk).update(customer=customer)
    clock.now = at(2, 13)
    assert figures() == ((1, 1, 0, 0), (1, 1, 0, 0))
    visit.refresh_from_db()
    assert visit.followed_at == at(2, 12) and visit.settled_at is None


def test_a_contact_from_another_session_of_the_same_visitor_settles_the_first(
    clock: Clock,
) -> None:
    clock.now = at(3, 10)
    first = viewed("v-other", at(3, 10), article())
    deflection.settle()
    first.refresh_from_db()
    assert first.followed_at is None
    clock.now = at(3, 13)
    event(session("v-other", at(3, 13)), HelpEventKind.CONTACT, at(3, 13))
    assert figures() == ((1, 1, 0, 0), (1, 1, 0, 0))
    first.refresh_from_db()
    assert first.followed_at == at(3, 13)


def test_a_conversation_30_hours_later_settles_deflected_at_24_h_not_at_7_d(clock: Clock) -> None:
    clock.now = at(1, 10)
    customer = CustomerFactory()
    viewed("v-30h", at(1), article(), customer=customer)
    deflection.settle()
    clock.now = at(1, 40)
    ConversationFactory(customer=customer, created_at=at(1, 40))
    assert figures() == ((1, 1, 1, 0), (1, 1, 0, 0))


def test_settling_twice_changes_nothing_and_closed_windows_become_final(clock: Clock) -> None:
    customer = CustomerFactory()
    clock.now = at(2, 10)
    read = article()
    followed = viewed("v-a", at(2), read, customer=customer)
    quiet = viewed("v-b", at(2), read)
    ConversationFactory(customer=customer, created_at=at(2, 11))
    clock.now = at(2, 12)
    assert deflection.settle() == 1
    assert deflection.settle() == 0
    before = list(HelpSession.objects.order_by("pk").values_list("followed_at", "settled_at"))
    assert before == [(at(2, 11), None), (None, None)]
    # 7 days plus the margin later the answers are final and no longer looked at.
    clock.now = at(2, 10) + deflection.WEEK + deflection.SETTLE_MARGIN + timedelta(minutes=1)
    assert deflection.settle() == 0
    for visit in (followed, quiet):
        visit.refresh_from_db()
        assert visit.settled_at == clock.now
    assert not HelpSession.objects.filter(settled_at__isnull=True).exists()
    assert deflection.settle() == 0
    assert figures() == ((2, 2, 1, 0), (2, 2, 1, 0))


def test_the_migration_backfills_sessions_written_before_it_in_monthly_batches(
    clock: Clock,
) -> None:
    clock.now = at(10, 12)
    customer = CustomerFactory()
    read = article()
    # Three months of history, as old data or the demo's bulk load leaves it: unsettled.
    old = viewed("v-old", at(2) - timedelta(days=70), read, customer=customer)
    ConversationFactory(customer=customer, created_at=old.engaged_at + timedelta(hours=2))
    recent = viewed("v-new", at(3), read)
    event(session("v-new", at(5)), HelpEventKind.CONTACT, at(5))
    quiet = viewed("v-quiet", at(4), read)
    migration = importlib.import_module("heedful.knowledge.migrations.0003_settled_deflection")
    migration.backfill(apps, None)
    found = {s.pk: s for s in HelpSession.objects.all()}
    assert found[old.pk].followed_at == old.engaged_at + timedelta(hours=2)
    assert found[old.pk].settled_at == clock.now
    assert found[recent.pk].followed_at == at(5) and found[recent.pk].settled_at is None
    assert found[quiet.pk].followed_at is None and found[quiet.pk].settled_at is None
    # In the range: `recent` was followed 48 h later, `quiet` never; quiet's 7 d is open.
    assert figures() == ((2, 2, 2, 0), (2, 1, 0, 1))


def test_settling_is_a_periodic_job_every_five_minutes() -> None:
    periodic = {HUEY._registry.task_to_string(t): t for t in HUEY._registry._periodic_tasks}
    job: Any = periodic["heedful.knowledge.tasks.settle_deflection"]
    assert job().validate_datetime(NOW.replace(minute=5, tzinfo=None))
    assert not job().validate_datetime(NOW.replace(minute=7, tzinfo=None))
    viewed("v-job", at(2), article())
    assert tasks.settle_deflection.call_local() == 0
