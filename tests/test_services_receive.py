"""conversations.services.receive: the one inbound pipeline."""

import hashlib
import importlib
from functools import partial

import pytest

from heedful.conversations.inbound import InboundAttachment, Sender
from heedful.conversations.models import (
    Attachment,
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    EventType,
    Message,
    ParticipantRole,
    Status,
)
from heedful.conversations.services import (
    Quarantined,
    merge_conversations,
    receive,
    reply,
    retry_quarantined,
    set_status,
)
from heedful.customers.models import BlockedSender, Customer, Identity
from heedful.inboxes.models import Inbox, RawInbound
from heedful.inboxes.webform.intake import RAW_CONTENT_TYPE, from_raw, to_raw

pytestmark = pytest.mark.django_db

# The package re-exports the function `receive`, which shadows the module of the same name.
receive_module = importlib.import_module("heedful.conversations.services.receive")


def webform_inbound(inbox: Inbox, **fields: str):  # type: ignore[no-untyped-def]
    data = {
        "name": "Ann Lee",
        "email": "ann@example.com",
        "subject": "Broken kettle",
        "message": "The kettle stopped working.",
        "submission_id": "sub-1",
    }
    data.update(fields)
    return from_raw(inbox, to_raw(data, []))


def event_types(conversation: Conversation) -> list[str]:
    return list(conversation.events.order_by("id").values_list("type", flat=True))


# --- raw input ----------------------------------------------------------------


def test_raw_input_is_stored_with_its_sha256_and_linked_to_the_message(cast):
    payload = b"From: one@customer.test\r\n\r\nMy order has not arrived."
    result = receive(cast.inbound(raw=payload, raw_content_type="message/rfc822"))

    raw = RawInbound.objects.get()
    assert bytes(raw.payload) == payload
    assert raw.sha256 == hashlib.sha256(payload).hexdigest()
    assert raw.content_type == "message/rfc822"
    assert raw.status == RawInbound.Status.PROCESSED
    assert raw.message == result.message
    assert result.raw == raw


