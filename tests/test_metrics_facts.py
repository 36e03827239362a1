"""insights.facts: the fact row per conversation, driven through the real services and
the outbox consumer. The clock starts on Monday 3 March 2025, 09:00 UTC."""

from datetime import UTC, datetime, timedelta

import pytest

from heedful.conversations.inbound import Sender
from heedful.conversations.models import Conversation, Status, Tag
from heedful.conversations.services import (
    assign as assign_conversation,
)
from heedful.conversations.services import (
    mark_spam,
    note,
    receive,
    reply,
    set_status,
    tag,
)
from heedful.core import outbox
from heedful.inboxes.models import Inbox
from heedful.insights.facts import fact_values
from heedful.insights.models import ConversationFact
from heedful.insights.rollups import check_facts
from heedful.service_levels.models import BusinessHours

pytestmark = pytest.mark.django_db

H = 3600.0


@pytest.fixture(autouse=True)
def no_lag(settings):
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 0


def fact(conversation: Conversation) -> ConversationFact:
    outbox.run_all()
    return ConversationFact.objects.get(conversation=conversation)


def solve(conversation: Conversation, agent) -> None:
    set_status(conversation=conversation, status=Status.SOLVED, actor=agent)


def answered_and_solved(cast, clock, replies: int = 1) -> Conversation:
    """Customer one writes, agent A replies `replies` times 10 minutes apart, then solves."""
    conversation = cast.conversation_a()
    for _ in range(replies):
        clock.advance(minutes=10)
        reply(conversation=conversation, author=cast.agent_a, text="Here is how")
    clock.advance(minutes=10)
    solve(conversation, cast.agent_a)
    return conversation


# --- first response ---------------------------------------------------------------------


def test_an_automatic_acknowledgement_is_not_the_first_response(cast, clock):
    conversation = cast.conversation_a()
    clock.advance(minutes=1)
    reply(conversation=conversation, author=cast.agent_a, text="We got it", is_automatic=True)
    clock.advance(minutes=29)
    reply(conversation=conversation, author=cast.agent_a, text="A person answers")

    found = fact(conversation)
    assert found.first_response_seconds == 30 * 60
    assert found.public_reply_count == 1


def test_a_note_is_not_the_first_response(cast, clock):
    conversation = cast.conversation_a()
    clock.advance(minutes=5)
    note(conversation=conversation, author=cast.agent_a, text="Checking the warehouse")
    clock.advance(minutes=15)
    reply(conversation=conversation, author=cast.agent_a, text="It ships today")

    assert fact(conversation).first_response_seconds == 20 * 60


def test_the_fact_carries_customer_team_and_sorted_tags(cast, clock):
    conversation = cast.conversation_a()
    tag(conversation=conversation, actor=cast.agent_a, add=["shipping", "billing"])
    found = fact(conversation)
    tags = dict(Tag.objects.values_list("name", "pk"))

    assert found.customer_id == conversation.customer_id
    assert found.team_id == cast.team_a.pk
    assert found.tag_ids == sorted([tags["shipping"], tags["billing"]])


def test_a_removed_tag_leaves_the_fact(cast, clock):
    conversation = cast.conversation_a()
    tag(conversation=conversation, actor=cast.agent_a, add=["shipping", "billing"])
    outbox.run_all()
    tag(conversation=conversation, actor=cast.agent_a, remove=["shipping"])

    assert len(fact(conversation).tag_ids) == 1


def test_a_spam_conversation_has_no_fact(cast, clock):
    conversation = cast.conversation_a()
    outbox.run_all()
    mark_spam(conversation=conversation, actor=cast.agent_a)
    outbox.run_all()

    assert not ConversationFact.objects.filter(conversation=conversation).exists()


# --- business hours -------------------------------------------------------------------------


def office_hours(inbox: Inbox) -> None:
    inbox.business_hours = BusinessHours.objects.create(
        name="Office",
        time_zone="UTC",
        schedule={d: [["09:00", "17:00"]] for d in ("mon", "tue", "wed", "thu", "fri")},
    )
    inbox.save(update_fields=["business_hours"])


def test_business_times_count_only_open_hours(cast, clock):
    office_hours(cast.inbox_a)
    clock.now = datetime(2025, 3, 7, 16, tzinfo=UTC)  # Friday 16:00
    conversation = cast.conversation_a()
    clock.now = datetime(2025, 3, 10, 10, tzinfo=UTC)  # Monday 10:00
    reply(conversation=conversation, author=cast.agent_a, text="Back after the weekend")
    clock.now = datetime(2025, 3, 11, 12, tzinfo=UTC)  # Tuesday 12:00
    solve(conversation, cast.agent_a)

    found = fact(conversation)
    # Calendar: 66 h and 92 h. Business: Fri 16-17 + Mon 9-10 = 2 h; + Mon 10-17 + Tue 9-12.
    assert (found.first_response_seconds, found.resolution_seconds) == (66 * H, 92 * H)
    assert found.first_response_business_seconds == 2 * H
    assert found.resolution_business_seconds == 12 * H


