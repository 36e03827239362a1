"""The portal's one access rule, with the standing cast: customer one never sees customer
two's conversations (list, URL, number, attachment id), nobody ever sees a note, a
withdrawn or not-yet-sent reply, and organization sharing opens exactly what it says."""

from datetime import timedelta
from typing import Any

import pytest
from django.core.files.base import ContentFile
from django.test import Client
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from heedful.conversations.inbound import InboundAttachment, Sender
from heedful.conversations.models import Attachment, DeliveryStatus, Message, Status
from heedful.conversations.services import (
    mark_spam,
    merge_conversations,
    merge_customers,
    note,
    receive,
    reply,
    set_status,
)
from heedful.customers.models import Organization
from heedful.inboxes.models import Inbox
from heedful.portal.auth import SESSION_CUSTOMER
from heedful.portal.requests import friendly_status, portal_conversations

pytestmark = pytest.mark.django_db
NOTE = "SECRET-NOTE-7731 <script>alert('note')</script> the customer is difficult"
CANCELLED = "WITHDRAWN-REPLY-4410 do not send this"
PENDING = "PENDING-REPLY-9902 still in the undo window"
AUTOMATIC = "AUTO-ACK-5150 we received your message"


def portal_client(customer: Any) -> Client:
    client = Client()
    session = client.session
    session[SESSION_CUSTOMER] = customer.pk
    session.save()
    return client


def pages_of(client: Client, numbers: list[int]) -> str:
    """Every portal page this customer can reach, concatenated."""
    html = [
        client.get("/portal/").content.decode(),
        client.get("/portal/requests/new/").content.decode(),
    ]
    html += [client.get(f"/portal/requests/{n}/").content.decode() for n in numbers]
    return "\n".join(html)


@pytest.fixture
def world(cast: Any, settings: Any) -> Any:
    """Customer one on email and SMS (two records, merged), customer two on email; notes,
    a withdrawn reply, a pending one and an attachment on each."""
    sms = Inbox.objects.create(kind="sms", name="SMS")
    one_email = cast.conversation_a(
        subject="Parcel lost",
        attachments=(InboundAttachment("receipt-one.pdf", "application/pdf", b"%PDF one"),),
    )
    one_sms = receive(
        cast.inbound(
            inbox=sms,
            sender=Sender(kind="phone", address="+14155550100"),
            subject="",
            text="Texting about my refund",
        )
    ).conversation
    one = cast.customer("one@customer.test")
    cast.sms_customer = one_sms.customer
    merge_customers(source=one_sms.customer, target=one, actor=cast.admin)
    two_conv = cast.conversation_b(
        subject="Two's private matter",
        attachments=(InboundAttachment("two-secret.pdf", "application/pdf", b"%PDF two"),),
    )
    two = cast.customer("two@customer.test")
    for conversation, agent in ((one_email, cast.agent_a), (two_conv, cast.agent_b)):
        note(conversation=conversation, author=agent, text=NOTE)
        sent = reply(
            conversation=conversation, author=agent, text=f"Sent answer {conversation.number}"
        )
        Message.objects.filter(pk=sent.pk).update(delivery_status=DeliveryStatus.SENT)
        withdrawn = reply(conversation=conversation, author=agent, text=CANCELLED)
        Message.objects.filter(pk=withdrawn.pk).update(delivery_status=DeliveryStatus.CANCELLED)
        waiting = reply(conversation=conversation, author=agent, text=PENDING)
        Message.objects.filter(pk=waiting.pk).update(
            delivery_status=DeliveryStatus.PENDING,
            send_after=timezone.now() + timedelta(seconds=30),
        )
        automatic = reply(
            conversation=conversation, author=agent, text=AUTOMATIC, is_automatic=True
        )
        Message.objects.filter(pk=automatic.pk).update(delivery_status=DeliveryStatus.SENT)
        noted = Message.objects.get(conversation=conversation, is_note=True)
        on_note = Attachment(message=noted, filename="note.pdf", size=6, sha256="0")
        on_note.file.save("note", ContentFile(b"SECRET"), save=True)
    cast.one, cast.two = one, two
    cast.one_email, cast.one_sms, cast.two_conv = one_email, one_sms, two_conv
    return cast