def test_raw_input_survives_a_failure_as_quarantined_with_the_reason(cast, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("disk full")

    monkeypatch.setattr(receive_module, "_store_attachments", broken)
    with pytest.raises(Quarantined) as caught:
        receive(webform_inbound(cast.webform))

    raw = RawInbound.objects.get()
    assert caught.value.raw == raw
    assert raw.status == RawInbound.Status.QUARANTINED
    assert "disk full" in raw.reason
    assert raw.attempts == 1
    assert raw.message is None
    # The failed attempt left nothing half-done behind.
    assert not Message.objects.exists()
    assert not Conversation.objects.exists()


def test_retry_quarantined_processes_the_raw_input_after_the_fix(cast, monkeypatch):
    monkeypatch.setattr(receive_module, "_store_attachments", lambda *a: 1 / 0)
    with pytest.raises(Quarantined):
        receive(webform_inbound(cast.webform, message="Kettle still broken."))
    monkeypatch.undo()

    raw = RawInbound.objects.get()
    result = retry_quarantined(raw=raw)

    raw.refresh_from_db()
    assert raw.status == RawInbound.Status.PROCESSED
    assert raw.reason == ""
    assert raw.attempts == 2
    assert raw.message == result.message
    assert result.message.body_text == "Kettle still broken."
    assert RawInbound.objects.count() == 1  # the retry reuses the stored input


def test_an_unparseable_sender_is_quarantined_not_lost(cast):
    inbound = webform_inbound(cast.webform, email="not an address")
    with pytest.raises(Quarantined) as caught:
        receive(inbound)
    assert "not an email address" in caught.value.reason
    assert RawInbound.objects.get().status == RawInbound.Status.QUARANTINED


def test_events_are_written_in_the_same_transaction_as_the_message(cast, monkeypatch):
    real = receive_module.record_event

    def fail_on_message_received(**kwargs):
        if kwargs["type"] == EventType.MESSAGE_RECEIVED:
            raise RuntimeError("event table unavailable")
        return real(**kwargs)

    monkeypatch.setattr(receive_module, "record_event", fail_on_message_received)
    with pytest.raises(Quarantined):
        receive(cast.inbound(raw=b"payload"))

    assert not Conversation.objects.exists()
    assert not Message.objects.exists()
    assert not ConversationEvent.objects.exists()


def test_a_new_conversation_records_created_then_message_received(cast):
    result = receive(cast.inbound(external_id="<m1@customer.test>"))
    assert event_types(result.conversation) == [EventType.CREATED, EventType.MESSAGE_RECEIVED]
    received = result.conversation.events.get(type=EventType.MESSAGE_RECEIVED)
    assert received.data["message_id"] == result.message.pk
    assert received.data["customer_id"] == result.conversation.customer_id
    assert received.actor_type == "customer"


def test_a_new_conversation_starts_new_and_waiting_with_the_inbox_team(cast):
    result = receive(cast.inbound(subject="Late parcel"))
    conversation = result.conversation
    assert result.created_conversation is True
    assert conversation.status == Status.NEW
    assert conversation.team == cast.team_a
    assert conversation.subject == "Late parcel"
    assert conversation.waiting_since == result.message.created_at
    assert conversation.message_count == 1


# --- dedupe ---------------------------------------------------------------------


def test_the_same_external_id_twice_stores_one_message(cast):
    first = receive(cast.inbound(external_id="<m1@customer.test>", raw=b"one"))
    second = receive(cast.inbound(external_id="<m1@customer.test>", raw=b"one"))

    assert first.duplicate is False
    assert second.duplicate is True
    assert second.message == first.message
    assert second.conversation == first.conversation
    assert Message.objects.count() == 1
    first.conversation.refresh_from_db()
    assert first.conversation.message_count == 1
    duplicate_raw = second.raw
    assert duplicate_raw is not None
    duplicate_raw.refresh_from_db()
    assert duplicate_raw.status == RawInbound.Status.DUPLICATE
    assert duplicate_raw.message == first.message


def test_the_same_external_id_in_another_inbox_is_another_message(cast):
    first = receive(cast.inbound(external_id="<m1@customer.test>"))
    second = receive(cast.inbound(inbox=cast.email, external_id="<m1@customer.test>"))

    assert second.duplicate is False
    assert second.message != first.message
    assert Message.objects.count() == 2


def test_messages_without_external_ids_never_collide(cast):
    receive(cast.inbound())
    receive(cast.inbound())
    assert Message.objects.filter(external_id__isnull=True).count() == 2


@pytest.mark.django_db(transaction=True)
def test_concurrent_deliveries_of_one_external_id_store_one_message(
    migrated_rows, cast, run_at_once
):
    for attempt in range(3):
        address, external_id = f"racer{attempt}@customer.test", f"<race-{attempt}@customer.test>"
        inbound = cast.inbound(address=address, external_id=external_id)

        results = run_at_once(partial(receive, inbound), partial(receive, inbound))

        assert all(isinstance(r, receive_module.ReceiveResult) for r in results), results
        assert sorted(r.duplicate for r in results) == [False, True]  # type: ignore[attr-defined]
        assert Message.objects.filter(external_id=external_id).count() == 1
        assert Identity.objects.filter(address=address).count() == 1
    # The losing side's customer was rolled back with its transaction.
    assert Customer.objects.count() == 3


# --- threading ----------------------------------------------------------------------


def test_a_thread_hint_naming_the_customers_earlier_message_threads(cast):
    first = receive(cast.inbound(external_id="<m1@customer.test>"))
    second = receive(
        cast.inbound(external_id="<m2@customer.test>", thread_hints=("<m1@customer.test>",))
    )
    assert second.created_conversation is False
    assert second.conversation == first.conversation
    second.conversation.refresh_from_db()
    assert second.conversation.message_count == 2


def test_a_thread_hint_naming_our_reply_threads(cast, django_capture_on_commit_callbacks):
    conversation = cast.conversation_a(external_id="<m1@customer.test>")
    with django_capture_on_commit_callbacks(execute=True):
        answer = reply(conversation=conversation, author=cast.agent_a, text="On its way.")
    answer.refresh_from_db()
    assert answer.external_id  # the Message-ID our email carried

    result = receive(
        cast.inbound(external_id="<m2@customer.test>", thread_hints=(answer.external_id,))
    )
    assert result.conversation == conversation


def test_any_of_several_thread_hints_is_enough(cast):
    first = receive(cast.inbound(external_id="<m1@customer.test>"))
    result = receive(cast.inbound(thread_hints=("<unknown@elsewhere.test>", "<m1@customer.test>")))
    assert result.conversation == first.conversation


def test_a_message_without_hints_opens_a_new_conversation_for_the_same_customer(cast):
    first = cast.conversation_a()
    second = cast.conversation_a()
    assert second != first
    assert second.customer == first.customer


def test_a_conversation_number_from_the_customer_threads(cast):
    conversation = cast.conversation_a()
    result = receive(cast.inbound(conversation_hint=conversation.number))
    assert result.conversation == conversation


def test_a_conversation_number_from_a_cc_participant_threads(cast):
    conversation = cast.conversation_a(cc=(Sender(kind="email", address="boss@customer.test"),))
    result = receive(
        cast.inbound(address="boss@customer.test", conversation_hint=conversation.number)
    )
    assert result.conversation == conversation


def test_a_stranger_guessing_a_conversation_number_opens_a_new_conversation(cast):
    victim = cast.conversation_a()
    result = receive(
        cast.inbound(
            address="stranger@evil.test", conversation_hint=victim.number, text="Let me in"
        )
    )

    assert result.created_conversation is True
    assert result.conversation != victim
    victim.refresh_from_db()
    assert victim.message_count == 1
    assert list(victim.messages.values_list("body_text", flat=True)) == [
        "My order has not arrived."
    ]
    stranger = Identity.objects.get(address="stranger@evil.test")
    assert not ConversationParticipant.objects.filter(
        conversation=victim, identity=stranger
    ).exists()


def test_a_message_on_a_solved_conversation_reopens_and_counts_it(cast):
    conversation = cast.conversation_a(external_id="<m1@customer.test>")
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)

    result = receive(cast.inbound(thread_hints=("<m1@customer.test>",), text="Still broken"))

    conversation.refresh_from_db()
    assert result.conversation == conversation
    assert conversation.status == Status.OPEN
    assert conversation.reopen_count == 1
    assert conversation.solved_at is None
    assert conversation.waiting_since == result.message.created_at
    reopened = conversation.events.get(type=EventType.REOPENED)
    assert reopened.actor_type == "customer"
    assert reopened.data == {"from": "solved", "to": "open", "reopen_count": 1}


