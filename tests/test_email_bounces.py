"""Bounces (RFC 3464 delivery status notifications) and the suppression of addresses
that keep hard-bouncing: a DSN marks our reply failed with the reason, visibly; an
address suppressed after repeated hard bounces is refused before any SMTP contact."""

from datetime import timedelta

import pytest
from django.utils import timezone

from heedful.conversations.inbound import Sender
from heedful.conversations.models import DeliveryStatus, Direction, EventType, Message
from heedful.conversations.services import deliver_message, receive, reply, retry_delivery
from heedful.core.errors import NotFound, PermissionDenied
from heedful.inboxes.email import ingest
from heedful.inboxes.email.bounces import is_suppressed, lift_suppression, record_bounce
from heedful.inboxes.email.parsed import Bounce
from heedful.inboxes.models import EmailSuppression, Inbox, RawInbound
from tests.email_support import (
    secrets_key,  # noqa: F401 (an autouse fixture)
    use_smtp,
)
from tests.smtp_server import SmtpServer, smtp_server  # noqa: F401 (a fixture)

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

CUSTOMER = "ann@customer.test"


@pytest.fixture
def inbox(cast, smtp_server) -> Inbox:  # noqa: F811
    return use_smtp(cast.email, smtp_server)


def sent_reply(cast, inbox: Inbox, text: str = "Here is your answer.") -> Message:
    """A reply to the customer's (new) conversation, delivered over SMTP."""
    conversation = receive(
        cast.inbound(inbox=inbox, sender=Sender(kind="email", address=CUSTOMER))
    ).conversation
    message = reply(conversation=conversation, author=cast.agent_a, text=text)
    deliver_message(message.pk)
    message.refresh_from_db()
    return message


def dsn(
    original_id: str,
    *,
    recipient: str = CUSTOMER,
    status: str = "5.1.1",
    action: str = "failed",
    diagnostic: str = "550 5.1.1 <ann@customer.test>: Recipient address rejected",
    report_id: str = "<dsn-1@mx.support.test>",
) -> bytes:
    """A delivery status notification as Postfix writes one (RFC 3464)."""
    text = f"""\
From: MAILER-DAEMON@mx.support.test (Mail Delivery System)
To: help@support.test
Subject: Undelivered Mail Returned to Sender
Message-ID: {report_id}
Auto-Submitted: auto-replied
MIME-Version: 1.0
Content-Type: multipart/report; report-type=delivery-status; boundary="BOUNDARY"

--BOUNDARY
Content-Type: text/plain; charset=us-ascii

I'm sorry to have to inform you that your message could not
be delivered to one or more recipients.

--BOUNDARY
Content-Type: message/delivery-status

Reporting-MTA: dns; mx.support.test

Final-Recipient: rfc822; {recipient}
Original-Recipient: rfc822;{recipient}
Action: {action}
Status: {status}
Diagnostic-Code: smtp; {diagnostic}

--BOUNDARY
Content-Type: text/rfc822-headers

From: Shared <help@support.test>
To: {recipient}
Subject: Re: Where is my order?
Message-ID: {original_id}

--BOUNDARY--
"""
    return text.replace("\n", "\r\n").encode()


def ingest_dsn(inbox: Inbox, payload: bytes) -> RawInbound:
    raw, _ = ingest.accept(inbox=inbox, payload=payload, ring=False)
    ingest.process(raw)
    raw.refresh_from_db()
    return raw


def hard(message: Message, address: str = CUSTOMER) -> Bounce:
    return Bounce(
        original_message_ids=(message.external_id or "",),
        recipients=(address,),
        status="5.1.1",
        diagnostic="550 5.1.1 user unknown",
        permanent=True,
    )


# --- a report about our reply ------------------------------------------------------------


def test_a_bounce_report_marks_the_reply_failed_with_the_reason(cast, inbox):
    message = sent_reply(cast, inbox)
    assert message.delivery_status == DeliveryStatus.SENT

    raw = ingest_dsn(inbox, dsn(message.external_id))

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.delivery_error == (
        "Bounced: 5.1.1 550 5.1.1 <ann@customer.test>: Recipient address rejected"
    )
    assert raw.status == RawInbound.Status.PROCESSED
    assert raw.message_id == message.pk
    # The report itself is not a new conversation or message.
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1


def test_the_bounce_is_visible_in_the_conversation(cast, inbox):
    message = sent_reply(cast, inbox)

    ingest_dsn(inbox, dsn(message.external_id))

    event = message.conversation.events.filter(type=EventType.DELIVERY_FAILED).get()
    assert event.data["bounce"] is True
    assert event.data["status"] == "5.1.1"
    assert "Recipient address rejected" in event.data["diagnostic"]
    assert event.data["error"].startswith("Bounced: 5.1.1")


