"""conversations.services.actions: reply, note, assign, status, priority, tags, spam."""

import re
from email.utils import parseaddr
from functools import partial

import pytest

from heedful.conversations.models import (
    ConversationParticipant,
    DeliveryStatus,
    Direction,
    EventType,
    Priority,
    Status,
)
from heedful.conversations.services import (
    assign,
    mark_spam,
    note,
    receive,
    reply,
    set_priority,
    set_status,
    tag,
)
from heedful.conversations.services.delivery import deliver_message
from heedful.core.errors import Conflict, NotFound, PermissionDenied, ServiceError
from heedful.customers.models import Identity
from heedful.inboxes.models import Inbox
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


# --- reply ----------------------------------------------------------------------


def test_reply_stores_a_pending_outbound_message(cast):
    conversation = cast.conversation_a()
    message = reply(conversation=conversation, author=cast.agent_a, text="We are on it.")

    assert message.direction == Direction.OUTBOUND
    assert message.is_note is False
    assert message.delivery_status == DeliveryStatus.PENDING
    assert message.author_agent == cast.agent_a
    assert message.inbox == cast.inbox_a
    assert message.recipient_identity.address == "one@customer.test"
    event = conversation.events.get(type=EventType.REPLY_SENT)
    assert event.actor == cast.agent_a
    assert event.data["message_id"] == message.pk


def test_reply_sets_first_response_once_clears_waiting_and_opens(cast, clock):
    conversation = cast.conversation_a()
    assert conversation.waiting_since is not None
    first_at = clock.advance(minutes=5)
    reply(conversation=conversation, author=cast.agent_a, text="First answer.")
    clock.advance(minutes=5)
    reply(conversation=conversation, author=cast.agent_a, text="Second answer.")

    conversation.refresh_from_db()
    assert conversation.first_response_at == first_at
    assert conversation.waiting_since is None
    assert conversation.status == Status.OPEN
    assert conversation.message_count == 3


def test_an_automatic_reply_is_not_a_first_response(cast):
    conversation = cast.conversation_a()
    waiting = conversation.waiting_since
    reply(
        conversation=conversation,
        author=cast.agent_a,
        text="We got your message.",
        is_automatic=True,
    )

    conversation.refresh_from_db()
    assert conversation.first_response_at is None
    assert conversation.waiting_since == waiting


def test_a_reply_needs_text(cast):
    with pytest.raises(ServiceError):
        reply(conversation=cast.conversation_a(), author=cast.agent_a, text="   ")


def test_a_closed_conversation_takes_no_reply(cast):
    conversation = cast.conversation_a()
    set_status(conversation=conversation, status=Status.CLOSED, actor=cast.agent_a)
    with pytest.raises(ServiceError):
        reply(conversation=conversation, author=cast.agent_a, text="Hello?")


