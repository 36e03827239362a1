"""Automatic acknowledgments (RFC 3834): once per sender per window, never to
automatic mail, marked Auto-Submitted: auto-replied, and never a first response."""

from datetime import timedelta
from email.message import EmailMessage
from email.utils import make_msgid
from typing import Any

import pytest
from django.utils import timezone

from heedful.conversations.models import (
    AuthorType,
    Conversation,
    DeliveryStatus,
    Direction,
    EventType,
    Message,
    Status,
)
from heedful.customers.models import BlockedSender
from heedful.inboxes.email import ingest
from heedful.inboxes.email.autoreply import claim_acknowledgment, maybe_acknowledge
from heedful.inboxes.models import AutoReply, EmailSuppression, Inbox
from tests.email_support import (
    secrets_key,  # noqa: F401 (an autouse fixture)
    use_smtp,
)
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

CUSTOMER = "ann@customer.test"


@pytest.fixture
def inbox(cast, smtp_server) -> Inbox:  # noqa: F811
    return use_smtp(
        cast.email,
        smtp_server,
        auto_ack=True,
        auto_ack_subject="We have your message (#{number})",
        auto_ack_text="Thanks! Your reference is #{number}.\n",
    )


def email_bytes(
    *, sender: str = f"Ann <{CUSTOMER}>", subject: str = "Broken kettle", **headers: str
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = "help@support.test"
    msg["Subject"] = subject
    msg["Message-ID"] = make_msgid(domain="customer.test")
    for name, value in headers.items():
        msg[name.replace("_", "-")] = value
    msg.set_content("My kettle stopped working.")
    return msg.as_bytes()


def arrive(inbox: Inbox, payload: bytes, capture: Any) -> Conversation:
    """The worker's path: store, process (which acknowledges), then the commit runs
    the acknowledgment's delivery."""
    with capture(execute=True):
        raw, _ = ingest.accept(inbox=inbox, payload=payload, ring=False)
        result = ingest.process(raw)
    assert result is not None
    return result.conversation


def acknowledgments() -> list[Message]:
    return list(Message.objects.filter(is_automatic=True).order_by("pk"))


def test_a_new_conversation_gets_one_acknowledgment(
    cast,
    inbox,
    smtp_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    conversation = arrive(inbox, email_bytes(), django_capture_on_commit_callbacks)

    [ack] = acknowledgments()
    assert ack.conversation == conversation
    assert ack.author_type == AuthorType.SYSTEM
    assert ack.delivery_status == DeliveryStatus.SENT
    [received] = smtp_server.received
    email = received.message
    assert received.rcpt_tos == (CUSTOMER,)
    assert email["Auto-Submitted"] == "auto-replied"
    assert email["X-Auto-Response-Suppress"] == "All"
    assert (
        email["Subject"]
        == f"We have your message (#{conversation.number}) [#{conversation.number}]"
    )
    text = email.get_body(("plain",)).get_content()
    assert text.startswith(f"Thanks! Your reference is #{conversation.number}.")
    assert (
        email["In-Reply-To"] == conversation.messages.get(direction=Direction.INBOUND).external_id
    )


def test_an_acknowledgment_is_not_a_response(cast, inbox, django_capture_on_commit_callbacks):
    conversation = arrive(inbox, email_bytes(), django_capture_on_commit_callbacks)

    conversation.refresh_from_db()
    assert conversation.first_response_at is None
    assert conversation.status == Status.NEW
    assert conversation.waiting_since is not None
    assert conversation.message_count == 2
    assert conversation.last_message_preview.startswith("My kettle")
    event = conversation.events.get(type=EventType.REPLY_SENT)
    assert event.data["automatic"] is True
    assert event.actor is None


def test_a_second_message_within_the_window_gets_none(
    cast,
    inbox,
    smtp_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    arrive(inbox, email_bytes(subject="Broken kettle"), django_capture_on_commit_callbacks)
    second = arrive(
        inbox, email_bytes(subject="Also the toaster"), django_capture_on_commit_callbacks
    )

    assert Conversation.objects.count() == 2
    assert not second.messages.filter(is_automatic=True).exists()
    assert len(smtp_server.received) == 1


def test_after_the_window_the_sender_is_acknowledged_again(
    cast, inbox, clock, settings, django_capture_on_commit_callbacks
):
    settings.HEEDFUL_AUTOREPLY_WINDOW_HOURS = 24
    arrive(inbox, email_bytes(subject="Broken kettle"), django_capture_on_commit_callbacks)
    clock.advance(hours=24, seconds=1)

    arrive(inbox, email_bytes(subject="Also the toaster"), django_capture_on_commit_callbacks)

    assert len(acknowledgments()) == 2


@pytest.mark.parametrize(
    "headers",
    [
        {"Auto_Submitted": "auto-replied"},
        {"Precedence": "bulk"},
        {"Precedence": "junk"},
        {"List_Id": "<news.customer.test>"},
        {"X_Auto_Response_Suppress": "All"},
        {"sender": "MAILER-DAEMON@customer.test"},
    ],
    ids=["auto-submitted", "precedence-bulk", "precedence-junk", "list-id", "x-ars", "daemon"],
)
def test_automatic_mail_is_never_acknowledged(
    cast,
    inbox,
    headers,
    smtp_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    conversation = arrive(inbox, email_bytes(**headers), django_capture_on_commit_callbacks)

    assert conversation.messages.get().auto_submitted
    assert acknowledgments() == []
    assert smtp_server.received == []
    assert not AutoReply.objects.exists()  # and the window is not used up


def test_a_suppressed_sender_is_not_acknowledged(cast, inbox, django_capture_on_commit_callbacks):
    EmailSuppression.objects.create(address=CUSTOMER, hard_bounces=3, suppressed_at=timezone.now())

    arrive(inbox, email_bytes(), django_capture_on_commit_callbacks)

    assert acknowledgments() == []


def test_an_inbox_without_acknowledgments_sends_none(
    cast, inbox, django_capture_on_commit_callbacks
):
    inbox.settings = {**inbox.settings, "auto_ack": False}
    inbox.save(update_fields=["settings"])

    arrive(inbox, email_bytes(), django_capture_on_commit_callbacks)

    assert acknowledgments() == []


def test_a_reply_in_an_existing_conversation_is_not_acknowledged(
    cast, inbox, django_capture_on_commit_callbacks
):
    conversation = arrive(inbox, email_bytes(), django_capture_on_commit_callbacks)
    AutoReply.objects.update(sent_at=timezone.now() - timedelta(days=30))
    first = conversation.messages.get(direction=Direction.INBOUND).external_id

    arrive(inbox, email_bytes(In_Reply_To=first), django_capture_on_commit_callbacks)

    assert len(acknowledgments()) == 1


def test_an_unverified_sender_is_not_acknowledged(cast, inbox):
    conversation = cast.conversation_a(
        inbox=inbox, address=CUSTOMER, sender_unverified="dmarc=fail"
    )

    assert maybe_acknowledge(conversation=conversation, message=conversation.messages.get()) is None


def test_maybe_acknowledge_refuses_a_message_marked_automatic(cast, inbox):
    conversation = cast.conversation_a(inbox=inbox, address=CUSTOMER, auto_submitted="List-Id")

    assert maybe_acknowledge(conversation=conversation, message=conversation.messages.get()) is None


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_for_one_sender_yield_one(migrated_rows, cast, run_at_once):
    def claim() -> bool:
        return claim_acknowledgment(inbox=cast.email, address=CUSTOMER)

    outcomes = run_at_once(claim, claim, claim)

    assert sorted(map(str, outcomes)) == ["False", "False", "True"], outcomes
    assert AutoReply.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_two_concurrent_claims_after_the_window_yield_one(migrated_rows, cast, run_at_once):
    AutoReply.objects.create(
        inbox=cast.email, address=CUSTOMER, sent_at=timezone.now() - timedelta(days=2)
    )

    def claim() -> bool:
        return claim_acknowledgment(inbox=cast.email, address=CUSTOMER)

    outcomes = run_at_once(claim, claim)

    assert sorted(map(str, outcomes)) == ["False", "True"], outcomes


def test_a_blocked_sender_is_not_acknowledged(cast, inbox, django_capture_on_commit_callbacks):
    BlockedSender.objects.create(kind="email", address=CUSTOMER)

    conversation = arrive(inbox, email_bytes(), django_capture_on_commit_callbacks)

    assert conversation.is_spam
    assert acknowledgments() == []
