"""conversations.services.delivery: a lease per send, a sweep that never sends twice."""

from datetime import timedelta
from functools import partial

import pytest
from django.core.mail import EmailMultiAlternatives
from django.utils import timezone

from heedful.conversations.inbound import Sender
from heedful.conversations.models import DeliveryStatus, EventType, Message
from heedful.conversations.services import actions, receive, reply
from heedful.conversations.services.delivery import claim, deliver_message, due_for_delivery
from heedful.conversations.tasks import delivery_sweep
from heedful.inboxes.email.adapter import EmailAdapter
from heedful.inboxes.models import Inbox
from heedful.inboxes.registry import DeliveryResult

pytestmark = pytest.mark.django_db


@pytest.fixture
def pending(cast) -> Message:
    """A reply whose delivery task has not run (the test transaction never commits)."""
    return reply(conversation=cast.conversation_a(), author=cast.agent_a, text="On its way.")


def age(message: Message, **delta: float) -> None:
    Message.objects.filter(pk=message.pk).update(created_at=timezone.now() - timedelta(**delta))


def due_now(message: Message) -> None:
    """Let the backoff after a transient failure run out."""
    Message.objects.filter(pk=message.pk, send_after__isnull=False).update(
        send_after=timezone.now() - timedelta(seconds=1)
    )


def fail_with(monkeypatch, result: DeliveryResult) -> list[int]:
    calls: list[int] = []

    def deliver(self, message):
        calls.append(message.pk)
        return result

    monkeypatch.setattr(EmailAdapter, "deliver", deliver)
    return calls


# --- the lease --------------------------------------------------------------------


def test_claim_takes_the_lease_once(pending, settings):
    first = claim(pending.pk)
    assert first is not None
    assert first.delivery_status == DeliveryStatus.SENDING
    assert first.delivery_attempts == 1
    assert first.lease_until > timezone.now() + timedelta(
        seconds=settings.HEEDFUL_DELIVERY_LEASE_SECONDS - 5
    )
    assert claim(pending.pk) is None


def test_an_expired_lease_can_be_claimed_again(pending):
    claim(pending.pk)
    Message.objects.filter(pk=pending.pk).update(lease_until=timezone.now() - timedelta(seconds=1))

    again = claim(pending.pk)
    assert again is not None
    assert again.delivery_attempts == 2


def test_a_sent_message_cannot_be_claimed(pending, mailoutbox):
    assert deliver_message(pending.pk) == DeliveryStatus.SENT
    assert claim(pending.pk) is None
    assert deliver_message(pending.pk) == "skipped"
    assert len(mailoutbox) == 1


def test_a_delivery_records_delivered(pending):
    deliver_message(pending.pk)
    pending.refresh_from_db()
    assert pending.delivery_status == DeliveryStatus.SENT
    assert pending.lease_until is None
    event = pending.conversation.events.get(type=EventType.DELIVERED)
    assert event.data == {"message_id": pending.pk}


# --- failures -------------------------------------------------------------------------


def test_a_transient_failure_goes_back_to_pending_with_the_error(pending, monkeypatch):
    fail_with(monkeypatch, DeliveryResult(ok=False, error="421 try again later"))

    assert deliver_message(pending.pk) == DeliveryStatus.PENDING

    pending.refresh_from_db()
    assert pending.delivery_status == DeliveryStatus.PENDING
    assert pending.delivery_error == "421 try again later"
    assert pending.lease_until is None
    event = pending.conversation.events.get(type=EventType.DELIVERY_FAILED)
    assert event.data["will_retry"] is True


def test_a_permanent_failure_is_failed_with_the_error(pending, monkeypatch):
    fail_with(monkeypatch, DeliveryResult(ok=False, error="550 no such user", permanent=True))

    assert deliver_message(pending.pk) == DeliveryStatus.FAILED

    pending.refresh_from_db()
    assert pending.delivery_status == DeliveryStatus.FAILED
    assert pending.delivery_error == "550 no such user"
    assert (
        pending.conversation.events.get(type=EventType.DELIVERY_FAILED).data["will_retry"] is False
    )