def test_my_requests_lists_every_channel_newest_first(world: Any) -> None:
    client = portal_client(world.one)
    html = client.get("/portal/").content.decode()
    assert "Parcel lost" in html and "Texting about my refund" in html
    assert "SMS" in html and "Email" in html
    assert html.index("Parcel lost") < html.index("Texting about my refund")  # newer reply
    assert "Two&#x27;s private matter" not in html and "Two's private" not in html


def test_customer_one_cannot_open_customer_twos_request(world: Any) -> None:
    client = portal_client(world.one)
    number = world.two_conv.number
    assert client.get(f"/portal/requests/{number}/").status_code == 404
    response = client.post(
        f"/portal/requests/{number}/", {"message": "let me in", "submission_id": "abc"}
    )
    assert response.status_code == 404
    assert not Message.objects.filter(body_text="let me in").exists()


@pytest.mark.parametrize("number", ["0", "99999999", "9" * 30, "-1"])
def test_guessed_numbers_are_not_found(world: Any, number: str) -> None:
    assert portal_client(world.one).get(f"/portal/requests/{number}/").status_code == 404


def test_attachments_are_downloaded_only_by_those_who_may_see_them(world: Any) -> None:
    mine = Attachment.objects.get(filename="receipt-one.pdf")
    theirs = Attachment.objects.get(filename="two-secret.pdf")
    on_note = Attachment.objects.filter(filename="note.pdf")
    client = portal_client(world.one)
    response = client.get(f"/portal/attachments/{mine.pk}/")
    assert response.status_code == 200 and b"".join(response.streaming_content) == b"%PDF one"
    assert response["Content-Type"] == "application/octet-stream"
    assert client.get(f"/portal/attachments/{theirs.pk}/").status_code == 404
    for attachment in on_note:
        assert client.get(f"/portal/attachments/{attachment.pk}/").status_code == 404
    assert client.get("/portal/attachments/999999/").status_code == 404
    assert Client().get(f"/portal/attachments/{mine.pk}/").status_code == 302


def test_no_note_withdrawn_pending_or_automatic_message_reaches_any_page(world: Any) -> None:
    client = portal_client(world.one)
    html = pages_of(client, [world.one_email.number, world.one_sms.number])
    assert f"Sent answer {world.one_email.number}" in html
    for secret in ("SECRET-NOTE-7731", "alert(&#x27;note&#x27;)", CANCELLED, PENDING, AUTOMATIC):
        assert secret not in html
    assert "note.pdf" not in html
    # The list's preview never carries them either: it shows no preview at all.
    assert "the customer is difficult" not in html


def test_a_pending_reply_appears_once_its_undo_window_has_passed(clock: Any, world: Any) -> None:
    clock.advance(seconds=31)
    html = portal_client(world.one).get(f"/portal/requests/{world.one_email.number}/")
    assert PENDING in html.content.decode()


def test_agents_appear_by_first_name_only(world: Any) -> None:
    world.agent_a.name = "Alice Agentson"
    world.agent_a.save()
    html = portal_client(world.one).get(f"/portal/requests/{world.one_email.number}/")
    text = html.content.decode()
    assert "Alice" in text and "Agentson" not in text and world.agent_a.email not in text


def test_message_text_is_escaped(world: Any) -> None:
    hostile = "<img src=x onerror=alert(1)>\nsecond line"
    receive(world.inbound(text=hostile, conversation_hint=world.one_email.number))
    html = portal_client(world.one).get(f"/portal/requests/{world.one_email.number}/")
    text = html.content.decode()
    assert "<img src=x" not in text and "&lt;img src=x onerror=alert(1)&gt;<br>second line" in text


