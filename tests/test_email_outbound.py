"""Outbound email through a real SMTP server on loopback (aiosmtpd): headers,
threading, signature, quoting, attachments, failures, backoff and the retry button."""

import hashlib
from datetime import timedelta
from email.utils import getaddresses, parseaddr
from typing import Any

import pytest
from django.core.files.base import ContentFile

from heedful.conversations.inbound import Sender
from heedful.conversations.models import Attachment, DeliveryStatus, EventType, Message
from heedful.conversations.services import (
    deliver_message,
    receive,
    reply,
    retry_delivery,
    undo_reply,
)
from heedful.conversations.services.delivery import RETRY_DELAYS_MINUTES, backoff
from heedful.core.errors import Conflict
from heedful.inboxes import secrets
from heedful.inboxes.email import tokens, transport
from heedful.inboxes.email.outbound import reply_subject
from heedful.inboxes.models import Inbox
from tests.email_support import (
    secrets_key,  # noqa: F401 (an autouse fixture)
    use_smtp,
)
from tests.smtp_server import SmtpServer, smtp_server  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]


@pytest.fixture
def inbox(cast, smtp_server) -> Inbox:  # noqa: F811
    return use_smtp(cast.email, smtp_server, aliases=["sales@support.test"])


def customer_writes(cast, inbox: Inbox, **kw: Any):
    kw.setdefault("external_id", "<c1@customer.test>")
    kw.setdefault("subject", "Broken kettle")
    kw.setdefault("text", "My kettle stopped working.\nIt was new.")
    kw.setdefault("sender", Sender(kind="email", address="ann@customer.test", name="Ann Lee"))
    return receive(cast.inbound(inbox=inbox, **kw))


def body(email: Any, subtype: str) -> str:
    """A part's text with the wire's CRLF line ends made plain."""
    return email.get_body((subtype,)).get_content().replace("\r\n", "\n")


def send(cast, conversation, text: str = "We will send a new one.", **kw: Any) -> Message:
    message = reply(conversation=conversation, author=cast.agent_a, text=text, **kw)
    deliver_message(message.pk)
    message.refresh_from_db()
    return message


# --- a reply as the customer receives it -------------------------------------------------


def test_a_reply_arrives_over_smtp_with_threading_headers(cast, inbox, smtp_server):  # noqa: F811
    conversation = customer_writes(cast, inbox).conversation

    message = send(cast, conversation)

    assert message.delivery_status == DeliveryStatus.SENT
    [received] = smtp_server.received
    email = received.message
    assert parseaddr(email["From"]) == ("Shared", "help@support.test")
    assert email["To"] == "ann@customer.test"
    assert received.rcpt_tos == ("ann@customer.test",)
    assert email["Message-ID"] == message.external_id
    assert email["In-Reply-To"] == "<c1@customer.test>"
    assert email["References"] == "<c1@customer.test>"
    assert email["Subject"] == f"Re: Broken kettle [#{conversation.number}]"
    assert email["Auto-Submitted"] == "no"


def test_the_reply_to_carries_a_signed_conversation_token(cast, inbox, smtp_server):  # noqa: F811
    conversation = customer_writes(cast, inbox).conversation

    send(cast, conversation)

    reply_to = parseaddr(smtp_server.received[0].message["Reply-To"])[1]
    assert reply_to.startswith("help+c") and reply_to.endswith("@support.test")
    assert tokens.conversation_number(reply_to) == conversation.number


def test_reply_all_copies_the_cc_participants_but_not_our_own_addresses(
    cast,
    inbox,
    smtp_server,  # noqa: F811
):
    cc = (
        Sender(kind="email", address="bob@customer.test", name="Bob"),
        Sender(kind="email", address="sales@support.test"),
    )
    conversation = customer_writes(cast, inbox, cc=cc).conversation

    send(cast, conversation)

    [received] = smtp_server.received
    assert [a for _, a in getaddresses([received.message["Cc"]])] == ["bob@customer.test"]
    assert sorted(received.rcpt_tos) == ["ann@customer.test", "bob@customer.test"]


