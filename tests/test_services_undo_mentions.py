"""conversations.services: the undo window of replies, @mentions in notes, and
the notification an assignment sends."""

from datetime import timedelta

import pytest

from heedful.accounts.models import Notification
from heedful.conversations.models import DeliveryStatus, EventType, Message, Status
from heedful.conversations.services import (
    assign,
    mentioned_users,
    note,
    receive,
    reply,
    undo_reply,
)
from heedful.conversations.services.delivery import claim, deliver_message, due_for_delivery
from heedful.core.errors import Conflict, PermissionDenied
from heedful.insights.facts import refresh_facts
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def undo_window(settings):
    settings.HEEDFUL_UNDO_SECONDS = 5
    return 5


# --- the hold window ---------------------------------------------------------------------


def test_a_reply_waits_out_its_undo_window(cast, clock, undo_window):
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")

    assert message.send_after == clock.now + timedelta(seconds=5)
    assert message.delivery_status == DeliveryStatus.PENDING


def test_without_a_window_a_reply_is_due_at_once(cast, settings):
    settings.HEEDFUL_UNDO_SECONDS = 0
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")

    assert message.send_after is None
    assert claim(message.pk) is not None


def test_claim_never_takes_a_reply_inside_its_window(cast, clock, undo_window, mailoutbox):
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")

    assert claim(message.pk) is None
    assert deliver_message(message.pk) == "skipped"
    clock.advance(seconds=4.9)
    assert claim(message.pk) is None
    clock.advance(seconds=0.2)
    assert claim(message.pk) is not None
    assert mailoutbox == []


def test_the_sweep_leaves_a_reply_inside_its_window(cast, clock, settings):
    settings.HEEDFUL_UNDO_SECONDS = 120  # longer than the sweep's grace period
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")

    clock.advance(seconds=60)
    assert message.pk not in due_for_delivery()
    clock.advance(seconds=61)
    assert message.pk in due_for_delivery()


# --- undo ------------------------------------------------------------------------------------


def test_undo_withdraws_the_reply_and_records_it(cast, clock, undo_window):
    conversation = cast.conversation_a()
    message = reply(conversation=conversation, author=cast.agent_a, text="Oops, wrong customer.")
    clock.advance(seconds=2)

    undone = undo_reply(message=message, actor=cast.agent_a)

    assert undone.delivery_status == DeliveryStatus.CANCELLED
    assert undone.body_text == "Oops, wrong customer."
    event = conversation.events.get(type=EventType.REPLY_UNDONE)
    assert event.actor == cast.agent_a
    assert event.data == {"message_id": message.pk}


def test_undo_puts_the_conversation_back_as_it_was(cast, clock, undo_window):
    conversation = cast.conversation_a(text="Where is it?")
    conversation.refresh_from_db()
    before = {
        f: getattr(conversation, f)
        for f in (
            "status",
            "waiting_since",
            "first_response_at",
            "last_message_at",
            "last_message_preview",
            "message_count",
        )
    }
    clock.advance(minutes=10)
    message = reply(conversation=conversation, author=cast.agent_a, text="Sorry!")
    clock.advance(seconds=3)

    undo_reply(message=message, actor=cast.agent_a)

    conversation.refresh_from_db()
    assert {f: getattr(conversation, f) for f in before} == before
    assert before["status"] == Status.NEW
    assert before["waiting_since"] is not None


def test_undo_keeps_an_earlier_first_response_and_waits_since_the_new_message(
    cast, clock, undo_window
):
    conversation = cast.conversation_a()
    first = reply(conversation=conversation, author=cast.agent_a, text="Looking into it.")
    Message.objects.filter(pk=first.pk).update(delivery_status=DeliveryStatus.SENT)
    clock.advance(minutes=5)
    asked_again_at = clock.now
    receive(cast.inbound(text="Any news?", conversation_hint=conversation.number))
    conversation.refresh_from_db()
    assert conversation.waiting_since == asked_again_at
    clock.advance(minutes=5)
    second = reply(conversation=conversation, author=cast.agent_a, text="Shipped today.")
    clock.advance(seconds=1)

    undo_reply(message=second, actor=cast.agent_a)

    conversation.refresh_from_db()
    assert conversation.first_response_at == first.created_at
    assert conversation.waiting_since == asked_again_at
    assert conversation.status == Status.OPEN
    assert conversation.last_message_preview == "Any news?"


