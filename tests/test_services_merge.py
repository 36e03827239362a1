"""conversations.services.merge: conversations and customers, nothing lost."""

from functools import partial

import pytest

from heedful.conversations.inbound import Sender
from heedful.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    EventType,
    Message,
    ParticipantRole,
    Status,
)
from heedful.conversations.services import (
    merge_conversations,
    merge_customers,
    note,
    receive,
    reply,
    set_status,
    tag,
)
from heedful.core.errors import NotFound, PermissionDenied, ServiceError
from heedful.customers.models import Customer, Identity

pytestmark = pytest.mark.django_db


def test_merging_moves_every_message_and_loses_none(cast):
    source = cast.conversation_a(text="First question")
    receive(cast.inbound(conversation_hint=source.number, text="More detail"))
    note(conversation=source, author=cast.agent_a, text="Checked the warehouse")
    target = cast.conversation_a(text="Second question")
    before = set(Message.objects.values_list("pk", "body_text"))

    merge_conversations(source=source, target=target, actor=cast.agent_a)

    assert set(Message.objects.values_list("pk", "body_text")) == before
    assert set(target.messages.values_list("body_text", flat=True)) == {
        "First question",
        "More detail",
        "Checked the warehouse",
        "Second question",
    }
    assert not source.messages.exists()


def test_the_merged_conversation_closes_and_points_at_the_target(cast):
    source, target = cast.conversation_a(), cast.conversation_a()
    result = merge_conversations(source=source, target=target, actor=cast.agent_a)

    assert result == target
    source.refresh_from_db()
    assert source.merged_into == target
    assert source.status == Status.CLOSED
    assert source.waiting_since is None
    assert source.message_count == 0


def test_merging_records_merged_into_and_merged_from(cast):
    source, target = cast.conversation_a(), cast.conversation_a()
    merge_conversations(source=source, target=target, actor=cast.agent_a)

    into = ConversationEvent.objects.get(conversation=source, type=EventType.MERGED_INTO)
    from_ = ConversationEvent.objects.get(conversation=target, type=EventType.MERGED_FROM)
    assert into.data == {"target_id": target.pk, "target_number": target.number, "messages": 1}
    assert from_.data == {"source_id": source.pk, "source_number": source.number, "messages": 1}
    assert into.actor == from_.actor == cast.agent_a


def test_merging_moves_participants_and_tags(cast):
    source = cast.conversation_a(cc=(Sender(kind="email", address="boss@customer.test"),))
    reply(conversation=source, author=cast.agent_a, text="Hello")
    tag(conversation=source, actor=cast.agent_a, add=["billing"])
    target = cast.conversation_b()
    tag(conversation=target, actor=cast.admin, add=["vip"])

    merge_conversations(source=source, target=target, actor=cast.admin)

    people = set(
        ConversationParticipant.objects.filter(conversation=target).values_list(
            "identity__address", "agent__email", "role"
        )
    )
    assert people == {
        ("two@customer.test", None, ParticipantRole.CUSTOMER),
        ("one@customer.test", None, ParticipantRole.CUSTOMER),
        ("boss@customer.test", None, ParticipantRole.CC),
        (None, "agent.a@heedful.test", ParticipantRole.AGENT),
    }
    assert sorted(target.tags.values_list("name", flat=True)) == ["billing", "vip"]


def test_merging_recomputes_the_counters(cast, clock):
    target = cast.conversation_a(text="Later question")  # created first, answered never
    clock.advance(hours=1)
    source = cast.conversation_a(text="Question")
    clock.advance(minutes=10)
    answered_at = clock.now
    reply(conversation=source, author=cast.agent_a, text="Answer")
    clock.advance(minutes=1)
    note(conversation=source, author=cast.agent_a, text="internal")
    public = target.message_count + Conversation.objects.get(pk=source.pk).message_count

    merge_conversations(source=source, target=target, actor=cast.agent_a)

    target.refresh_from_db()
    assert target.message_count == public == 3  # notes are not messages to the customer
    assert target.first_response_at == answered_at
    assert target.last_message_preview == "Answer"


def test_merging_carries_the_source_reopens(cast):
    source = cast.conversation_a(external_id="<m1@customer.test>")
    set_status(conversation=source, status=Status.SOLVED, actor=cast.agent_a)
    receive(cast.inbound(thread_hints=("<m1@customer.test>",)))
    target = cast.conversation_a()

    merge_conversations(source=source, target=target, actor=cast.agent_a)

    target.refresh_from_db()
    assert target.reopen_count == 1