def test_a_delay_report_fails_nothing_but_is_noted(cast, inbox):
    message = sent_reply(cast, inbox)

    ingest_dsn(
        inbox,
        dsn(
            message.external_id,
            action="delayed",
            status="4.4.1",
            diagnostic="451 4.4.1 connection timed out",
        ),
    )

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    event = message.conversation.events.get(type=EventType.DELIVERY_FAILED)
    assert event.data["permanent"] is False
    assert event.data["error"].startswith("Delayed: 4.4.1")
    assert not EmailSuppression.objects.filter(address=CUSTOMER).exists()


def test_a_report_about_mail_we_never_sent_stays_a_message(cast, inbox):
    raw = ingest_dsn(inbox, dsn("<not-ours@elsewhere.test>"))

    assert raw.status == RawInbound.Status.PROCESSED
    kept = Message.objects.get(pk=raw.message_id)
    assert kept.direction == Direction.INBOUND
    assert kept.auto_submitted  # automatic: it will never be acknowledged
    assert not EmailSuppression.objects.exists()


def test_the_same_report_twice_counts_one_bounce(cast, inbox):
    message = sent_reply(cast, inbox)

    ingest_dsn(inbox, dsn(message.external_id, report_id="<dsn-a@mx.support.test>"))
    ingest_dsn(inbox, dsn(message.external_id, report_id="<dsn-b@mx.support.test>"))

    assert EmailSuppression.objects.get(address=CUSTOMER).hard_bounces == 1


# --- suppression -------------------------------------------------------------------------------


def test_repeated_hard_bounces_suppress_the_address_until_lifted(
    cast,
    inbox,
    smtp_server,  # noqa: F811
    settings,
):
    settings.HEEDFUL_BOUNCE_SUPPRESS_AFTER = 3
    for n in range(3):
        message = sent_reply(cast, inbox, f"Answer {n}")
        ingest_dsn(inbox, dsn(message.external_id, report_id=f"<dsn-{n}@mx.support.test>"))
    assert is_suppressed(CUSTOMER)
    delivered = len(smtp_server.received)

    refused = sent_reply(cast, inbox, "One more")

    assert refused.delivery_status == DeliveryStatus.FAILED
    assert refused.delivery_error.startswith(
        f"not sent: {CUSTOMER} is suppressed after 3 hard bounces"
    )
    assert len(smtp_server.received) == delivered  # the server was never asked

    lift_suppression(address=CUSTOMER, actor=cast.admin)
    again = sent_reply(cast, inbox, "After the fix")
    assert again.delivery_status == DeliveryStatus.SENT
    assert len(smtp_server.received) == delivered + 1


def test_a_suppressed_address_is_refused_without_contacting_the_server(cast):
    down = SmtpServer()  # never started: contacting it would be a transient failure
    cast.email.settings = {"outbound": "smtp", "smtp": down.smtp_settings()}
    cast.email.save(update_fields=["settings"])
    EmailSuppression.objects.create(address=CUSTOMER, hard_bounces=4, suppressed_at=timezone.now())

    message = sent_reply(cast, cast.email)

    assert message.delivery_status == DeliveryStatus.FAILED
    assert "suppressed after 4 hard bounces" in message.delivery_error


def test_hard_bounces_below_the_limit_do_not_suppress(cast, inbox, settings):
    settings.HEEDFUL_BOUNCE_SUPPRESS_AFTER = 3
    for _ in range(2):
        record_bounce(inbox=inbox, bounce=hard(sent_reply(cast, inbox)))

    row = EmailSuppression.objects.get(address=CUSTOMER)
    assert row.hard_bounces == 2
    assert row.suppressed_at is None
    assert row.last_reason == "5.1.1 550 5.1.1 user unknown"


def test_bounce_addresses_are_counted_lower_case(cast, inbox, settings):
    settings.HEEDFUL_BOUNCE_SUPPRESS_AFTER = 1

    record_bounce(inbox=inbox, bounce=hard(sent_reply(cast, inbox), address="Ann@Customer.TEST"))

    assert is_suppressed(CUSTOMER)


def test_a_lifted_address_that_bounces_again_is_suppressed_again(cast, inbox, settings):
    settings.HEEDFUL_BOUNCE_SUPPRESS_AFTER = 1
    record_bounce(inbox=inbox, bounce=hard(sent_reply(cast, inbox)))
    lifted = lift_suppression(address=CUSTOMER, actor=cast.admin)
    assert (lifted.hard_bounces, lifted.lifted_by) == (0, cast.admin)
    assert not is_suppressed(CUSTOMER)

    record_bounce(inbox=inbox, bounce=hard(sent_reply(cast, inbox)))

    assert is_suppressed(CUSTOMER)


