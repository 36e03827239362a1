"""core.outbox and its consumers: search indexing, metric facts, daily rollups."""

import contextlib
from collections import Counter as Tally
from datetime import UTC, date, datetime, timedelta

import pytest

from heedful.conversations.models import ConversationEvent, EventType, Status
from heedful.conversations.services import (
    assign,
    merge_conversations,
    note,
    receive,
    reply,
    set_status,
)
from heedful.core import doorbell, outbox
from heedful.core.models import ConsumerCursor
from heedful.insights.facts import rebuild_rollups
from heedful.insights.models import ConversationFact, DailyRollup
from heedful.search.backends import INDEXED_EVENTS, search_messages

pytestmark = pytest.mark.django_db


@pytest.fixture
def no_lag(settings):
    """Read events as soon as they are written (PostgreSQL reads 2 s behind by default)."""
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 0


@pytest.fixture
def recorder(monkeypatch):
    """A consumer that writes down every event id it is handed."""
    seen: list[int] = []

    def handle(events):
        seen.extend(e.pk for e in events)

    monkeypatch.setitem(
        outbox._CONSUMERS, "test.recorder", outbox.Consumer("test.recorder", handle, None)
    )
    return seen


@pytest.fixture
def handled(monkeypatch):
    """Wrap every real consumer to count which events each was handed."""
    tally: dict[str, Tally[int]] = {}
    for name, spec in outbox.consumers().items():
        tally[name] = Tally()

        def counting(events, _spec=spec, _tally=tally[name]):
            _tally.update(e.pk for e in events)
            return _spec.handle(events)

        monkeypatch.setitem(outbox._CONSUMERS, name, outbox.Consumer(name, counting, spec.types))
    return tally


def all_event_ids() -> list[int]:
    return list(ConversationEvent.objects.order_by("id").values_list("id", flat=True))


# --- the cursor ---------------------------------------------------------------------


def test_each_event_reaches_a_consumer_exactly_once(cast, no_lag, recorder):
    cast.conversation_a()
    outbox.run_all()
    cast.conversation_b()
    outbox.run_all()
    outbox.run_all()

    assert recorder == all_event_ids()
    assert ConsumerCursor.objects.get(name="test.recorder").position == all_event_ids()[-1]


def test_running_every_consumer_twice_handles_nothing_twice(cast, no_lag, handled):
    conversation = cast.conversation_a()
    reply(conversation=conversation, author=cast.agent_a, text="Hello")
    outbox.run_all()
    second = outbox.run_all()

    assert set(second.values()) == {0}
    for name, counts in handled.items():
        assert all(n == 1 for n in counts.values()), name
    assert set(handled["search.index"]) == set(
        ConversationEvent.objects.filter(type__in=INDEXED_EVENTS).values_list("id", flat=True)
    )


def test_a_consumer_is_handed_only_the_types_it_asked_for(cast, no_lag, monkeypatch):
    seen: list[str] = []
    monkeypatch.setitem(
        outbox._CONSUMERS,
        "test.typed",
        outbox.Consumer(
            "test.typed",
            lambda events: seen.extend(e.type for e in events),
            frozenset({"note_added"}),
        ),
    )
    conversation = cast.conversation_a()
    note(conversation=conversation, author=cast.agent_a, text="psst")
    outbox.run_all()

    assert seen == ["note_added"]
    assert ConsumerCursor.objects.get(name="test.typed").position == all_event_ids()[-1]


def test_batches_advance_the_cursor_step_by_step(cast, no_lag, recorder):
    for _ in range(3):
        cast.conversation_a()  # two events each
    ids = all_event_ids()

    assert outbox.run_consumer("test.recorder", batch_size=4) == 4
    assert ConsumerCursor.objects.get(name="test.recorder").position == ids[3]
    assert outbox.run_consumer("test.recorder", batch_size=4) == 2
    assert outbox.run_consumer("test.recorder", batch_size=4) == 0
    assert recorder == ids


def test_a_failing_batch_is_kept_for_the_next_run(cast, no_lag, monkeypatch):
    seen: list[int] = []
    failures = iter([RuntimeError("index unavailable")])

    def flaky(events):
        for failure in failures:
            raise failure
        seen.extend(e.pk for e in events)

    monkeypatch.setitem(outbox._CONSUMERS, "test.flaky", outbox.Consumer("test.flaky", flaky, None))
    cast.conversation_a()

    with pytest.raises(RuntimeError):
        outbox.run_consumer("test.flaky")
    assert not ConsumerCursor.objects.filter(name="test.flaky", position__gt=0).exists()
    outbox.run_consumer("test.flaky")
    assert seen == all_event_ids()