def test_the_target_takes_the_earliest_start(cast, clock):
    source = cast.conversation_a()
    started = source.created_at
    clock.advance(days=1)
    target = cast.conversation_a()

    merge_conversations(source=source, target=target, actor=cast.agent_a)

    target.refresh_from_db()
    assert target.created_at == started


def test_a_conversation_cannot_be_merged_into_itself(cast):
    conversation = cast.conversation_a()
    with pytest.raises(ServiceError):
        merge_conversations(source=conversation, target=conversation, actor=cast.agent_a)


def test_a_merged_conversation_cannot_be_merged_again(cast):
    source, target, other = cast.conversation_a(), cast.conversation_a(), cast.conversation_a()
    merge_conversations(source=source, target=target, actor=cast.agent_a)
    with pytest.raises(ServiceError):
        merge_conversations(source=source, target=other, actor=cast.agent_a)
    with pytest.raises(ServiceError):
        merge_conversations(source=other, target=source, actor=cast.agent_a)
    assert other.messages.count() == 1


def test_an_agent_cannot_merge_what_they_cannot_see(cast):
    mine, theirs = cast.conversation_a(), cast.conversation_b()
    with pytest.raises(NotFound):
        merge_conversations(source=mine, target=theirs, actor=cast.agent_a)
    with pytest.raises(NotFound):
        merge_conversations(source=theirs, target=mine, actor=cast.agent_a)
    assert mine.messages.count() == 1 and theirs.messages.count() == 1
    assert not ConversationEvent.objects.filter(type=EventType.MERGED_INTO).exists()


# --- customers ---------------------------------------------------------------------


def test_merging_customers_moves_identities_and_conversations(cast):
    one_conversation = cast.conversation_a()
    sms = receive(
        cast.inbound(sender=Sender(kind="phone", address="+1 415 555 0100", name="Ann")),
    ).conversation
    source = sms.customer
    target = cast.customer("one@customer.test")

    merge_customers(source=source, target=target, actor=cast.lead_a)

    assert set(target.identities.values_list("kind", "address")) == {
        ("email", "one@customer.test"),
        ("phone", "+14155550100"),
    }
    assert set(target.conversations.all()) == {one_conversation, sms}
    source.refresh_from_db()
    assert source.merged_into == target
    assert not source.identities.exists()
    assert source.resolve() == target


def test_merging_customers_records_an_event_on_each_moved_conversation(cast):
    moved = [cast.conversation_b(), cast.conversation_b()]
    untouched = cast.conversation_a()
    source, target = cast.customer("two@customer.test"), cast.customer("one@customer.test")

    merge_customers(source=source, target=target, actor=cast.admin)

    for conversation in moved:
        event = conversation.events.get(type=EventType.CUSTOMER_MERGED)
        assert event.data["from_customer_id"] == source.pk
        assert event.data["to_customer_id"] == target.pk
        assert event.actor == cast.admin
    assert not untouched.events.filter(type=EventType.CUSTOMER_MERGED).exists()


def test_later_inbound_from_a_moved_identity_lands_on_the_target(cast):
    cast.conversation_a()
    cast.conversation_b(external_id="<two-1@customer.test>")
    source, target = cast.customer("two@customer.test"), cast.customer("one@customer.test")
    merge_customers(source=source, target=target, actor=cast.lead_a)

    fresh = receive(cast.inbound(address="two@customer.test")).conversation
    threaded = receive(
        cast.inbound(
            inbox=cast.inbox_b, address="two@customer.test", thread_hints=("<two-1@customer.test>",)
        )
    )
    assert fresh.customer == target
    assert threaded.conversation.customer == target
    assert threaded.created_conversation is False
    assert Customer.objects.filter(merged_into__isnull=True).count() == 1


def test_merging_customers_keeps_what_only_the_source_knew(cast):
    cast.conversation_a()
    cast.conversation_b()
    source, target = cast.customer("two@customer.test"), cast.customer("one@customer.test")
    Customer.objects.filter(pk=source.pk).update(
        name="Two Smith", notes="Prefers phone.", language="fr"
    )
    Customer.objects.filter(pk=target.pk).update(name="", notes="Big account.")
    source.refresh_from_db()
    target.refresh_from_db()

    merge_customers(source=source, target=target, actor=cast.lead_a)

    target.refresh_from_db()
    assert target.name == "Two Smith"
    assert target.language == "fr"
    assert target.notes == "Big account.\n\nPrefers phone."