def test_only_an_admin_lifts_a_suppression(cast, inbox, settings):
    settings.HEEDFUL_BOUNCE_SUPPRESS_AFTER = 1
    record_bounce(inbox=inbox, bounce=hard(sent_reply(cast, inbox)))

    with pytest.raises(PermissionDenied):
        lift_suppression(address=CUSTOMER, actor=cast.agent_a)
    with pytest.raises(NotFound):
        lift_suppression(address="nobody@customer.test", actor=cast.admin)
    assert is_suppressed(CUSTOMER)


def test_a_report_naming_no_message_of_ours_is_not_applied(cast, inbox):
    bounce = Bounce(
        original_message_ids=("<unknown@x.test>",),
        recipients=(CUSTOMER,),
        status="5.1.1",
        diagnostic="",
        permanent=True,
    )

    assert record_bounce(inbox=inbox, bounce=bounce) is None
    assert not EmailSuppression.objects.exists()


def test_a_suppressed_cc_is_left_off_but_the_customer_still_gets_the_reply(
    cast,
    inbox,
    smtp_server,  # noqa: F811
):
    EmailSuppression.objects.create(
        address="bob@customer.test", hard_bounces=3, suppressed_at=timezone.now()
    )
    conversation = receive(
        cast.inbound(
            inbox=inbox,
            sender=Sender(kind="email", address=CUSTOMER),
            cc=(Sender(kind="email", address="bob@customer.test"),),
        )
    ).conversation
    message = reply(conversation=conversation, author=cast.agent_a, text="Hello")

    assert deliver_message(message.pk) == DeliveryStatus.SENT
    assert smtp_server.received[0].rcpt_tos == (CUSTOMER,)


# --- which addresses a report counts against ----------------------------------------------

BOB = "bob@customer.test"


def copied_reply(cast, inbox: Inbox) -> Message:
    """A reply to the customer with Bob copied ("reply all"), delivered over SMTP."""
    conversation = receive(
        cast.inbound(
            inbox=inbox,
            sender=Sender(kind="email", address=CUSTOMER),
            cc=(Sender(kind="email", address=BOB),),
        )
    ).conversation
    message = reply(conversation=conversation, author=cast.agent_a, text="Hello both")
    deliver_message(message.pk)
    message.refresh_from_db()
    return message


def with_delivered(payload: bytes, address: str) -> bytes:
    """The report with a second recipient block saying `address` got the mail."""
    block = f"Final-Recipient: rfc822; {address}\r\nAction: delivered\r\nStatus: 2.0.0\r\n\r\n"
    marker = b"--BOUNDARY\r\nContent-Type: text/rfc822-headers"
    return payload.replace(marker, block.encode() + marker)


def test_delivery_records_whom_the_reply_was_copied_to(cast, inbox):
    message = copied_reply(cast, inbox)

    event = message.conversation.events.get(type=EventType.DELIVERED)
    assert event.data == {"message_id": message.pk, "cc": [BOB]}


def test_a_report_names_only_the_recipients_it_failed(cast, inbox):
    from heedful.inboxes.email.parse import parse_email

    payload = with_delivered(dsn("<x@support.test>"), BOB)

    bounce = parse_email(payload).bounce

    assert bounce is not None
    assert (bounce.recipients, bounce.permanent) == ((CUSTOMER,), True)


def test_a_recipient_the_report_delivered_to_is_not_counted(cast, inbox):
    message = copied_reply(cast, inbox)

    ingest_dsn(inbox, with_delivered(dsn(message.external_id), BOB))

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert list(EmailSuppression.objects.values_list("address", "hard_bounces")) == [(CUSTOMER, 1)]


def test_a_report_about_an_address_the_reply_never_went_to_changes_nothing(cast, inbox):
    message = sent_reply(cast, inbox)

    raw = ingest_dsn(inbox, dsn(message.external_id, recipient="cc@else.test"))

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert not message.conversation.events.filter(type=EventType.DELIVERY_FAILED).exists()
    assert not EmailSuppression.objects.exists()
    kept = Message.objects.get(pk=raw.message_id)  # someone still sees the report
    assert (kept.direction, bool(kept.auto_submitted)) == (Direction.INBOUND, True)