def test_spam_and_merged_conversations_are_hidden(world: Any) -> None:
    client = portal_client(world.one)
    mark_spam(conversation=world.one_sms, actor=world.admin)
    assert "Texting about my refund" not in client.get("/portal/").content.decode()
    assert client.get(f"/portal/requests/{world.one_sms.number}/").status_code == 404
    mark_spam(conversation=world.one_sms, actor=world.admin, spam=False)
    merge_conversations(source=world.one_sms, target=world.one_email, actor=world.admin)
    listed = client.get("/portal/").content.decode()
    assert f"#{world.one_sms.number}<" not in listed and f"#{world.one_email.number}<" in listed
    # The merged number leads to the surviving conversation.
    response = client.get(f"/portal/requests/{world.one_sms.number}/")
    assert response.status_code == 302
    assert response["Location"] == f"/portal/requests/{world.one_email.number}/"


def test_a_merged_number_of_someone_else_is_still_not_found(world: Any) -> None:
    other = world.conversation_b(subject="Two again", external_id="two-2")
    merge_conversations(source=other, target=world.two_conv, actor=world.admin)
    client = portal_client(world.one)
    assert client.get(f"/portal/requests/{other.number}/").status_code == 404


def test_there_is_no_portal_search_and_the_list_ignores_queries(world: Any) -> None:
    with pytest.raises(NoReverseMatch):
        reverse("customer_portal:search")
    client = portal_client(world.one)
    assert client.get("/portal/search/?q=private").status_code == 404
    html = client.get("/portal/?q=private&scope=organization").content.decode()
    assert "private matter" not in html


def test_organization_sharing_on_and_off(world: Any) -> None:
    org = Organization.objects.create(name="Acme", share_requests=False)
    for customer in (world.one, world.two):
        customer.organization = org
        customer.save()
    client = portal_client(world.one)
    number = world.two_conv.number
    assert "private matter" not in client.get("/portal/?scope=organization").content.decode()
    assert client.get(f"/portal/requests/{number}/").status_code == 404
    assert "Everyone at Acme" not in client.get("/portal/").content.decode()

    org.share_requests = True
    org.save()
    assert "private matter" not in client.get("/portal/").content.decode()  # mine by default
    shared = client.get("/portal/?scope=organization").content.decode()
    assert "private matter" in shared and "Opened by" in shared
    thread = client.get(f"/portal/requests/{number}/").content.decode()
    assert f"Sent answer {number}" in thread and "SECRET-NOTE-7731" not in thread
    assert "Only" in thread and 'name="message"' not in thread  # members read, not reply
    response = client.post(f"/portal/requests/{number}/", {"message": "x", "submission_id": "a"})
    assert response.status_code == 404
    attachment = Attachment.objects.get(filename="two-secret.pdf")
    assert client.get(f"/portal/attachments/{attachment.pk}/").status_code == 200

    world.two.organization = None
    world.two.save()
    assert client.get(f"/portal/requests/{number}/").status_code == 404


def test_statuses_are_in_the_customers_words(world: Any) -> None:
    assert friendly_status(Status.NEW) == "Open"
    assert friendly_status(Status.ON_HOLD) == "Open"
    assert friendly_status(Status.PENDING) == "Awaiting your reply"
    set_status(conversation=world.one_email, status=Status.SOLVED, actor=world.agent_a)
    html = portal_client(world.one).get("/portal/").content.decode()
    assert "Solved" in html


def test_a_merged_customer_keeps_seeing_their_requests(world: Any) -> None:
    # A session opened as the SMS record, merged into customer one since, is customer one.
    client = portal_client(world.sms_customer)
    assert set(portal_conversations(world.one).values_list("pk", flat=True)) == {
        world.one_email.pk,
        world.one_sms.pk,
    }
    html = client.get("/portal/").content.decode()
    assert "Parcel lost" in html and "Texting about my refund" in html
    assert client.session[SESSION_CUSTOMER] == world.one.pk


def test_paging(world: Any) -> None:
    for n in range(21):
        world.conversation_a(subject=f"Many {n}", external_id=f"many-{n}")
    client = portal_client(world.one)
    first = client.get("/portal/").content.decode()
    assert "Page 1 of 2" in first and "Many 20" in first and "Parcel lost" not in first
    assert "Parcel lost" in client.get("/portal/?page=2").content.decode()
    assert client.get("/portal/?page=banana").status_code == 200