def test_undo_after_the_automatic_acknowledgment_leaves_the_conversation_new(
    cast, clock, undo_window
):
    from heedful.inboxes.email.autoreply import maybe_acknowledge

    cast.inbox_a.settings = {"auto_ack": True}
    cast.inbox_a.save(update_fields=["settings"])
    conversation = cast.conversation_a(text="Where is it?")
    first = conversation.messages.get()
    ack = maybe_acknowledge(conversation=conversation, message=first)
    assert ack is not None and ack.is_automatic
    clock.advance(minutes=1)
    conversation.refresh_from_db()
    before = {f: getattr(conversation, f) for f in ("status", "last_message_at", "message_count")}
    message = reply(conversation=conversation, author=cast.agent_a, text="Sorry!")
    clock.advance(seconds=1)

    undo_reply(message=message, actor=cast.agent_a)

    conversation.refresh_from_db()
    assert conversation.status == Status.NEW
    assert {f: getattr(conversation, f) for f in before} == before
    assert conversation.last_message_preview == "Where is it?"


def test_only_the_author_can_undo(cast, clock, undo_window):
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")

    with pytest.raises(PermissionDenied):
        undo_reply(message=message, actor=cast.lead_a)
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.PENDING


def test_an_agent_who_cannot_see_the_conversation_cannot_undo(cast, clock, undo_window):
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")

    with pytest.raises(Exception) as info:
        undo_reply(message=message, actor=cast.agent_b)
    assert "No such conversation" in str(info.value)


def test_undo_after_the_window_is_refused(cast, clock, undo_window):
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")
    clock.advance(seconds=5)

    with pytest.raises(Conflict, match="window has closed"):
        undo_reply(message=message, actor=cast.agent_a)


def test_undo_after_delivery_claimed_it_is_refused(cast, clock, undo_window):
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")
    clock.advance(seconds=6)
    assert claim(message.pk) is not None

    with pytest.raises(Conflict, match="already being sent"):
        undo_reply(message=message, actor=cast.agent_a)
    assert not message.conversation.events.filter(type=EventType.REPLY_UNDONE).exists()


def test_a_claim_after_undo_sends_nothing(cast, clock, undo_window, mailoutbox):
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")
    undo_reply(message=message, actor=cast.agent_a)
    clock.advance(minutes=5)

    assert claim(message.pk) is None
    assert deliver_message(message.pk) == "skipped"
    assert message.pk not in due_for_delivery()
    assert mailoutbox == []


def test_a_reply_can_be_undone_only_once(cast, clock, undo_window):
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")
    undo_reply(message=message, actor=cast.agent_a)

    with pytest.raises(Conflict, match="already taken back"):
        undo_reply(message=message, actor=cast.agent_a)


def test_with_no_window_nothing_can_be_undone(cast, settings):
    settings.HEEDFUL_UNDO_SECONDS = 0
    message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")

    with pytest.raises(Conflict):
        undo_reply(message=message, actor=cast.agent_a)


def test_a_withdrawn_reply_is_not_a_response_in_the_facts(cast, clock, undo_window):
    conversation = cast.conversation_a()
    message = reply(conversation=conversation, author=cast.agent_a, text="On its way.")
    undo_reply(message=message, actor=cast.agent_a)

    (fact,) = refresh_facts([conversation.pk])

    assert fact.public_reply_count == 0
    assert fact.first_response_at is None
    assert fact.first_response_seconds is None


# --- mentions --------------------------------------------------------------------------------


def test_a_mention_notifies_an_agent_who_can_see_the_conversation(cast):
    conversation = cast.conversation_a()

    message = note(conversation=conversation, author=cast.lead_a, text="@agent.a can you check?")

    (notification,) = Notification.objects.filter(user=cast.agent_a)
    assert notification.kind == Notification.Kind.MENTION
    assert notification.conversation == conversation
    assert notification.actor == cast.lead_a
    assert f"#{conversation.number}" in notification.text
    event = conversation.events.get(type=EventType.NOTE_ADDED)
    assert event.data == {"message_id": message.pk, "mentions": [cast.agent_a.pk]}