def test_transient_failures_give_up_after_the_last_attempt(pending, monkeypatch, settings):
    settings.HEEDFUL_DELIVERY_MAX_ATTEMPTS = 3
    calls = fail_with(monkeypatch, DeliveryResult(ok=False, error="timeout"))

    statuses = []
    for _ in range(4):
        statuses.append(deliver_message(pending.pk))
        due_now(pending)

    assert statuses == ["pending", "pending", "failed", "skipped"]
    assert len(calls) == 3


def test_a_transient_failure_waits_out_a_growing_backoff(pending, monkeypatch):
    fail_with(monkeypatch, DeliveryResult(ok=False, error="421 later"))
    waits = []
    for _ in range(3):
        before = timezone.now()
        assert deliver_message(pending.pk) == DeliveryStatus.PENDING
        assert deliver_message(pending.pk) == "skipped"  # not due yet
        pending.refresh_from_db()
        waits.append(pending.send_after - before)
        due_now(pending)

    assert waits[0] >= timedelta(minutes=1) - timedelta(seconds=5)
    assert waits[0] < waits[1] < waits[2]
    event = pending.conversation.events.filter(type=EventType.DELIVERY_FAILED).latest("pk")
    assert event.data["retry_at"]


def test_an_smtp_error_is_a_transient_failure(pending, monkeypatch, mailoutbox):
    def refuse(self, fail_silently=False):
        raise ConnectionRefusedError("mail server down")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refuse)

    assert deliver_message(pending.pk) == DeliveryStatus.PENDING
    pending.refresh_from_db()
    assert "mail server down" in pending.delivery_error
    assert mailoutbox == []


def test_an_adapter_crash_releases_the_lease_for_a_retry(pending, monkeypatch):
    def crash(self, message):
        raise KeyError("bug")

    monkeypatch.setattr(EmailAdapter, "deliver", crash)

    assert deliver_message(pending.pk) == DeliveryStatus.PENDING
    pending.refresh_from_db()
    assert pending.lease_until is None
    assert "KeyError" in pending.delivery_error


def test_a_channel_without_a_provider_fails_permanently_with_a_reason(cast):
    chat = Inbox.objects.create(kind="chat", name="Chat")
    conversation = receive(
        cast.inbound(inbox=chat, sender=Sender(kind="chat", address="visitor-1"))
    ).conversation
    message = reply(conversation=conversation, author=cast.agent_a, text="Hi")

    assert deliver_message(message.pk) == DeliveryStatus.FAILED
    message.refresh_from_db()
    assert "provider" in message.delivery_error


# --- the sweep --------------------------------------------------------------------------


def test_due_for_delivery_waits_out_the_grace_period(pending):
    assert due_for_delivery(grace_seconds=30) == []
    age(pending, seconds=31)
    assert due_for_delivery(grace_seconds=30) == [pending.pk]