def test_each_reopen_of_a_solved_conversation_counts(cast):
    conversation = cast.conversation_a(external_id="<m1@customer.test>")
    for _ in range(2):
        set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
        receive(cast.inbound(thread_hints=("<m1@customer.test>",)))
    conversation.refresh_from_db()
    assert conversation.reopen_count == 2
    assert conversation.events.filter(type=EventType.REOPENED).count() == 2


def test_a_message_on_a_pending_conversation_opens_it_without_a_reopen(cast):
    conversation = cast.conversation_a(external_id="<m1@customer.test>")
    set_status(conversation=conversation, status=Status.PENDING, actor=cast.agent_a)
    receive(cast.inbound(thread_hints=("<m1@customer.test>",)))
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert conversation.reopen_count == 0


def test_a_message_threading_into_a_closed_conversation_opens_a_new_one(cast):
    closed = cast.conversation_a(external_id="<m1@customer.test>")
    set_status(conversation=closed, status=Status.CLOSED, actor=cast.agent_a)

    result = receive(cast.inbound(thread_hints=("<m1@customer.test>",)))

    assert result.created_conversation is True
    assert result.conversation != closed
    closed.refresh_from_db()
    assert closed.status == Status.CLOSED
    assert closed.message_count == 1


def test_a_thread_hint_into_a_merged_conversation_lands_in_the_target(cast):
    source = cast.conversation_a(external_id="<m1@customer.test>")
    target = cast.conversation_a(external_id="<m2@customer.test>")
    merge_conversations(source=source, target=target, actor=cast.agent_a)

    result = receive(cast.inbound(thread_hints=("<m1@customer.test>",)))
    assert result.conversation == target


def test_the_number_of_a_merged_conversation_lands_in_the_target(cast):
    source = cast.conversation_a()
    target = cast.conversation_a()
    merge_conversations(source=source, target=target, actor=cast.agent_a)

    result = receive(cast.inbound(conversation_hint=source.number))
    assert result.conversation == target
    source.refresh_from_db()
    assert source.message_count == 0


# --- senders -------------------------------------------------------------------------


def test_addresses_differing_in_case_and_whitespace_are_one_customer(cast):
    first = receive(cast.inbound(address="Ann@Example.COM"))
    second = receive(cast.inbound(address="  ann@example.com "))
    assert first.conversation.customer == second.conversation.customer
    assert list(Identity.objects.values_list("address", flat=True)) == ["ann@example.com"]
    assert first.message.sender_identity == second.message.sender_identity


def test_phone_numbers_in_any_format_are_one_customer(cast):
    sms = Inbox.objects.create(kind="sms", name="SMS")
    first = receive(cast.inbound(inbox=sms, sender=Sender(kind="phone", address="(415) 555-0100")))
    second = receive(
        cast.inbound(inbox=sms, sender=Sender(kind="phone", address="+1 415-555-0100"))
    )
    assert first.conversation.customer == second.conversation.customer
    assert Identity.objects.get().address == "+14155550100"


def test_a_first_contact_creates_the_customer_with_the_senders_name(cast):
    receive(cast.inbound(address="ann@example.com", name="Ann Lee"))
    identity = Identity.objects.get(address="ann@example.com")
    assert identity.customer.name == "Ann Lee"
    assert identity.kind == "email"