def test_references_list_the_whole_thread_with_the_latest_customer_message_last(
    cast,
    inbox,
    smtp_server,  # noqa: F811
):
    conversation = customer_writes(cast, inbox).conversation
    first = send(cast, conversation, "First answer.")
    customer_writes(
        cast, inbox, external_id="<c2@customer.test>", thread_hints=(first.external_id,)
    )

    send(cast, conversation, "Second answer.")

    email = smtp_server.received[1].message
    assert email["In-Reply-To"] == "<c2@customer.test>"
    assert email["References"].split() == [
        "<c1@customer.test>",
        first.external_id,
        "<c2@customer.test>",
    ]


def test_the_reply_has_text_and_html_with_signature_and_quoted_history(
    cast,
    inbox,
    smtp_server,  # noqa: F811
):
    cast.agent_a.signature = "Ana\nKettle Support"
    cast.agent_a.save(update_fields=["signature"])
    conversation = customer_writes(cast, inbox).conversation

    send(cast, conversation, "We will send a new one <today>.")

    email = smtp_server.received[0].message
    text = body(email, "plain")
    html = body(email, "html")
    assert text.startswith("We will send a new one <today>.\n\n-- \nAna\nKettle Support\n")
    assert "Ann Lee <ann@customer.test> wrote:\n> My kettle stopped working.\n> It was new." in text
    assert "<p>We will send a new one &lt;today&gt;.</p>" in html
    assert "Ana<br>Kettle Support" in html
    assert '<blockquote type="cite"><p>My kettle stopped working.<br>It was new.</p>' in html


def test_quoting_can_be_turned_off(cast, smtp_server):  # noqa: F811
    inbox = use_smtp(cast.email, smtp_server, quote_history=False)
    conversation = customer_writes(cast, inbox).conversation

    send(cast, conversation)

    text = body(smtp_server.received[0].message, "plain")
    assert text.strip() == "We will send a new one."


def test_the_agents_own_html_is_sent_as_written(cast, inbox, smtp_server):  # noqa: F811
    conversation = customer_writes(cast, inbox).conversation

    send(cast, conversation, "Plain version", html="<p>Rich <strong>version</strong></p>")

    html = body(smtp_server.received[0].message, "html")
    assert "<p>Rich <strong>version</strong></p>" in html


def test_attachments_of_the_reply_are_sent(cast, inbox, smtp_server):  # noqa: F811
    conversation = customer_writes(cast, inbox).conversation
    message = reply(conversation=conversation, author=cast.agent_a, text="The manual is attached.")
    content = b"%PDF-1.4 manual"
    attachment = Attachment(
        message=message,
        filename="Handbuch für Kessel.pdf",
        content_type="application/pdf",
        size=len(content),
        sha256=hashlib.sha256(content).hexdigest(),
    )
    attachment.file.save("x", ContentFile(content), save=True)

    assert deliver_message(message.pk) == DeliveryStatus.SENT

    [part] = list(smtp_server.received[0].message.iter_attachments())
    assert part.get_filename() == "Handbuch für Kessel.pdf"
    assert part.get_content_type() == "application/pdf"
    assert part.get_content() == content


def test_a_missing_attachment_file_fails_the_reply_rather_than_dropping_it(
    cast,
    inbox,
    smtp_server,  # noqa: F811
):
    conversation = customer_writes(cast, inbox).conversation
    message = reply(conversation=conversation, author=cast.agent_a, text="Attached.")
    attachment = Attachment(
        message=message, filename="gone.txt", content_type="text/plain", size=1, sha256="0"
    )
    attachment.file.save("x", ContentFile(b"x"), save=True)
    attachment.file.storage.delete(attachment.file.name)

    assert deliver_message(message.pk) == DeliveryStatus.FAILED
    message.refresh_from_db()
    assert "gone.txt" in message.delivery_error
    assert smtp_server.received == []


def test_a_stored_subject_with_line_breaks_stays_one_header(cast, inbox, smtp_server):  # noqa: F811
    conversation = customer_writes(
        cast, inbox, subject="Help\r\nBcc: victim@example.com"
    ).conversation

    send(cast, conversation)

    [received] = smtp_server.received
    assert received.message["Bcc"] is None
    assert received.rcpt_tos == ("ann@customer.test",)