def test_a_mentioned_agent_who_cannot_see_the_conversation_is_not_notified(cast):
    conversation = cast.conversation_a()

    note(conversation=conversation, author=cast.agent_a, text="Ask @agent.b and @admin")

    assert not Notification.objects.filter(user=cast.agent_b).exists()
    assert Notification.objects.filter(user=cast.admin, kind="mention").count() == 1


def test_a_full_address_mentions_too(cast):
    note(
        conversation=cast.conversation_a(),
        author=cast.lead_a,
        text="cc @agent.a@heedful.test.",
    )
    assert Notification.objects.filter(user=cast.agent_a, kind="mention").count() == 1


def test_an_email_address_in_the_text_mentions_nobody(cast):
    assert mentioned_users("Write to agent.a@heedful.test please") == []


def test_an_ambiguous_local_part_mentions_nobody(cast):
    UserFactory(email="agent.a@other.test")
    assert mentioned_users("@agent.a look") == []
    assert mentioned_users("@agent.a@other.test look")[0].email == "agent.a@other.test"


def test_mentions_are_case_insensitive_and_deduplicated(cast):
    assert mentioned_users("@Agent.A and again @agent.a, and @nobody") == [cast.agent_a]


def test_a_deactivated_agent_is_not_mentioned(cast):
    cast.agent_a.is_active = False
    cast.agent_a.save()
    assert mentioned_users("@agent.a") == []


def test_mentioning_oneself_sends_no_notification(cast):
    note(conversation=cast.conversation_a(), author=cast.agent_a, text="Reminder for @agent.a")
    assert not Notification.objects.exists()


def test_a_note_without_mentions_keeps_its_plain_event(cast):
    conversation = cast.conversation_a()
    message = note(conversation=conversation, author=cast.agent_a, text="Checked.")
    assert conversation.events.get(type=EventType.NOTE_ADDED).data == {"message_id": message.pk}


# --- assignment notifications ------------------------------------------------------------


def test_assigning_to_someone_else_notifies_them(cast):
    conversation = cast.conversation_a()

    assign(conversation=conversation, agent=cast.agent_a, actor=cast.lead_a)

    (notification,) = Notification.objects.all()
    assert notification.user == cast.agent_a
    assert notification.kind == Notification.Kind.ASSIGNED
    assert notification.actor == cast.lead_a
    assert f"#{conversation.number}" in notification.text


def test_taking_a_conversation_oneself_notifies_nobody(cast):
    assign(conversation=cast.conversation_a(), agent=cast.agent_a, actor=cast.agent_a)
    assert not Notification.objects.exists()


def test_a_refused_assignment_notifies_nobody(cast):
    with pytest.raises(PermissionDenied):
        assign(conversation=cast.conversation_a(), agent=cast.lead_a, actor=cast.agent_a)
    assert not Notification.objects.exists()


# --- a withdrawn reply elsewhere --------------------------------------------------------


def test_a_withdrawn_reply_is_not_found_by_search(cast, undo_window):
    from heedful.core.outbox import run_all
    from heedful.search.backends import search_messages

    conversation = cast.conversation_a()
    message = reply(conversation=conversation, author=cast.agent_a, text="Zanzibar refund sent.")
    undo_reply(message=message, actor=cast.agent_a)
    run_all()

    assert search_messages("zanzibar", user=cast.admin) == []


def test_merging_ignores_a_withdrawn_reply(cast, undo_window):
    from heedful.conversations.services import merge_conversations

    source = cast.conversation_a(subject="First")
    target = cast.conversation_a(subject="Second")
    message = reply(conversation=source, author=cast.agent_a, text="Taken back.")
    undo_reply(message=message, actor=cast.agent_a)

    merged = merge_conversations(source=source, target=target, actor=cast.agent_a)

    assert merged.first_response_at is None
    assert merged.message_count == 2
    assert "Taken back" not in merged.last_message_preview


def test_a_local_part_is_resolved_among_those_who_can_see_the_conversation(cast):
    ana_a = UserFactory(email="ana@a.test", teams=[cast.team_a])
    UserFactory(email="ana@b.test", teams=[cast.team_b])
    conversation = cast.conversation_a()

    note(conversation=conversation, author=cast.agent_a, text="@ana can you check this?")

    assert list(Notification.objects.values_list("user_id", flat=True)) == [ana_a.pk]