def test_a_web_form_address_stays_unverified(cast):
    receive(webform_inbound(cast.webform, submission_id="a"))
    receive(webform_inbound(cast.webform, submission_id="b"))
    assert Identity.objects.get(address="ann@example.com").verified is False


def test_a_channel_that_proves_the_address_verifies_it(cast):
    receive(webform_inbound(cast.webform))
    receive(cast.inbound(sender=Sender(kind="email", address="ann@example.com", verified=True)))
    receive(webform_inbound(cast.webform, submission_id="later"))  # never downgraded
    assert Identity.objects.get(address="ann@example.com").verified is True


def test_a_blocked_sender_is_kept_as_spam(cast):
    BlockedSender.objects.create(kind="email", address="spammer@bad.test")
    result = receive(cast.inbound(address="Spammer@Bad.test", text="Buy now"))

    assert result.conversation.is_spam is True
    assert result.message.body_text == "Buy now"
    assert event_types(result.conversation) == [EventType.CREATED, EventType.MESSAGE_RECEIVED]


def test_a_blocked_domain_marks_every_address_in_it_as_spam(cast):
    BlockedSender.objects.create(kind="email", address="@bad.test")
    assert receive(cast.inbound(address="Anyone@BAD.test")).conversation.is_spam is True
    assert receive(cast.inbound(address="one@customer.test")).conversation.is_spam is False


def test_cc_addresses_become_participants(cast):
    result = receive(
        cast.inbound(
            cc=(
                Sender(kind="email", address="Boss@Customer.test"),
                Sender(kind="email", address="not an address"),
            )
        )
    )
    roles = dict(
        ConversationParticipant.objects.filter(conversation=result.conversation).values_list(
            "identity__address", "role"
        )
    )
    assert roles == {
        "one@customer.test": ParticipantRole.CUSTOMER,
        "boss@customer.test": ParticipantRole.CC,
    }


def test_a_cc_participant_writing_in_keeps_the_conversations_customer(cast):
    conversation = cast.conversation_a(
        external_id="<m1@customer.test>", cc=(Sender(kind="email", address="boss@customer.test"),)
    )
    result = receive(
        cast.inbound(address="boss@customer.test", thread_hints=("<m1@customer.test>",))
    )

    assert result.conversation == conversation
    assert result.conversation.customer == cast.customer("one@customer.test")
    assert result.message.sender_identity.address == "boss@customer.test"


def test_a_sender_who_also_copies_themselves_stays_the_customer_participant(cast):
    result = receive(cast.inbound(cc=(Sender(kind="email", address="one@customer.test"),)))
    participant = ConversationParticipant.objects.get(conversation=result.conversation)
    assert participant.role == ParticipantRole.CUSTOMER


# --- attachments ------------------------------------------------------------------------


def test_attachments_are_stored_under_generated_names_with_hash_and_size(cast, media_root):
    content = b"%PDF-1.7 invoice"
    result = receive(
        cast.inbound(
            attachments=(
                InboundAttachment("../../etc/passwd invoice.pdf", "application/pdf", content),
            )
        )
    )

    attachment = Attachment.objects.get(message=result.message)
    assert attachment.filename == "../../etc/passwd invoice.pdf"
    assert attachment.size == len(content)
    assert attachment.sha256 == hashlib.sha256(content).hexdigest()
    assert attachment.content_type == "application/pdf"
    assert attachment.file.name.startswith("attachments/")
    assert "passwd" not in attachment.file.name and "invoice" not in attachment.file.name
    assert (media_root / attachment.file.name).read_bytes() == content


def test_two_attachments_with_one_name_get_two_files(cast, media_root):
    result = receive(
        cast.inbound(
            attachments=(
                InboundAttachment("photo.jpg", "image/jpeg", b"first"),
                InboundAttachment("photo.jpg", "image/jpeg", b"second"),
            )
        )
    )
    files = [a.file.name for a in result.message.attachments.all()]
    assert len(set(files)) == 2
    assert sorted((media_root / f).read_bytes() for f in files) == [b"first", b"second"]


def test_webform_raw_payload_round_trips_through_its_parser(cast):
    inbound = webform_inbound(cast.webform)
    result = receive(inbound)
    assert result.raw is not None
    assert result.raw.content_type == RAW_CONTENT_TYPE
    assert cast.webform.adapter.parse(result.raw).text == inbound.text


def test_html_from_outside_is_sanitized_before_it_is_stored(cast):
    result = receive(
        cast.inbound(text="Hi", html='<p onmouseover="x()">Hi<script>steal()</script></p>')
    )
    assert result.message.body_html == "<p>Hi</p>"