@pytest.mark.parametrize(
    ("subject", "expected"),
    [
        ("Broken kettle", "Re: Broken kettle [#7]"),
        ("Re: Broken kettle", "Re: Broken kettle [#7]"),
        ("RE: Aw: re: Broken kettle [#7]", "Re: Broken kettle [#7]"),
        ("", "Re: Your request [#7]"),
    ],
)
def test_reply_subjects_never_stack_prefixes(subject, expected):
    assert reply_subject(subject, 7) == expected


def test_the_web_form_kind_still_answers_by_email(cast, mailoutbox, settings):
    settings.DEFAULT_FROM_EMAIL = "Support <support@example.test>"
    conversation = receive(cast.inbound(inbox=cast.webform, text="Form request")).conversation

    message = send(cast, conversation)

    assert message.delivery_status == DeliveryStatus.SENT
    [email] = mailoutbox
    assert email.from_email == "Support <support@example.test>"
    assert email.to == ["one@customer.test"]


# --- failures ------------------------------------------------------------------------------


def test_a_refused_recipient_fails_permanently_with_the_servers_answer(
    cast,
    inbox,
    smtp_server,  # noqa: F811
):
    smtp_server.reject["ann@customer.test"] = (
        "550 5.1.1 <ann@customer.test>: Recipient address rejected"
    )
    conversation = customer_writes(cast, inbox).conversation

    message = send(cast, conversation)

    assert message.delivery_status == DeliveryStatus.FAILED
    assert "550 5.1.1 <ann@customer.test>: Recipient address rejected" in message.delivery_error
    event = conversation.events.get(type=EventType.DELIVERY_FAILED)
    assert event.data["will_retry"] is False
    assert "Recipient address rejected" in event.data["error"]


def test_a_temporary_refusal_waits_and_is_retried(cast, inbox, smtp_server, clock):  # noqa: F811
    smtp_server.reject["ann@customer.test"] = "451 4.3.0 Mailbox busy, try later"
    conversation = customer_writes(cast, inbox).conversation

    message = send(cast, conversation)

    assert message.delivery_status == DeliveryStatus.PENDING
    assert message.send_after == clock.now + timedelta(minutes=RETRY_DELAYS_MINUTES[0])
    assert "451 4.3.0 Mailbox busy" in message.delivery_error
    assert deliver_message(message.pk) == "skipped"  # not due yet

    del smtp_server.reject["ann@customer.test"]
    clock.advance(minutes=RETRY_DELAYS_MINUTES[0], seconds=1)
    assert deliver_message(message.pk) == DeliveryStatus.SENT
    assert len(smtp_server.received) == 1


def test_a_retry_waiting_on_backoff_cannot_be_undone(cast, inbox, smtp_server, clock):  # noqa: F811
    smtp_server.reject["ann@customer.test"] = "451 4.3.0 try later"
    message = send(cast, customer_writes(cast, inbox).conversation)
    assert message.send_after > clock.now

    with pytest.raises(Conflict):
        undo_reply(message=message, actor=cast.agent_a)


def test_backoff_grows_and_is_capped():
    delays = [backoff(n) for n in range(1, len(RETRY_DELAYS_MINUTES) + 3)]
    assert delays == sorted(delays)
    assert delays[0] == timedelta(minutes=RETRY_DELAYS_MINUTES[0])
    assert delays[-1] == delays[-2] == timedelta(minutes=RETRY_DELAYS_MINUTES[-1])


def test_wrong_credentials_fail_with_a_clear_error(cast, smtp_server):  # noqa: F811
    inbox = use_smtp(cast.email, smtp_server, password="wrong")
    message = send(cast, customer_writes(cast, inbox).conversation)

    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.delivery_error.startswith("authentication failed: 535")
    assert smtp_server.received == []


def test_a_server_that_is_down_is_a_transient_failure(cast):
    inbox = use_smtp(cast.email, SmtpServer())  # never started: nothing listens there

    message = send(cast, customer_writes(cast, inbox).conversation)

    assert message.delivery_status == DeliveryStatus.PENDING
    assert "refused" in message.delivery_error.lower()