def test_an_agent_cannot_merge_customers(cast):
    cast.conversation_a()
    cast.conversation_b()
    source, target = cast.customer("two@customer.test"), cast.customer("one@customer.test")
    with pytest.raises(PermissionDenied):
        merge_customers(source=source, target=target, actor=cast.agent_a)
    source.refresh_from_db()
    assert source.merged_into is None
    assert Identity.objects.get(address="two@customer.test").customer == source


def test_a_customer_cannot_be_merged_into_themselves(cast):
    cast.conversation_a()
    customer = cast.customer("one@customer.test")
    with pytest.raises(ServiceError):
        merge_customers(source=customer, target=customer, actor=cast.admin)


def test_merging_customers_back_and_forth_is_refused(cast):
    cast.conversation_a()
    cast.conversation_b()
    one, two = cast.customer("one@customer.test"), cast.customer("two@customer.test")
    merge_customers(source=two, target=one, actor=cast.admin)
    with pytest.raises(ServiceError):
        merge_customers(source=one, target=two, actor=cast.admin)
    one.refresh_from_db()
    assert one.merged_into is None


def test_the_merged_conversation_keeps_its_own_history(cast):
    source, target = cast.conversation_a(), cast.conversation_a()
    merge_conversations(source=source, target=target, actor=cast.agent_a)
    types = list(source.events.order_by("id").values_list("type", flat=True))
    assert types == [EventType.CREATED, EventType.MESSAGE_RECEIVED, EventType.MERGED_INTO]


@pytest.mark.django_db(transaction=True)
def test_merging_two_customers_into_each_other_at_once_merges_one_way(
    migrated_rows, cast, run_at_once
):
    for attempt in range(5):
        one = receive(cast.inbound(address=f"x{attempt}@customer.test")).conversation.customer
        two = receive(cast.inbound(address=f"y{attempt}@customer.test")).conversation.customer

        outcomes = run_at_once(
            partial(merge_customers, source=one, target=two, actor=cast.admin),
            partial(merge_customers, source=two, target=one, actor=cast.lead_a),
        )

        merged = [o for o in outcomes if isinstance(o, Customer)]
        refused = [o for o in outcomes if type(o) is ServiceError]
        assert len(merged) == 1 and len(refused) == 1, outcomes
        survivors = Customer.objects.filter(pk__in=[one.pk, two.pk], merged_into__isnull=True)
        assert list(survivors) == merged


@pytest.mark.django_db(transaction=True)
def test_merging_two_conversations_into_each_other_at_once_merges_one_way(
    migrated_rows, cast, run_at_once
):
    for _ in range(5):
        one, two = cast.conversation_a(), cast.conversation_a()

        outcomes = run_at_once(
            partial(merge_conversations, source=one, target=two, actor=cast.agent_a),
            partial(merge_conversations, source=two, target=one, actor=cast.lead_a),
        )

        merged = [o for o in outcomes if isinstance(o, Conversation)]
        refused = [o for o in outcomes if type(o) is ServiceError]
        assert len(merged) == 1 and len(refused) == 1, outcomes
        assert Message.objects.filter(conversation=merged[0]).count() == 2


def test_an_agent_cannot_merge_two_customers_conversations(cast):
    mine = cast.conversation_a()
    theirs = cast.conversation_a(address="someone.else@customer.test", subject="Other")
    with pytest.raises(PermissionDenied):
        merge_conversations(source=theirs, target=mine, actor=cast.agent_a)
    assert Message.objects.filter(conversation=theirs).count() == 1


def test_a_lead_may_merge_two_customers_conversations(cast):
    mine = cast.conversation_a()
    theirs = cast.conversation_a(address="someone.else@customer.test", subject="Other")
    merge_conversations(source=theirs, target=mine, actor=cast.lead_a)
    assert Message.objects.filter(conversation=mine).count() == 2


def test_nothing_merges_into_a_closed_conversation(cast):
    target = cast.conversation_a()
    source = cast.conversation_a(subject="Second")
    set_status(conversation=target, status="closed", actor=cast.agent_a)
    with pytest.raises(ServiceError):
        merge_conversations(source=source, target=target, actor=cast.agent_a)