def test_a_failing_consumer_does_not_hold_up_the_others(cast, no_lag, monkeypatch, recorder):
    def broken(events):
        raise RuntimeError("poison event")

    monkeypatch.setitem(outbox._CONSUMERS, "a.broken", outbox.Consumer("a.broken", broken, None))
    cast.conversation_a()
    with contextlib.suppress(RuntimeError):
        outbox.run_all()
    assert recorder == all_event_ids()


def test_events_younger_than_the_lag_window_wait(cast, settings, clock, recorder):
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 2
    cast.conversation_a()

    assert outbox.run_consumer("test.recorder") == 0
    clock.advance(seconds=3)
    assert outbox.run_consumer("test.recorder") == 2
    assert recorder == all_event_ids()


def test_the_lag_window_never_skips_an_event(cast, settings, clock, recorder):
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 2
    conversation = cast.conversation_a()
    clock.advance(seconds=10)
    outbox.run_consumer("test.recorder")
    # Ids and timestamps can disagree: a later id stamped earlier (PostgreSQL
    # sequences are taken at insert, timestamps before; `record_event(at=...)`).
    young = ConversationEvent.objects.create(
        conversation=conversation,
        type=EventType.NOTE_ADDED,
        actor_type="system",
        created_at=clock.now,
    )
    older = ConversationEvent.objects.create(
        conversation=conversation,
        type=EventType.NOTE_ADDED,
        actor_type="system",
        created_at=clock.now - timedelta(seconds=5),
    )
    outbox.run_consumer("test.recorder")
    clock.advance(seconds=10)
    outbox.run_consumer("test.recorder")

    assert young.pk in recorder and older.pk in recorder


# --- the doorbell --------------------------------------------------------------------


