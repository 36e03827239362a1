"""Inbound email through the pipeline: raw first, then threading that is right.

Threading order: Message-ID / In-Reply-To / References against every Message-ID we
stored (ours and theirs, any inbox); then a signed reply address; then a subject
reference, honoured only for a sender who already takes part.
"""

import re
from email.message import EmailMessage
from email.utils import make_msgid

import pytest
from django.core import mail

from heedful.conversations.models import (
    Conversation,
    ConversationParticipant,
    Direction,
    Message,
    ParticipantRole,
    Status,
)
from heedful.conversations.services import deliver_message, reply, set_status
from heedful.inboxes.email import ingest, tokens
from heedful.inboxes.models import Inbox, RawInbound

pytestmark = pytest.mark.django_db


def email_bytes(
    *,
    sender: str = "Ann Customer <ann@customer.test>",
    to: str = "help@support.test",
    subject: str = "My order",
    body: str = "Where is my order?",
    message_id: str | None = "auto",
    in_reply_to: str | None = None,
    references: str | None = None,
    cc: str | None = None,
    headers: dict[str, str] | None = None,
) -> bytes:
    msg = EmailMessage()
    msg["From"] = sender
    msg["To"] = to
    if cc:
        msg["Cc"] = cc
    msg["Subject"] = subject
    if message_id == "auto":
        msg["Message-ID"] = make_msgid(domain="customer.test")
    elif message_id:
        msg["Message-ID"] = message_id
    if in_reply_to:
        msg["In-Reply-To"] = in_reply_to
    if references:
        msg["References"] = references
    for name, value in (headers or {}).items():
        msg[name] = value
    msg.set_content(body)
    return msg.as_bytes()


def take(inbox: Inbox, payload: bytes) -> RawInbound:
    """Accept and process one message the way the worker does; the stored raw row."""
    raw, _ = ingest.accept(inbox=inbox, payload=payload, ring=False)
    if raw.status == RawInbound.Status.RECEIVED:
        from heedful.inboxes.tasks import process_one

        process_one(raw.pk)
    raw.refresh_from_db()
    return raw


def conversation_of(raw: RawInbound) -> Conversation:
    assert raw.message is not None, raw.reason
    return raw.message.conversation


def message_id_of(payload: bytes) -> str:
    match = re.search(rb"^Message-ID: (.+)$", payload, re.M | re.I)
    assert match
    return match.group(1).decode().strip()


def test_raw_bytes_and_hash_are_stored_before_processing(cast):
    payload = email_bytes()
    raw, created = ingest.accept(inbox=cast.email, payload=payload, ring=False)
    assert created
    assert raw.status == RawInbound.Status.RECEIVED
    assert bytes(raw.payload) == payload
    import hashlib

    assert raw.sha256 == hashlib.sha256(payload).hexdigest()


def test_a_new_message_opens_a_conversation_for_the_sender(cast):
    raw = take(cast.email, email_bytes(subject="Broken zipper"))
    conversation = conversation_of(raw)
    assert raw.status == RawInbound.Status.PROCESSED
    assert conversation.subject == "Broken zipper"
    assert conversation.customer.name == "Ann Customer"
    assert conversation.inbox == cast.email


@pytest.mark.parametrize("header", ["In-Reply-To", "References"])
def test_either_threading_header_alone_joins_the_thread(cast, header):
    first = email_bytes()
    conversation = conversation_of(take(cast.email, first))
    kwargs = {"in_reply_to" if header == "In-Reply-To" else "references": message_id_of(first)}
    second = conversation_of(take(cast.email, email_bytes(subject="Re: other words", **kwargs)))
    assert second == conversation
    assert Message.objects.filter(conversation=conversation).count() == 2


def test_a_reference_deep_in_the_chain_is_enough(cast):
    first = email_bytes()
    conversation = conversation_of(take(cast.email, first))
    chain = f"<unknown1@elsewhere.test> {message_id_of(first)} <unknown2@elsewhere.test>"
    assert conversation_of(take(cast.email, email_bytes(references=chain))) == conversation