def test_due_for_delivery_picks_expired_leases_only(pending):
    claim(pending.pk)
    assert due_for_delivery(grace_seconds=0) == []
    Message.objects.filter(pk=pending.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert due_for_delivery(grace_seconds=0) == [pending.pk]


def test_due_for_delivery_skips_sent_failed_notes_and_inbound(pending, cast, monkeypatch):
    sent = pending
    deliver_message(sent.pk)
    failed = reply(conversation=sent.conversation, author=cast.agent_a, text="Second")
    fail_with(monkeypatch, DeliveryResult(ok=False, error="550", permanent=True))
    deliver_message(failed.pk)
    Message.objects.update(created_at=timezone.now() - timedelta(hours=1))

    assert due_for_delivery(grace_seconds=0) == []


def test_the_sweep_sends_a_lost_reply_once(pending, mailoutbox):
    age(pending, minutes=5)

    assert delivery_sweep.call_local() == 1
    assert delivery_sweep.call_local() == 0
    assert deliver_message(pending.pk) == "skipped"

    assert len(mailoutbox) == 1
    pending.refresh_from_db()
    assert pending.delivery_status == DeliveryStatus.SENT


def test_the_sweep_never_resends_a_delivered_reply(
    cast, mailoutbox, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        message = reply(conversation=cast.conversation_a(), author=cast.agent_a, text="Hello")
    assert len(mailoutbox) == 1
    age(message, hours=1)

    for _ in range(3):
        delivery_sweep.call_local()

    assert len(mailoutbox) == 1


def test_the_sweep_retries_a_transient_failure(pending, monkeypatch, mailoutbox):
    age(pending, minutes=5)
    with monkeypatch.context() as patch:
        fail_with(patch, DeliveryResult(ok=False, error="421 later"))
        delivery_sweep.call_local()
    pending.refresh_from_db()
    assert pending.delivery_status == DeliveryStatus.PENDING
    assert delivery_sweep.call_local() == 0  # waiting out its backoff
    due_now(pending)

    delivery_sweep.call_local()

    pending.refresh_from_db()
    assert pending.delivery_status == DeliveryStatus.SENT
    assert pending.delivery_attempts == 2
    assert len(mailoutbox) == 1


def test_the_sweep_takes_over_a_send_whose_worker_died(pending, mailoutbox):
    claim(pending.pk)  # a worker took the lease and vanished
    delivery_sweep.call_local()
    assert mailoutbox == []

    Message.objects.filter(pk=pending.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    delivery_sweep.call_local()

    assert len(mailoutbox) == 1
    pending.refresh_from_db()
    assert pending.delivery_status == DeliveryStatus.SENT


@pytest.mark.django_db(transaction=True)
def test_two_workers_delivering_one_message_send_it_once(
    migrated_rows, cast, mailoutbox, monkeypatch, run_at_once
):
    # The reply's own delivery task is left out, so the two workers race for a pending message.
    monkeypatch.setattr(actions, "_schedule_delivery", lambda message_id: None)
    for attempt in range(3):
        conversation = cast.conversation_a()
        message = reply(conversation=conversation, author=cast.agent_a, text=f"Try {attempt}")
        sent_before = len(mailoutbox)

        send = partial(deliver_message, message.pk)
        outcomes = run_at_once(send, send)

        assert sorted(map(str, outcomes)) == ["sent", "skipped"], outcomes
        assert len(mailoutbox) - sent_before == 1


def test_a_subject_with_a_line_break_does_not_block_replies(cast, mailoutbox):
    conversation = cast.conversation_a(subject="Help\nBcc: victim@example.com")
    message = reply(conversation=conversation, author=cast.agent_a, text="Hello")

    assert deliver_message(message.pk) == DeliveryStatus.SENT
    assert mailoutbox[0].subject == f"Re: Help Bcc: victim@example.com [#{conversation.number}]"
    assert mailoutbox[0].bcc == []


def test_a_resend_after_a_failure_reuses_the_same_message_id(cast, mailoutbox, monkeypatch):
    from django.core.mail import EmailMultiAlternatives

    conversation = cast.conversation_a()
    message = reply(conversation=conversation, author=cast.agent_a, text="Hello")
    real_send = EmailMultiAlternatives.send

    def refused(self, fail_silently=False):
        raise OSError("connection refused")

    monkeypatch.setattr(EmailMultiAlternatives, "send", refused)
    assert deliver_message(message.pk) == DeliveryStatus.PENDING
    message.refresh_from_db()
    reserved = message.external_id
    assert reserved and reserved.startswith("<")
    due_now(message)

    monkeypatch.setattr(EmailMultiAlternatives, "send", real_send)
    assert deliver_message(message.pk) == DeliveryStatus.SENT
    assert mailoutbox[-1].extra_headers["Message-ID"] == reserved


def test_a_worker_that_lost_its_lease_records_nothing(pending, monkeypatch):
    from heedful.conversations.services import delivery

    first = claim(pending.pk)
    assert first is not None
    # The lease runs out and another worker re-claims the message meanwhile.
    Message.objects.filter(pk=pending.pk).update(lease_until=timezone.now() - timedelta(seconds=1))
    assert claim(pending.pk) is not None
    events_before = pending.conversation.events.count()

    outcome = delivery._finish(first, DeliveryResult(ok=True, external_id="<late@x>"))

    assert outcome == delivery.LOST_LEASE
    assert pending.conversation.events.count() == events_before
    assert Message.objects.get(pk=pending.pk).delivery_status == DeliveryStatus.SENDING