def test_a_commit_rings_the_consumers_once(cast, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks() as callbacks:
        cast.conversation_a()  # two events in one transaction
    assert callbacks.count(doorbell._enqueue) == 1


def test_consumers_run_after_commit(cast, no_lag, django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks(execute=True):
        conversation = cast.conversation_a(text="The zephyr gizmo rattles")
    assert ConversationFact.objects.filter(conversation=conversation).exists()
    assert [m.conversation for m in search_messages("zephyr", user=cast.agent_a)] == [conversation]


# --- search ---------------------------------------------------------------------------


def test_search_finds_a_received_message(cast, no_lag):
    message = receive(cast.inbound(text="My Zephyr gizmo is broken")).message
    outbox.run_all()

    assert search_messages("zephyr", user=cast.agent_a) == [message]
    assert search_messages("GIZMO zephyr", user=cast.agent_a) == [message]
    assert search_messages("zephyr banana", user=cast.agent_a) == []


def test_search_respects_access(cast, no_lag):
    theirs = receive(cast.inbound(text="Secret zephyr plans")).message
    outbox.run_all()

    assert search_messages("zephyr", user=cast.agent_b) == []
    assert search_messages("zephyr", user=cast.agent_a) == [theirs]
    assert search_messages("zephyr", user=cast.admin) == [theirs]


def test_search_finds_replies_and_notes_too(cast, no_lag):
    conversation = cast.conversation_a()
    answer = reply(conversation=conversation, author=cast.agent_a, text="Replacement quokka sent")
    memo = note(conversation=conversation, author=cast.agent_a, text="Quokka out of stock")
    outbox.run_all()

    assert search_messages("quokka", user=cast.agent_a) == [memo, answer]
    assert search_messages("quokka", user=cast.agent_b) == []


def test_search_finds_a_visible_match_behind_many_hidden_ones(cast, no_lag):
    visible = receive(cast.inbound(text="quokka one")).message
    for n in range(5):
        receive(cast.inbound(inbox=cast.inbox_b, address="two@customer.test", text=f"quokka {n}"))
    outbox.run_all()

    assert search_messages("quokka", user=cast.agent_a, limit=1) == [visible]


def test_search_ignores_accents_on_every_database(cast, no_lag):
    message = receive(cast.inbound(text="Crème brûlée arrived cold")).message
    outbox.run_all()
    assert search_messages("creme brulee", user=cast.agent_a) == [message]


# --- facts and rollups ------------------------------------------------------------------


def rollups() -> dict[date, dict[str, float]]:
    """Each day's sums over all its rows (a day has one row per inbox, team and agent)."""
    fields = ["created", "solved", "replies", "reopened", "first_responses"]
    sums = ["first_response_seconds_sum", "resolution_seconds_sum"]
    days: dict[date, dict[str, float]] = {}
    for r in DailyRollup.objects.order_by("day", "inbox_id", "team_id", "agent_id"):
        day = days.setdefault(r.day, dict.fromkeys(fields, 0) | dict.fromkeys(sums, 0.0))
        for f in fields + sums:
            day[f] += getattr(r, f)
    return days


def test_facts_and_rollups_follow_a_conversations_life(cast, clock, no_lag):
    day1, day2 = clock.now.date(), clock.now.date() + timedelta(days=1)
    conversation = cast.conversation_a(external_id="<m1@customer.test>")
    assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    clock.advance(minutes=10)
    reply(conversation=conversation, author=cast.agent_a, text="Looking into it")
    note(conversation=conversation, author=cast.agent_a, text="internal")
    clock.advance(minutes=10)
    receive(cast.inbound(thread_hints=("<m1@customer.test>",), text="Thanks"))
    clock.advance(minutes=40)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()

    fact = ConversationFact.objects.get(conversation=conversation)
    assert (fact.first_response_seconds, fact.resolution_seconds) == (600, 3600)
    assert rollups()[day1]["solved"] == 1

    clock.now = clock.now.replace(day=4, hour=10, minute=0)  # the next day, the customer is back
    receive(cast.inbound(thread_hints=("<m1@customer.test>",), text="It broke again"))
    outbox.run_all()
    assert rollups()[day1]["solved"] == 0  # yesterday's solve was undone by the reopen

    clock.advance(minutes=5)
    reply(conversation=conversation, author=cast.agent_a, text="Sending a new one")
    clock.advance(minutes=55)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()

    fact = ConversationFact.objects.get(conversation=conversation)
    assert fact.channel == "email"
    assert fact.status == Status.SOLVED
    assert fact.first_response_seconds == 600
    assert fact.resolution_seconds == 26 * 3600
    assert fact.public_reply_count == 2
    assert fact.customer_message_count == 3
    assert fact.reopen_count == 1
    assert fact.solved_by == cast.agent_a
    assert rollups() == {
        day1: {
            "created": 1,
            "solved": 0,
            "replies": 2,
            "reopened": 1,
            "first_responses": 1,
            "first_response_seconds_sum": 600.0,
            "resolution_seconds_sum": 0.0,
        },
        day2: {
            "created": 0,
            "solved": 1,
            "replies": 0,
            "reopened": 0,
            "first_responses": 0,
            "first_response_seconds_sum": 0.0,
            "resolution_seconds_sum": 26 * 3600.0,
        },
    }


def test_incremental_rollups_match_a_full_rebuild(cast, clock, no_lag):
    for hours in (0, 5, 30, 50):
        clock.now = datetime(2025, 3, 3, 9, tzinfo=UTC) + timedelta(hours=hours)
        conversation = cast.conversation_a()
        clock.advance(minutes=30)
        reply(conversation=conversation, author=cast.agent_a, text="Done")
        clock.advance(hours=20)
        set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
        outbox.run_all()
    incremental = rollups()

    rebuild_rollups()

    assert rollups() == incremental
    assert sum(r["created"] for r in incremental.values()) == 4
    assert sum(r["solved"] for r in incremental.values()) == 4


def test_an_automatic_reply_is_no_first_response_in_the_facts(cast, clock, no_lag):
    conversation = cast.conversation_a()
    reply(conversation=conversation, author=cast.agent_a, text="We got it", is_automatic=True)
    outbox.run_all()

    fact = ConversationFact.objects.get(conversation=conversation)
    assert fact.first_response_seconds is None
    assert fact.public_reply_count == 0


def test_a_merged_away_conversation_leaves_the_facts(cast, no_lag):
    source, target = cast.conversation_a(), cast.conversation_a()
    outbox.run_all()
    assert ConversationFact.objects.count() == 2

    merge_conversations(source=source, target=target, actor=cast.agent_a)
    outbox.run_all()

    assert list(ConversationFact.objects.values_list("conversation_id", flat=True)) == [target.pk]
    assert ConversationFact.objects.get().customer_message_count == 2
    assert sum(r["created"] for r in rollups().values()) == 1


def test_facts_do_not_change_when_consumers_run_again(cast, clock, no_lag):
    conversation = cast.conversation_a()
    clock.advance(minutes=3)
    reply(conversation=conversation, author=cast.agent_a, text="Hi")
    outbox.run_all()
    before = (list(ConversationFact.objects.values()), rollups())

    ConsumerCursor.objects.filter(name="insights.facts").update(position=0)  # replay everything
    outbox.run_all()

    assert (list(ConversationFact.objects.values()), rollups()) == before