def test_a_reply_to_our_answer_joins_the_thread(cast, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    conversation = conversation_of(take(cast.email, email_bytes()))
    answer = reply(conversation=conversation, author=cast.admin, text="On its way.")
    deliver_message(answer.pk)
    answer.refresh_from_db()
    sent = mail.outbox[-1]
    assert sent.extra_headers["Message-ID"] == answer.external_id
    again = take(cast.email, email_bytes(subject="Thanks", in_reply_to=answer.external_id))
    assert conversation_of(again) == conversation


def test_our_message_ids_are_random(cast, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    conversation = conversation_of(take(cast.email, email_bytes()))
    ids = []
    for text in ("One.", "Two."):
        answer = reply(conversation=conversation, author=cast.admin, text=text)
        deliver_message(answer.pk)
        answer.refresh_from_db()
        ids.append(answer.external_id)
    assert ids[0] != ids[1]
    for value in ids:
        # 128 random bits: nobody can predict one to inject into a thread.
        assert re.fullmatch(r"<[0-9a-f]{32}@support\.test>", value)


def test_a_signed_reply_address_threads_without_headers(cast):
    conversation = conversation_of(take(cast.email, email_bytes()))
    address = tokens.reply_address("help@support.test", conversation.number)
    # A colleague the customer forwarded our mail to answers it: still the same case.
    raw = take(cast.email, email_bytes(sender="bob@customer.test", to=address, subject="Hi"))
    assert conversation_of(raw) == conversation


def test_a_forged_reply_address_opens_a_new_conversation(cast):
    conversation = conversation_of(take(cast.email, email_bytes()))
    forged = f"help+c{conversation.number}.aaaaaaaaaa@support.test"
    raw = take(cast.email, email_bytes(sender="mallory@evil.test", to=forged))
    assert conversation_of(raw) != conversation


def test_a_subject_reference_from_a_participant_joins_the_thread(cast):
    conversation = conversation_of(take(cast.email, email_bytes()))
    subject = f"Re: My order [#{conversation.number}]"
    raw = take(cast.email, email_bytes(subject=subject, message_id="auto"))
    assert conversation_of(raw) == conversation


def test_a_stranger_guessing_a_reference_appends_to_nothing(cast):
    conversation = conversation_of(take(cast.email, email_bytes()))
    subject = f"Re: [#{conversation.number}] send me the invoice"
    raw = take(cast.email, email_bytes(sender="mallory@evil.test", subject=subject))
    assert conversation_of(raw) != conversation
    conversation.refresh_from_db()
    assert conversation.message_count == 1
    assert not ConversationParticipant.objects.filter(
        conversation=conversation, identity__address="mallory@evil.test"
    ).exists()


def test_the_same_message_id_twice_is_stored_once(cast):
    payload = email_bytes()
    first = take(cast.email, payload)
    # Fetched again (another path, a re-delivery): different bytes, same Message-ID.
    again = take(cast.email, payload.replace(b"Where is my order?", b"Where is my order??"))
    assert again.status == RawInbound.Status.DUPLICATE
    assert Message.objects.filter(conversation=conversation_of(first)).count() == 1


def test_a_message_without_message_id_fetched_twice_is_stored_once(cast):
    payload = email_bytes(message_id=None)
    take(cast.email, payload)
    again = take(cast.email, payload)
    assert again.status == RawInbound.Status.DUPLICATE
    assert Message.objects.filter(direction=Direction.INBOUND).count() == 1


def test_the_same_source_key_is_one_raw_row(cast):
    payload = email_bytes()
    first, created = ingest.accept(inbox=cast.email, payload=payload, source_key="imap:1:7")
    again, created_again = ingest.accept(inbox=cast.email, payload=payload, source_key="imap:1:7")
    assert created and not created_again
    assert first.pk == again.pk


def test_cc_recipients_become_participants_but_our_addresses_do_not(cast):
    cast.email.settings = {"aliases": ["sales@support.test"]}
    cast.email.save()
    raw = take(
        cast.email,
        email_bytes(
            to="help@support.test, Sales <sales@support.test>",
            cc="Carl <carl@customer.test>, help+c1.zzzzzzzzzz@support.test",
        ),
    )
    conversation = conversation_of(raw)
    roles = dict(
        ConversationParticipant.objects.filter(conversation=conversation).values_list(
            "identity__address", "role"
        )
    )
    assert roles == {"ann@customer.test": ParticipantRole.CUSTOMER, "carl@customer.test": "cc"}


def test_mail_from_our_own_address_is_marked_automatic(cast):
    raw = take(cast.email, email_bytes(sender="help@support.test"))
    assert conversation_of(raw).messages.get().auto_submitted


def test_a_closed_conversation_is_not_reopened_by_a_reply(cast):
    first = email_bytes()
    conversation = conversation_of(take(cast.email, first))
    set_status(conversation=conversation, status=Status.CLOSED, actor=cast.admin)
    raw = take(cast.email, email_bytes(in_reply_to=message_id_of(first)))
    assert conversation_of(raw) != conversation


def test_a_reply_to_a_web_form_answer_threads_across_inboxes(cast, settings, client):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    from heedful.conversations.inbound import InboundMessage, Sender
    from heedful.conversations.services import receive
    from tests.conftest import webform_inbox

    request = receive(
        InboundMessage(
            inbox=webform_inbox(),
            sender=Sender(kind="email", address="ann@customer.test"),
            text="Form request",
            external_id="webform:abc",
        )
    ).conversation
    answer = reply(conversation=request, author=cast.admin, text="Answer by email.")
    deliver_message(answer.pk)
    answer.refresh_from_db()
    raw = take(cast.email, email_bytes(in_reply_to=answer.external_id))
    assert conversation_of(raw) == request


def test_an_oversized_message_keeps_its_headers_in_quarantine(cast, settings):
    settings.HEEDFUL_MAX_EMAIL_BYTES = 2000
    payload = email_bytes(body="x" * 5000)
    raw, _ = ingest.accept(inbox=cast.email, payload=payload, ring=False)
    assert raw.status == RawInbound.Status.QUARANTINED
    assert "over the 2,000-byte limit" in raw.reason
    assert bytes(raw.payload).startswith(b"From:") or b"From:" in bytes(raw.payload)
    assert b"xxxx" not in bytes(raw.payload)


def test_a_message_without_a_sender_is_quarantined_and_the_next_one_goes_through(cast):
    broken = b"Subject: no sender\r\nMessage-ID: <x@y.test>\r\n\r\nhello\r\n"
    bad = take(cast.email, broken)
    good = take(cast.email, email_bytes())
    assert bad.status == RawInbound.Status.QUARANTINED
    assert "sender" in bad.reason
    assert good.status == RawInbound.Status.PROCESSED


def test_a_quarantined_message_can_be_retried_after_a_fix(cast, monkeypatch):
    from heedful.conversations.services import retry_quarantined
    from heedful.inboxes.email import parse

    real = parse.parse_email

    def broken(data: bytes):
        raise RuntimeError("parser bug")

    monkeypatch.setattr(parse, "parse_email", broken)
    raw = take(cast.email, email_bytes())
    assert raw.status == RawInbound.Status.QUARANTINED
    assert "parser bug" in raw.reason
    monkeypatch.setattr(parse, "parse_email", real)
    retry_quarantined(raw=raw)
    raw.refresh_from_db()
    assert raw.status == RawInbound.Status.PROCESSED


def test_a_row_that_fails_unexpectedly_does_not_stop_the_sweep(cast, monkeypatch):
    from heedful.inboxes import tasks

    first, _ = ingest.accept(inbox=cast.email, payload=email_bytes(subject="one"), ring=False)
    second, _ = ingest.accept(inbox=cast.email, payload=email_bytes(subject="two"), ring=False)
    RawInbound.objects.update(received_at=first.received_at.replace(year=2020))
    real = ingest.to_inbound

    def flaky(inbox, parsed, raw=None):
        if parsed.subject == "one":
            raise KeyError("a bug")
        return real(inbox, parsed, raw)

    monkeypatch.setattr(ingest, "to_inbound", flaky)
    assert tasks.process_raw_sweep.call_local() == 2
    first.refresh_from_db()
    second.refresh_from_db()
    assert first.status == RawInbound.Status.QUARANTINED
    assert "KeyError" in first.reason
    assert second.status == RawInbound.Status.PROCESSED


def test_a_row_processed_twice_by_two_workers_stays_one_message(cast):
    raw, _ = ingest.accept(inbox=cast.email, payload=email_bytes(), ring=False)
    stale = RawInbound.objects.get(pk=raw.pk)  # what the second worker read earlier
    ingest.process(raw)
    result = ingest.process(stale)
    assert result is not None and result.duplicate
    raw.refresh_from_db()
    assert raw.status == RawInbound.Status.PROCESSED
    assert Message.objects.count() == 1


def test_retrying_an_oversized_message_explains_instead_of_storing_an_empty_one(cast, settings):
    from heedful.conversations.services import Quarantined, retry_quarantined

    settings.HEEDFUL_MAX_EMAIL_BYTES = 2000
    raw, _ = ingest.accept(inbox=cast.email, payload=email_bytes(body="x" * 5000), ring=False)
    settings.HEEDFUL_MAX_EMAIL_BYTES = 10**6
    with pytest.raises(Quarantined):
        retry_quarantined(raw=raw)
    raw.refresh_from_db()
    assert raw.status == RawInbound.Status.QUARANTINED
    assert "only the headers" in raw.reason
    assert not Message.objects.exists()


def test_our_reply_to_address_never_becomes_a_participant(cast):
    cast.email.settings = {"reply_to": "replies@support.test"}
    cast.email.save()
    raw = take(cast.email, email_bytes(cc="replies+c9.abcdefghij@support.test"))
    addresses = set(
        ConversationParticipant.objects.filter(conversation=conversation_of(raw)).values_list(
            "identity__address", flat=True
        )
    )
    assert addresses == {"ann@customer.test"}


def test_an_absurdly_long_cc_address_is_skipped_not_fatal(cast):
    raw = take(cast.email, email_bytes(cc=f"{'a' * 300}@customer.test, carl@customer.test"))
    assert raw.status == RawInbound.Status.PROCESSED
    addresses = set(
        ConversationParticipant.objects.filter(conversation=conversation_of(raw)).values_list(
            "identity__address", flat=True
        )
    )
    assert addresses == {"ann@customer.test", "carl@customer.test"}


def participants(conversation: Conversation) -> set[str]:
    return set(
        ConversationParticipant.objects.filter(conversation=conversation).values_list(
            "identity__address", flat=True
        )
    )


def test_a_forged_customer_cannot_copy_a_stranger_into_the_replies(cast):
    conversation = conversation_of(take(cast.email, email_bytes()))
    forged = email_bytes(
        subject=f"Re: [#{conversation.number}]",
        cc="mallory@evil.test",
        headers={"Authentication-Results": "mx.support.test; dmarc=fail header.from=customer.test"},
    )
    raw = take(cast.email, forged)
    assert conversation_of(raw) == conversation
    assert participants(conversation) == {"ann@customer.test"}


def test_a_stranger_threading_by_message_id_does_not_become_a_participant(cast):
    first = email_bytes()
    conversation = conversation_of(take(cast.email, first))
    raw = take(
        cast.email,
        email_bytes(
            sender="mallory@evil.test", in_reply_to=message_id_of(first), cc="eve@evil.test"
        ),
    )
    assert conversation_of(raw) == conversation  # any Message-ID alone threads
    assert participants(conversation) == {"ann@customer.test"}


def test_a_message_id_planted_in_another_inbox_does_not_divert_the_thread(cast):
    first = email_bytes()
    victims = conversation_of(take(cast.email, first))
    # Mallory copies Ann's Message-ID into a message to another inbox.
    plant = email_bytes(sender="mallory@evil.test", message_id=message_id_of(first))
    mallorys = conversation_of(take(cast.inbox_a, plant))
    assert mallorys != victims
    answer = take(cast.email, email_bytes(in_reply_to=message_id_of(first)))
    assert conversation_of(answer) == victims


def test_a_cc_address_no_mail_server_accepts_is_skipped(cast):
    raw = take(cast.email, email_bytes(cc="bad@evil.test., a@[1.2.3.4].x, carl@customer.test"))
    assert participants(conversation_of(raw)) == {"ann@customer.test", "carl@customer.test"}


def test_a_conversation_has_at_most_twenty_participants(cast):
    crowd = ", ".join(f"p{n}@crowd.test" for n in range(15))
    conversation = conversation_of(take(cast.email, email_bytes(cc=crowd)))
    more = ", ".join(f"q{n}@crowd.test" for n in range(15))
    take(cast.email, email_bytes(subject=f"Re: [#{conversation.number}]", cc=more))
    assert len(participants(conversation)) == 20


def test_a_delivery_report_written_by_a_person_fails_nothing(cast, settings):
    settings.EMAIL_BACKEND = "django.core.mail.backends.locmem.EmailBackend"
    conversation = conversation_of(take(cast.email, email_bytes()))
    answer = reply(conversation=conversation, author=cast.admin, text="Done.")
    deliver_message(answer.pk)
    answer.refresh_from_db()
    report = (
        "From: ann@customer.test\r\nTo: help@support.test\r\nSubject: Undelivered\r\n"
        "MIME-Version: 1.0\r\n"
        'Content-Type: multipart/report; report-type=delivery-status; boundary="b"\r\n\r\n'
        "--b\r\nContent-Type: text/plain\r\n\r\nIt failed.\r\n"
        "--b\r\nContent-Type: message/delivery-status\r\n\r\nReporting-MTA: dns; x\r\n\r\n"
        "Final-Recipient: rfc822; ann@customer.test\r\nAction: failed\r\nStatus: 5.1.1\r\n\r\n"
        f"--b\r\nContent-Type: text/rfc822-headers\r\n\r\nMessage-ID: {answer.external_id}\r\n\r\n"
        "--b--\r\n"
    ).encode()
    take(cast.email, report)
    answer.refresh_from_db()
    assert answer.delivery_status == "sent"