def test_a_bounced_copy_is_noted_and_the_reply_stays_sent(cast, inbox, settings):
    settings.HEEDFUL_BOUNCE_SUPPRESS_AFTER = 1
    message = copied_reply(cast, inbox)

    raw = ingest_dsn(inbox, dsn(message.external_id, recipient=BOB))

    message.refresh_from_db()
    assert (message.delivery_status, message.delivery_error) == (DeliveryStatus.SENT, "")
    assert raw.message_id == message.pk
    event = message.conversation.events.get(type=EventType.DELIVERY_FAILED)
    assert event.data["bounced_for"] == [BOB]
    assert event.data["error"].startswith(f"Bounced for {BOB}: 5.1.1")
    assert is_suppressed(BOB)
    assert not is_suppressed(CUSTOMER)


def test_a_copy_bounce_on_a_reply_delivered_before_copies_were_kept_is_not_applied(cast, inbox):
    message = copied_reply(cast, inbox)
    message.conversation.events.filter(type=EventType.DELIVERED).update(
        data={"message_id": message.pk}
    )

    assert record_bounce(inbox=inbox, bounce=hard(message, address=BOB)) is None
    assert not EmailSuppression.objects.exists()


# --- a report read again -------------------------------------------------------------------


def retried(cast, message: Message) -> Message:
    """The agent sends the failed reply again, and it is delivered."""
    retry_delivery(message=message, actor=cast.agent_a)
    deliver_message(message.pk)
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    return message


def test_the_same_report_read_again_is_applied_once(cast, inbox):
    message = sent_reply(cast, inbox)
    payload = dsn(message.external_id)
    first, _ = ingest.accept(inbox=inbox, payload=payload, source_key="imap:1:5", ring=False)
    again, _ = ingest.accept(inbox=inbox, payload=payload, source_key="imap:2:5", ring=False)

    ingest.process(first)
    ingest.process(again)

    assert message.conversation.events.filter(type=EventType.DELIVERY_FAILED).count() == 1
    again.refresh_from_db()
    assert again.status == RawInbound.Status.PROCESSED  # consumed, not a new conversation


def test_an_old_report_read_again_does_not_fail_a_reply_sent_again(cast, inbox):
    message = sent_reply(cast, inbox)
    payload = dsn(message.external_id)
    ingest_dsn(inbox, payload)
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    retried(cast, message)

    # The mailbox's UIDVALIDITY changed: the same report is fetched again under a new key.
    raw, _ = ingest.accept(inbox=inbox, payload=payload, source_key="imap:9:1", ring=False)
    ingest.process(raw)

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT
    assert EmailSuppression.objects.get(address=CUSTOMER).hard_bounces == 1


def test_a_report_with_its_own_id_is_applied_once_per_id(cast, inbox):
    message = sent_reply(cast, inbox)
    record_bounce(inbox=inbox, bounce=hard(message), report_id="<r1@mx>")
    retried(cast, message)

    record_bounce(inbox=inbox, bounce=hard(message), report_id="<r1@mx>")
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT

    # A new report about the new sending: the address still does not exist.
    record_bounce(inbox=inbox, bounce=hard(message), report_id="<r2@mx>")
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.conversation.events.filter(type=EventType.DELIVERY_FAILED).count() == 2


def test_a_report_written_before_the_reply_was_sent_again_does_not_fail_it(cast, inbox):
    message = sent_reply(cast, inbox)
    record_bounce(inbox=inbox, bounce=hard(message), report_id="<r1@mx>")
    written = timezone.now() - timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(sent_at=written - timedelta(minutes=1))
    retried(cast, message)

    # A second report about the first sending, arriving late.
    record_bounce(inbox=inbox, bounce=hard(message), report_id="<r0@mx>", reported_at=written)

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.SENT


def test_a_report_about_a_reply_sent_once_applies_whatever_its_date(cast, inbox):
    message = sent_reply(cast, inbox)
    skewed = timezone.now() - timedelta(days=2)  # the remote server's clock is wrong

    record_bounce(inbox=inbox, bounce=hard(message), report_id="<r1@mx>", reported_at=skewed)

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED


def test_a_reply_pending_after_a_retry_is_not_failed_by_a_report(cast, inbox):
    message = sent_reply(cast, inbox)
    record_bounce(inbox=inbox, bounce=hard(message), report_id="<r1@mx>")
    retry_delivery(message=message, actor=cast.agent_a)  # not yet delivered

    record_bounce(inbox=inbox, bounce=hard(message), report_id="<r2@mx>")

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.PENDING


def test_a_new_report_after_a_retry_fails_the_reply_again(cast, inbox):
    message = sent_reply(cast, inbox)
    ingest_dsn(inbox, dsn(message.external_id, report_id="<dsn-1@mx.support.test>"))
    retried(cast, message)

    ingest_dsn(inbox, dsn(message.external_id, report_id="<dsn-2@mx.support.test>"))

    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.FAILED
    assert message.conversation.events.filter(type=EventType.DELIVERY_FAILED).count() == 2