def test_without_business_hours_business_times_stay_empty(cast, clock):
    conversation = answered_and_solved(cast, clock)
    found = fact(conversation)

    assert found.first_response_seconds == 600
    assert found.first_response_business_seconds is None
    assert found.resolution_business_seconds is None


def test_business_times_follow_the_inbox_schedule_after_a_rebuild(cast, clock):
    conversation = answered_and_solved(cast, clock)  # Monday 09:00-09:20, inside 9-17
    outbox.run_all()
    office_hours(cast.inbox_a)
    from heedful.insights.rollups import rebuild_metrics

    rebuild_metrics()

    assert ConversationFact.objects.get(conversation=conversation).resolution_business_seconds == (
        20 * 60
    )


# --- first contact resolution --------------------------------------------------------------


def test_fcr_is_unknown_while_unsolved(cast, clock):
    conversation = cast.conversation_a()
    clock.advance(minutes=10)
    reply(conversation=conversation, author=cast.agent_a, text="On it")

    assert fact(conversation).first_contact_resolved is None


def test_fcr_async_with_one_reply(cast, clock):
    assert fact(answered_and_solved(cast, clock, replies=1)).first_contact_resolved is True


def test_no_fcr_async_with_two_replies(cast, clock):
    assert fact(answered_and_solved(cast, clock, replies=2)).first_contact_resolved is False


def test_no_fcr_async_without_a_reply(cast, clock):
    assert fact(answered_and_solved(cast, clock, replies=0)).first_contact_resolved is False


def reopen_after(cast, clock, conversation: Conversation, delay: timedelta) -> None:
    clock.advance(seconds=delay.total_seconds())
    set_status(conversation=conversation, status=Status.OPEN, actor=cast.agent_a)
    clock.advance(minutes=5)
    solve(conversation, cast.agent_a)


def test_no_fcr_after_a_reopen_within_seven_days(cast, clock):
    conversation = answered_and_solved(cast, clock)
    assert fact(conversation).first_contact_resolved is True

    reopen_after(cast, clock, conversation, timedelta(days=6, hours=23))

    assert fact(conversation).first_contact_resolved is False


def test_fcr_survives_a_reopen_after_seven_days(cast, clock):
    conversation = answered_and_solved(cast, clock)
    reopen_after(cast, clock, conversation, timedelta(days=7, minutes=1))

    assert fact(conversation).first_contact_resolved is True


def test_fcr_is_unknown_again_while_reopened(cast, clock):
    conversation = answered_and_solved(cast, clock)
    outbox.run_all()
    clock.advance(days=1)
    set_status(conversation=conversation, status=Status.OPEN, actor=cast.agent_a)

    assert fact(conversation).first_contact_resolved is None


def test_the_reopen_window_is_a_setting(cast, clock, settings):
    settings.HEEDFUL_FCR_REOPEN_DAYS = 1
    conversation = answered_and_solved(cast, clock)
    reopen_after(cast, clock, conversation, timedelta(days=2))

    assert fact(conversation).first_contact_resolved is True


def test_a_new_conversation_within_72_hours_turns_fcr_off(cast, clock):
    first = answered_and_solved(cast, clock)
    assert fact(first).first_contact_resolved is True

    clock.advance(hours=71)
    cast.conversation_a(text="It broke again")  # the same customer, a new conversation

    assert fact(first).first_contact_resolved is False


def test_a_new_conversation_after_72_hours_keeps_fcr(cast, clock):
    first = answered_and_solved(cast, clock)
    clock.advance(hours=73)
    cast.conversation_a(text="Something else entirely")

    assert fact(first).first_contact_resolved is True


def test_another_customers_conversation_does_not_count(cast, clock):
    first = answered_and_solved(cast, clock)
    clock.advance(hours=1)
    cast.conversation_b()

    assert fact(first).first_contact_resolved is True


def test_the_new_conversation_window_is_a_setting(cast, clock, settings):
    settings.HEEDFUL_FCR_NEW_CONVERSATION_HOURS = 24
    first = answered_and_solved(cast, clock)
    clock.advance(hours=25)
    cast.conversation_a(text="Next day")

    assert fact(first).first_contact_resolved is True


def test_marking_the_new_conversation_spam_gives_fcr_back(cast, clock):
    first = answered_and_solved(cast, clock)
    clock.advance(hours=2)
    second = cast.conversation_a(text="Buy cheap watches")
    assert fact(first).first_contact_resolved is False

    mark_spam(conversation=second, actor=cast.agent_a)

    assert fact(first).first_contact_resolved is True