def test_the_agent_can_retry_a_failed_reply(cast, inbox, smtp_server, clock):  # noqa: F811
    smtp_server.reject["ann@customer.test"] = "550 5.2.2 mailbox full"
    conversation = customer_writes(cast, inbox).conversation
    message = send(cast, conversation)
    assert message.delivery_status == DeliveryStatus.FAILED
    del smtp_server.reject["ann@customer.test"]

    retried = retry_delivery(message=message, actor=cast.agent_a)
    assert retried.delivery_status == DeliveryStatus.PENDING
    assert retried.delivery_attempts == 0
    assert retried.send_after is None
    assert deliver_message(message.pk) == DeliveryStatus.SENT

    assert len(smtp_server.received) == 1
    assert smtp_server.received[0].message["Message-ID"] == message.external_id
    event = conversation.events.filter(type=EventType.DELIVERY_RETRIED).latest("pk")
    assert event.data["message_id"] == message.pk
    assert event.actor == cast.agent_a
    with pytest.raises(Conflict):  # sent now: a second click must not send it twice
        retry_delivery(message=message, actor=cast.agent_a)


def test_a_retried_reply_is_delivered_after_commit(
    cast,
    inbox,
    smtp_server,  # noqa: F811
    django_capture_on_commit_callbacks,
):
    smtp_server.reject["ann@customer.test"] = "550 5.2.2 mailbox full"
    message = send(cast, customer_writes(cast, inbox).conversation)
    del smtp_server.reject["ann@customer.test"]

    with django_capture_on_commit_callbacks(execute=True):
        retry_delivery(message=message, actor=cast.agent_a)

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert len(smtp_server.received) == 1


def test_a_withdrawn_reply_cannot_be_retried(cast, inbox, settings):
    settings.HEEDFUL_UNDO_SECONDS = 30
    message = reply(
        conversation=customer_writes(cast, inbox).conversation, author=cast.agent_a, text="Oops"
    )
    undo_reply(message=message, actor=cast.agent_a)

    with pytest.raises(Conflict):
        retry_delivery(message=message, actor=cast.agent_a)


# --- transports and the "test connection" button --------------------------------------------


def test_test_connection_reports_success_with_the_user(cast, inbox, smtp_server):  # noqa: F811
    ok, detail = transport.test_connection(inbox)

    assert ok is True
    assert detail == f"Connected to 127.0.0.1:{smtp_server.port}, authenticated as heedful"


def test_test_connection_reports_wrong_credentials(cast, smtp_server):  # noqa: F811
    inbox = use_smtp(cast.email, smtp_server, password="wrong")

    ok, detail = transport.test_connection(inbox)

    assert ok is False
    assert f"127.0.0.1:{smtp_server.port}" in detail
    assert "authentication failed: 535" in detail


def test_test_connection_reports_a_server_that_is_down(cast):
    down = SmtpServer()  # never started: nothing listens on its port
    inbox = use_smtp(cast.email, down)

    ok, detail = transport.test_connection(inbox)

    assert ok is False
    assert "refused" in detail.lower()


def test_test_connection_needs_a_host(cast):
    cast.email.settings = {"outbound": "smtp", "smtp": {"host": ""}}
    cast.email.save()

    assert transport.test_connection(cast.email) == (
        False,
        "the inbox sends by SMTP but no SMTP host is set",
    )


def test_a_provider_gets_its_api_key_from_the_secrets(cast):
    cast.email.settings = {"outbound": "provider", "provider": "postmark"}
    cast.email.save()
    secrets.set_secrets(cast.email, provider_api_key="pm-token-1")

    connection = transport.connection_for(cast.email)

    assert type(connection).__module__ == "anymail.backends.postmark"
    assert connection.server_token == "pm-token-1"
    assert transport.test_connection(cast.email)[0] is True