def test_the_reply_is_delivered_by_email_after_commit(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    conversation = cast.conversation_a(external_id="<m1@customer.test>", subject="Late parcel")
    with django_capture_on_commit_callbacks(execute=True):
        message = reply(conversation=conversation, author=cast.agent_a, text="It ships today.")
        assert mailoutbox == []  # nothing leaves before the commit

    assert len(mailoutbox) == 1
    email = mailoutbox[0]
    assert email.to == ["one@customer.test"]
    assert parseaddr(email.from_email) == ("Support A", "a@support.test")
    assert email.subject == f"Re: Late parcel [#{conversation.number}]"
    # The customer's message follows, quoted (the inbox's quote_history default).
    assert email.body.startswith("It ships today.")
    assert email.extra_headers["In-Reply-To"] == "<m1@customer.test>"
    assert re.fullmatch(r"<[0-9a-f]{32}@support\.test>", email.extra_headers["Message-ID"])
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert message.external_id == email.extra_headers["Message-ID"]
    assert message.sent_at is not None


def test_each_reply_gets_its_own_random_message_id(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    conversation = cast.conversation_a()
    with django_capture_on_commit_callbacks(execute=True):
        reply(conversation=conversation, author=cast.agent_a, text="One.")
        reply(conversation=conversation, author=cast.agent_a, text="Two.")
    ids = {m.extra_headers["Message-ID"] for m in mailoutbox}
    assert len(ids) == 2


def test_an_automatic_reply_says_so_in_its_headers(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    conversation = cast.conversation_a()
    with django_capture_on_commit_callbacks(execute=True):
        reply(conversation=conversation, author=cast.agent_a, text="Got it.", is_automatic=True)
    assert mailoutbox[0].extra_headers["Auto-Submitted"] == "auto-replied"


def test_replying_makes_the_agent_a_participant(cast):
    conversation = cast.conversation_a()
    reply(conversation=conversation, author=cast.agent_a, text="Hello.")
    assert ConversationParticipant.objects.filter(
        conversation=conversation, agent=cast.agent_a
    ).exists()


def test_a_reply_cannot_be_sent_to_someone_outside_the_conversation(cast):
    conversation = cast.conversation_a()
    cast.conversation_b()
    stranger = Identity.objects.get(address="two@customer.test")
    with pytest.raises(ServiceError):
        reply(conversation=conversation, author=cast.agent_a, text="Hi", via_identity=stranger)
    assert conversation.messages.count() == 1


def test_a_reply_can_go_out_on_another_channel_of_the_same_customer(cast):
    sms = Inbox.objects.create(kind="sms", name="SMS")
    conversation = cast.conversation_a()
    phone = Identity.objects.create(
        customer=conversation.customer, kind="phone", address="+14155550100", verified=True
    )
    message = reply(
        conversation=conversation, author=cast.agent_a, text="Texting you", via_identity=phone
    )
    assert message.inbox == sms
    assert message.recipient_identity == phone


# --- note -------------------------------------------------------------------------


def test_a_note_is_never_delivered_and_never_a_response(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    conversation = cast.conversation_a()
    with django_capture_on_commit_callbacks(execute=True):
        message = note(conversation=conversation, author=cast.agent_a, text="Customer is a VIP.")

    assert mailoutbox == []
    assert message.is_note is True
    assert message.delivery_status == DeliveryStatus.NONE
    assert deliver_message(message.pk) == "skipped"
    conversation.refresh_from_db()
    assert conversation.first_response_at is None
    assert conversation.waiting_since is not None
    assert conversation.status == Status.NEW
    assert conversation.events.filter(type=EventType.NOTE_ADDED).count() == 1


# --- status, priority, tags, spam --------------------------------------------------


def test_solving_stamps_solved_at_and_stops_the_wait(cast, clock):
    conversation = cast.conversation_a()
    solved_at = clock.advance(hours=2)
    conversation = set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)

    conversation.refresh_from_db()
    assert conversation.solved_at == solved_at
    assert conversation.waiting_since is None
    event = conversation.events.get(type=EventType.STATUS_CHANGED)
    assert event.data["from"] == Status.NEW and event.data["to"] == Status.SOLVED


def test_closed_is_final(cast):
    conversation = cast.conversation_a()
    set_status(conversation=conversation, status=Status.CLOSED, actor=cast.agent_a)
    for status in (Status.OPEN, Status.SOLVED, Status.PENDING):
        with pytest.raises(ServiceError):
            set_status(conversation=conversation, status=status, actor=cast.admin)
    conversation.refresh_from_db()
    assert conversation.status == Status.CLOSED


def test_an_unknown_status_is_refused(cast):
    with pytest.raises(ServiceError):
        set_status(conversation=cast.conversation_a(), status="archived", actor=cast.agent_a)


def test_an_agent_reopening_a_solved_conversation_counts_a_reopen(cast):
    conversation = cast.conversation_a()
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    set_status(conversation=conversation, status=Status.OPEN, actor=cast.agent_a)

    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert conversation.reopen_count == 1
    assert conversation.solved_at is None
    reopened = conversation.events.get(type=EventType.REOPENED)
    assert reopened.actor == cast.agent_a


def test_closing_a_solved_conversation_is_not_a_reopen(cast, clock):
    conversation = cast.conversation_a()
    solved_at = clock.advance(hours=1)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    clock.advance(days=3)
    set_status(conversation=conversation, status=Status.CLOSED, actor=cast.agent_a)

    conversation.refresh_from_db()
    assert conversation.reopen_count == 0
    assert conversation.solved_at == solved_at


def test_setting_the_same_status_writes_nothing(cast):
    conversation = cast.conversation_a()
    set_status(conversation=conversation, status=Status.PENDING, actor=cast.agent_a)
    set_status(conversation=conversation, status=Status.PENDING, actor=cast.agent_a)
    assert conversation.events.filter(type=EventType.STATUS_CHANGED).count() == 1


def test_set_priority_changes_it_and_records_from_and_to(cast):
    conversation = cast.conversation_a()
    conversation = set_priority(
        conversation=conversation, priority=Priority.URGENT, actor=cast.agent_a
    )
    conversation.refresh_from_db()
    assert conversation.priority == Priority.URGENT
    event = conversation.events.get(type=EventType.PRIORITY_CHANGED)
    assert event.data == {"from": Priority.NORMAL, "to": Priority.URGENT}


def test_an_unknown_priority_is_refused(cast):
    with pytest.raises(ServiceError):
        set_priority(conversation=cast.conversation_a(), priority=9, actor=cast.agent_a)


def test_tags_are_added_and_removed_with_one_event_each(cast):
    conversation = cast.conversation_a()
    assert tag(conversation=conversation, actor=cast.agent_a, add=["Billing", " refund "]) == [
        "billing",
        "refund",
    ]
    assert tag(conversation=conversation, actor=cast.agent_a, add=["vip"], remove=["billing"]) == [
        "refund",
        "vip",
    ]

    events = list(conversation.events.filter(type=EventType.TAGS_CHANGED).order_by("id"))
    assert [e.data for e in events] == [
        {"added": ["billing", "refund"], "removed": []},
        {"added": ["vip"], "removed": ["billing"]},
    ]
    assert sorted(conversation.tags.values_list("name", flat=True)) == ["refund", "vip"]


def test_tagging_without_a_change_writes_no_event(cast):
    conversation = cast.conversation_a()
    tag(conversation=conversation, actor=cast.agent_a, add=["vip"])
    tag(conversation=conversation, actor=cast.agent_a, add=["VIP"], remove=["nothing-here"])
    assert conversation.events.filter(type=EventType.TAGS_CHANGED).count() == 1


def test_mark_spam_flags_the_conversation(cast):
    conversation = mark_spam(conversation=cast.conversation_a(), actor=cast.agent_a)
    conversation.refresh_from_db()
    assert conversation.is_spam is True
    assert conversation.events.get(type=EventType.SPAM_MARKED).data == {"spam": True}


def test_unmarking_spam_clears_the_flag(cast):
    conversation = mark_spam(conversation=cast.conversation_a(), actor=cast.agent_a)
    mark_spam(conversation=conversation, actor=cast.agent_a, spam=False)
    conversation.refresh_from_db()
    assert conversation.is_spam is False


# --- assignment and roles -----------------------------------------------------------


def test_an_agent_can_take_a_conversation(cast):
    conversation = assign(
        conversation=cast.conversation_a(), agent=cast.agent_a, actor=cast.agent_a
    )
    assert conversation.assignee == cast.agent_a
    event = conversation.events.get(type=EventType.ASSIGNED)
    assert event.data == {"from": None, "to": cast.agent_a.pk}
    assert event.actor == cast.agent_a


def test_an_agent_can_release_their_own_conversation(cast):
    conversation = assign(
        conversation=cast.conversation_a(), agent=cast.agent_a, actor=cast.agent_a
    )
    conversation = assign(conversation=conversation, agent=None, actor=cast.agent_a)
    assert conversation.assignee is None


def test_an_agent_cannot_assign_to_another_agent(cast):
    colleague = UserFactory(email="colleague.a@heedful.test", teams=[cast.team_a])
    conversation = cast.conversation_a()
    with pytest.raises(PermissionDenied):
        assign(conversation=conversation, agent=colleague, actor=cast.agent_a)
    conversation.refresh_from_db()
    assert conversation.assignee is None
    assert not conversation.events.filter(type=EventType.ASSIGNED).exists()


def test_an_agent_cannot_unassign_another_agent(cast):
    conversation = assign(conversation=cast.conversation_a(), agent=cast.lead_a, actor=cast.lead_a)
    with pytest.raises(PermissionDenied):
        assign(conversation=conversation, agent=None, actor=cast.agent_a)


@pytest.mark.parametrize("actor_name", ["lead_a", "admin"])
def test_a_lead_or_admin_can_assign_to_an_agent(cast, actor_name):
    conversation = cast.conversation_a()
    conversation = assign(
        conversation=conversation, agent=cast.agent_a, actor=getattr(cast, actor_name)
    )
    assert conversation.assignee == cast.agent_a


def test_nobody_can_assign_to_an_agent_who_cannot_see_the_conversation(cast):
    with pytest.raises(ServiceError):
        assign(conversation=cast.conversation_a(), agent=cast.agent_b, actor=cast.admin)


def test_nobody_can_assign_to_a_deactivated_agent(cast):
    cast.agent_a.is_active = False
    cast.agent_a.save()
    with pytest.raises(ServiceError):
        assign(conversation=cast.conversation_a(), agent=cast.agent_a, actor=cast.lead_a)


def test_taking_with_a_stale_view_is_a_conflict_naming_the_holder(cast):
    conversation = cast.conversation_a()
    assign(conversation=conversation, agent=cast.lead_a, actor=cast.lead_a)
    with pytest.raises(Conflict) as caught:
        assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)  # saw nobody
    assert cast.lead_a.display_name in caught.value.message
    assert caught.value.details["assignee_id"] == cast.lead_a.pk


@pytest.mark.django_db(transaction=True)
def test_two_agents_taking_at_once_exactly_one_wins(migrated_rows, cast, run_at_once):
    rival = UserFactory(email="rival.a@heedful.test", name="Rival", teams=[cast.team_a])
    agents = [cast.agent_a, rival]
    for attempt in range(5):
        conversation = cast.conversation_a(external_id=f"<race-{attempt}@customer.test>")

        outcomes = run_at_once(
            *[partial(assign, conversation=conversation, agent=a, actor=a) for a in agents]
        )

        won = [a for a, o in zip(agents, outcomes, strict=True) if not isinstance(o, Exception)]
        lost = [o for o in outcomes if isinstance(o, Conflict)]
        assert len(won) == 1 and len(lost) == 1, outcomes
        assert won[0].display_name in lost[0].message
        conversation.refresh_from_db()
        assert conversation.assignee == won[0]
        assigned = conversation.events.filter(type=EventType.ASSIGNED)
        assert assigned.count() == 1


# --- who may do what ---------------------------------------------------------------


@pytest.mark.parametrize(
    "action",
    [
        lambda c, u: reply(conversation=c, author=u, text="Hi"),
        lambda c, u: note(conversation=c, author=u, text="Hi"),
        lambda c, u: set_status(conversation=c, status=Status.SOLVED, actor=u),
        lambda c, u: set_priority(conversation=c, priority=Priority.HIGH, actor=u),
        lambda c, u: tag(conversation=c, actor=u, add=["x"]),
        lambda c, u: mark_spam(conversation=c, actor=u),
        lambda c, u: assign(conversation=c, agent=u, actor=u),
    ],
    ids=["reply", "note", "set_status", "set_priority", "tag", "mark_spam", "assign"],
)
def test_an_agent_of_another_team_can_change_nothing(cast, action):
    conversation = cast.conversation_a()
    events_before = conversation.events.count()
    with pytest.raises(NotFound):
        action(conversation, cast.agent_b)
    conversation.refresh_from_db()
    assert conversation.events.count() == events_before
    assert conversation.messages.count() == 1
    assert (conversation.status, conversation.assignee_id, conversation.is_spam) == (
        Status.NEW,
        None,
        False,
    )


def test_a_deactivated_agent_can_do_nothing(cast):
    conversation = cast.conversation_a()
    cast.agent_a.is_active = False
    cast.agent_a.save()
    with pytest.raises(PermissionDenied):
        reply(conversation=conversation, author=cast.agent_a, text="Hi")
    with pytest.raises(PermissionDenied):
        assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)


def test_an_unteamed_conversation_is_open_to_every_agent(cast):
    shared = receive(cast.inbound(inbox=cast.email)).conversation
    assert shared.team is None
    for agent in (cast.agent_a, cast.agent_b):
        reply(conversation=shared, author=agent, text=f"Hello from {agent}")
    assert shared.messages.filter(direction=Direction.OUTBOUND).count() == 2


def test_an_agent_cannot_take_a_conversation_a_colleague_holds(cast):
    conversation = cast.conversation_a()
    assign(conversation=conversation, agent=cast.lead_a, actor=cast.lead_a)
    conversation.refresh_from_db()
    with pytest.raises(PermissionDenied):
        assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    conversation.refresh_from_db()
    assert conversation.assignee == cast.lead_a


def test_a_lead_may_take_a_conversation_from_a_colleague(cast):
    conversation = cast.conversation_a()
    assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    conversation.refresh_from_db()
    taken = assign(conversation=conversation, agent=cast.lead_a, actor=cast.lead_a)
    assert taken.assignee == cast.lead_a


def test_html_in_a_reply_is_sanitized_before_it_is_stored(cast):
    conversation = cast.conversation_a()
    message = reply(
        conversation=conversation,
        author=cast.agent_a,
        text="Hello",
        html='<p onclick="steal()">Hello<script>alert(1)</script><a href="javascript:x">x</a></p>',
    )
    assert "<script" not in message.body_html
    assert "onclick" not in message.body_html
    assert "javascript:" not in message.body_html
    assert message.body_html.startswith("<p>Hello")


def test_a_cc_participant_who_wrote_last_is_not_the_default_recipient(cast):
    from heedful.conversations.inbound import Sender

    conversation = cast.conversation_a(
        external_id="<first@customer.test>",
        cc=(Sender(kind="email", address="colleague@customer.test"),),
    )
    later = receive(
        cast.inbound(
            address="colleague@customer.test",
            external_id="<second@customer.test>",
            thread_hints=("<first@customer.test>",),
        )
    )
    assert later.conversation == conversation
    message = reply(conversation=conversation, author=cast.agent_a, text="Answer")
    assert message.recipient_identity.address == "one@customer.test"