@pytest.fixture
def chat(cast) -> Inbox:
    # The built-in "chat" adapter is synchronous (inboxes.unconnected).
    return Inbox.objects.create(kind="chat", name="Live chat", team=cast.team_a)


def chat_message(cast, chat: Inbox, text: str, number: int | None = None) -> Conversation:
    inbound = cast.inbound(inbox=chat, sender=Sender(kind="chat", address="visitor-1"), text=text)
    if number is not None:
        from dataclasses import replace

        inbound = replace(inbound, conversation_hint=number)
    return receive(inbound).conversation


def test_fcr_on_a_synchronous_channel_allows_many_replies_in_one_session(cast, clock, chat):
    conversation = chat_message(cast, chat, "Hi, my order?")
    for text in ("Let me look", "Found it", "It ships today"):
        clock.advance(minutes=1)
        reply(conversation=conversation, author=cast.agent_a, text=text)
    solve(conversation, cast.agent_a)

    found = fact(conversation)
    assert found.public_reply_count == 3
    assert found.first_contact_resolved is True


def test_no_fcr_on_a_synchronous_channel_after_a_second_session(cast, clock, chat):
    conversation = chat_message(cast, chat, "Hi, my order?")
    clock.advance(minutes=1)
    reply(conversation=conversation, author=cast.agent_a, text="It ships today")
    solve(conversation, cast.agent_a)
    clock.advance(days=8)  # even after the reopen window, a second session is a second contact
    chat_message(cast, chat, "It did not arrive", number=conversation.number)
    clock.advance(minutes=1)
    solve(conversation, cast.agent_a)

    found = fact(conversation)
    assert found.reopen_count == 1
    assert found.first_contact_resolved is False


def test_a_synchronous_test_adapter_decides_by_its_property(cast, clock, monkeypatch):
    """Any adapter flagged synchronous gets the one-session rule, whatever its kind."""
    from heedful.inboxes import registry
    from heedful.inboxes.unconnected import UnconnectedAdapter

    _ = registry.kinds()  # load the built-in adapters before adding ours
    monkeypatch.setitem(
        registry._ADAPTERS,
        "pigeon",
        UnconnectedAdapter("pigeon", "Pigeon", "p", "email", synchronous=True),
    )
    moment = datetime(2025, 3, 3, 9, tzinfo=UTC)
    values = fact_values(
        conversation_id=1,
        inbox_id=1,
        channel="pigeon",
        status=Status.SOLVED,
        created_at=moment,
        first_response_at=moment + timedelta(minutes=1),
        solved_at=moment + timedelta(minutes=5),
        public_reply_count=2,
        customer_message_count=2,
        reopen_count=0,
        solved_by_id=None,
    )
    assert values["first_contact_resolved"] is True
    monkeypatch.setitem(
        registry._ADAPTERS,
        "pigeon",
        UnconnectedAdapter("pigeon", "Pigeon", "p", "email", synchronous=False),
    )
    assert (
        fact_values(**{**_inputs(values), "channel": "pigeon"})["first_contact_resolved"] is False
    )


def _inputs(values: dict) -> dict:
    keep = [
        "conversation_id",
        "inbox_id",
        "channel",
        "status",
        "created_at",
        "first_response_at",
        "solved_at",
        "public_reply_count",
        "customer_message_count",
        "reopen_count",
        "solved_by_id",
    ]
    return {k: values[k] for k in keep}


# --- fact_values as the demo calls it ---------------------------------------------------


def test_fact_values_reads_the_fcr_inputs():
    moment = datetime(2025, 3, 3, 9, tzinfo=UTC)
    base = dict(
        conversation_id=1,
        inbox_id=1,
        channel="email",
        status=Status.SOLVED,
        created_at=moment,
        first_response_at=moment + timedelta(hours=1),
        solved_at=moment + timedelta(days=10),
        public_reply_count=1,
        customer_message_count=1,
        reopen_count=1,
        solved_by_id=7,
        first_solved_at=moment + timedelta(hours=2),
    )
    early = fact_values(**base, first_reopened_at=moment + timedelta(days=3))
    late = fact_values(**base, first_reopened_at=moment + timedelta(days=8))
    undated = fact_values(**base)

    assert (early["first_contact_resolved"], late["first_contact_resolved"]) == (False, True)
    assert undated["first_contact_resolved"] is False  # a reopen we cannot date counts
    assert late["resolution_seconds"] == 10 * 24 * H
    assert late["solved_by_id"] == 7


def test_stored_facts_equal_a_fresh_computation(cast, clock):
    first = answered_and_solved(cast, clock)
    assign_conversation(conversation=first, agent=cast.agent_a, actor=cast.agent_a)
    clock.advance(hours=5)
    second = cast.conversation_a(text="Again")
    tag(conversation=second, actor=cast.agent_a, add=["again"])
    outbox.run_all()

    assert check_facts([first.pk, second.pk]) == []