def test_a_provider_without_a_key_is_refused_before_sending(cast):
    cast.email.settings = {"outbound": "provider", "provider": "mailgun"}
    cast.email.save()
    message = send(cast, customer_writes(cast, cast.email).conversation)

    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.delivery_error == "not sent: no API key stored for mailgun"
    assert transport.test_connection(cast.email) == (False, "no API key stored for mailgun")


def api_error(status: int, answer: bytes) -> Exception:
    from anymail.exceptions import AnymailAPIError
    from requests.models import Response

    response = Response()
    response.status_code, response.reason, response._content = status, "Reason", answer
    return AnymailAPIError("API error", status_code=status, response=response, esp_name="Postmark")


def test_provider_errors_are_classified():
    from anymail.exceptions import AnymailRecipientsRefused

    assert transport.classify(AnymailRecipientsRefused()).permanent is True
    rejected = transport.classify(api_error(422, b'{"Message": "Invalid To address"}'))
    assert rejected.permanent is True
    assert "Invalid To address" in rejected.error
    assert "\n" not in rejected.error
    assert transport.classify(api_error(429, b"slow down")).permanent is False
    assert transport.classify(api_error(503, b"outage")).permanent is False


def test_the_default_transport_is_the_sites_connection(cast, mailoutbox):
    conversation = customer_writes(cast, cast.inbox_a).conversation

    assert send(cast, conversation).delivery_status == DeliveryStatus.SENT
    assert len(mailoutbox) == 1
    assert (
        mailoutbox[0].extra_headers["Message-ID"]
        == Message.objects.get(conversation=conversation, direction="out").external_id
    )


def test_an_amazon_ses_key_must_name_its_parts(cast):
    cast.email.settings = {"outbound": "provider", "provider": "amazon_ses"}
    cast.email.save()
    secrets.set_secrets(cast.email, provider_api_key="only-one-part")

    ok, detail = transport.test_connection(cast.email)

    assert ok is False
    assert "ACCESS_KEY_ID:SECRET_ACCESS_KEY" in detail


def test_an_unknown_provider_is_named(cast):
    cast.email.settings = {"outbound": "provider", "provider": "pigeon"}
    cast.email.save()

    ok, detail = transport.test_connection(cast.email)

    assert ok is False
    assert "unknown mail provider 'pigeon'" in detail


def test_test_connection_of_the_default_transport_names_it(cast, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"

    ok, detail = transport.test_connection(cast.email)

    assert ok is True
    assert "locmem.EmailBackend" in detail


def test_without_a_customer_message_id_the_reply_threads_under_our_last_one(
    cast,
    inbox,
    smtp_server,  # noqa: F811
):
    conversation = customer_writes(cast, inbox, external_id=None).conversation
    first = send(cast, conversation, "First.")

    send(cast, conversation, "Second.")

    assert smtp_server.received[0].message["In-Reply-To"] is None
    email = smtp_server.received[1].message
    assert email["In-Reply-To"] == first.external_id
    assert email["References"] == first.external_id


def test_references_are_capped_keeping_the_first(cast, inbox, smtp_server):  # noqa: F811
    from heedful.inboxes.email.outbound import MAX_REFERENCES

    conversation = customer_writes(cast, inbox).conversation
    for n in range(MAX_REFERENCES + 5):
        customer_writes(
            cast, inbox, external_id=f"<c-{n}@customer.test>", thread_hints=("<c1@customer.test>",)
        )

    send(cast, conversation)

    references = smtp_server.received[0].message["References"].split()
    assert len(references) == MAX_REFERENCES
    assert references[0] == "<c1@customer.test>"
    assert references[-1] == f"<c-{MAX_REFERENCES + 4}@customer.test>"


def test_a_configured_reply_to_gets_the_conversation_token(cast, smtp_server):  # noqa: F811
    inbox = use_smtp(cast.email, smtp_server, reply_to="Helpdesk <desk@support.test>")
    conversation = customer_writes(cast, inbox).conversation

    send(cast, conversation)

    reply_to = parseaddr(smtp_server.received[0].message["Reply-To"])[1]
    assert reply_to.startswith("desk+c") and reply_to.endswith("@support.test")
    assert tokens.conversation_number(reply_to) == conversation.number
