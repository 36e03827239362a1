"""The full round trip against real servers on loopback (issue 4): a customer's mail
placed in a Dovecot mailbox -> a conversation -> an agent's reply -> received by an
SMTP server (aiosmtpd) with the right headers -> the customer's answer to it, put in
the mailbox, lands in the same conversation."""

from email.message import EmailMessage
from email.utils import make_msgid

import pytest

from heedful.conversations.models import Conversation, Direction, Message
from heedful.conversations.services import deliver_message, reply
from heedful.inboxes import secrets
from heedful.inboxes.email import imap, tokens
from heedful.inboxes.models import Inbox
from tests.mailserver import PASSWORD, mailbox_fixture, mailserver_fixture  # noqa: F401
from tests.smtp_server import SmtpServer

pytestmark = pytest.mark.django_db


@pytest.fixture
def smtp_server():
    with SmtpServer(auth=("heedful", "s3cret")) as server:
        yield server


@pytest.fixture
def desk(cast, mailbox, smtp_server) -> Inbox:
    inbox = Inbox.objects.create(
        kind="email",
        name="Desk",
        address="desk@support.test",
        team=cast.team_a,
        settings={
            **mailbox.settings(),
            "smtp": smtp_server.smtp_settings(),
            "outbound": "smtp",
        },
    )
    secrets.set_secrets(inbox, imap_password=PASSWORD, smtp_password="s3cret")
    return inbox


def customer_mail(**headers: str) -> tuple[bytes, str]:
    message = EmailMessage()
    message["From"] = "Ann Customer <ann@customer.test>"
    message["To"] = "desk@support.test"
    message["Subject"] = headers.pop("Subject", "My parcel is late")
    message_id = make_msgid(domain="customer.test")
    message["Message-ID"] = message_id
    for name, value in headers.items():
        message[name] = value
    message.set_content("Hello, my parcel is a week late. Can you help?")
    return bytes(message), message_id


def fetch(inbox: Inbox, capture) -> None:
    with capture(execute=True):  # processing is queued after the raw bytes commit
        report = imap.fetch_once(inbox)
    assert not report.errors, report


def test_round_trip(desk, mailbox, smtp_server, cast, django_capture_on_commit_callbacks):
    first, first_id = customer_mail()
    mailbox.append(first)
    fetch(desk, django_capture_on_commit_callbacks)

    conversation = Conversation.objects.get(inbox=desk)
    assert conversation.customer.name == "Ann Customer"
    assert conversation.team == cast.team_a
    # Marked seen on the server only once it was stored here.
    assert all(b"\\Seen" in flags for flags in mailbox.flags().values())

    answer = reply(conversation=conversation, author=cast.agent_a, text="It ships today.")
    assert deliver_message(answer.pk) == "sent"
    answer.refresh_from_db()
    [received] = smtp_server.received
    sent = received.message
    assert received.rcpt_tos == ("ann@customer.test",)
    assert sent["Message-ID"] == answer.external_id
    assert sent["In-Reply-To"] == first_id
    assert first_id in sent["References"]
    assert sent["Subject"] == f"Re: My parcel is late [#{conversation.number}]"
    assert "desk@support.test" in sent["From"]
    assert tokens.conversation_number(sent["Reply-To"].addresses[0].addr_spec) == (
        conversation.number
    )
    assert "It ships today." in sent.get_body(("plain",)).get_content()

    # The customer answers in their mail client: threading headers point at our reply.
    second, _ = customer_mail(
        Subject=f"Re: {sent['Subject']}",
        **{"In-Reply-To": sent["Message-ID"], "References": f"{first_id} {sent['Message-ID']}"},
    )
    mailbox.append(second)
    fetch(desk, django_capture_on_commit_callbacks)

    assert Conversation.objects.filter(inbox=desk).count() == 1
    inbound = Message.objects.filter(conversation=conversation, direction=Direction.INBOUND)
    assert inbound.count() == 2


def test_a_reply_that_lost_its_headers_threads_by_the_reply_address(
    desk, mailbox, smtp_server, cast, django_capture_on_commit_callbacks
):
    first, _ = customer_mail()
    mailbox.append(first)
    fetch(desk, django_capture_on_commit_callbacks)
    conversation = Conversation.objects.get(inbox=desk)
    answer = reply(conversation=conversation, author=cast.agent_a, text="Which order?")
    deliver_message(answer.pk)
    reply_to = smtp_server.received[0].message["Reply-To"].addresses[0].addr_spec

    # A webmail that drops In-Reply-To and References and rewrites the subject.
    second = EmailMessage()
    second["From"] = "ann@customer.test"
    second["To"] = reply_to
    second["Subject"] = "order 1234"
    second["Message-ID"] = make_msgid(domain="customer.test")
    second.set_content("Order 1234.")
    mailbox.append(bytes(second))
    fetch(desk, django_capture_on_commit_callbacks)

    assert Conversation.objects.filter(inbox=desk).count() == 1
    assert conversation.messages.filter(direction=Direction.INBOUND).count() == 2
