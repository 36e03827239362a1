"""Replying and opening requests from the portal: the reply lands in the right
conversation (reopening a solved one), a double click is one message, a new request
belongs to the signed-in customer and counts as a contact for deflection."""

from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client

from heedful.conversations.models import (
    AuthorType,
    Conversation,
    Direction,
    EventType,
    Message,
    Status,
)
from heedful.conversations.services import set_status
from heedful.customers.models import Identity
from heedful.inboxes.models import Inbox
from heedful.knowledge.models import HelpEvent, HelpEventKind
from heedful.portal.auth import SESSION_CUSTOMER, SESSION_IDENTITY

pytestmark = pytest.mark.django_db
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def portal_client(customer: Any) -> Client:
    """Signed in as `customer` with their (verified) email address."""
    identity = Identity.objects.get(customer=customer, kind="email")
    Identity.objects.filter(pk=identity.pk).update(verified=True)
    client = Client(HTTP_USER_AGENT=BROWSER)
    session = client.session
    session[SESSION_CUSTOMER] = customer.pk
    session[SESSION_IDENTITY] = identity.pk
    session.save()
    return client


@pytest.fixture
def mine(cast: Any) -> Conversation:
    return cast.conversation_a(subject="Parcel lost")


@pytest.fixture
def client(cast: Any, mine: Conversation) -> Client:
    return portal_client(cast.customer("one@customer.test"))


def say(client: Client, conversation: Conversation, text: str, sid: str = "s1", **more: Any) -> Any:
    data = {"message": text, "submission_id": sid, **more}
    return client.post(f"/portal/requests/{conversation.number}/", data)


def test_a_reply_lands_in_its_conversation_as_the_customers_message(
    cast: Any, mine: Conversation, client: Client
) -> None:
    cast.conversation_a(subject="Another matter", external_id="other")  # not this one
    files = {"attachments": SimpleUploadedFile("photo.png", b"\x89PNG", "image/png")}
    response = say(client, mine, "It arrived broken.", **files)
    assert response.status_code == 302
    message = Message.objects.get(body_text="It arrived broken.")
    assert response["Location"] == f"/portal/requests/{mine.number}/?sent=1#m{message.pk}"
    assert message.conversation_id == mine.pk
    assert message.direction == Direction.INBOUND and message.author_type == AuthorType.CUSTOMER
    assert message.sender_identity.address == "one@customer.test"
    assert message.inbox.kind == "webform"
    assert [a.filename for a in message.attachments.all()] == ["photo.png"]
    page = client.get(response["Location"]).content.decode()
    assert "Your reply was sent" in page and "It arrived broken." in page


def test_a_reply_reopens_a_solved_conversation(
    cast: Any, mine: Conversation, client: Client
) -> None:
    set_status(conversation=mine, status=Status.SOLVED, actor=cast.agent_a)
    say(client, mine, "Actually, it is still broken.")
    mine.refresh_from_db()
    assert mine.status == Status.OPEN and mine.reopen_count == 1
    assert mine.events.filter(type=EventType.REOPENED).count() == 1


def test_a_double_click_is_one_message(mine: Conversation, client: Client) -> None:
    first = say(client, mine, "Twice?", sid="same-id")
    second = say(client, mine, "Twice?", sid="same-id")
    assert first.status_code == second.status_code == 302
    assert Message.objects.filter(body_text="Twice?").count() == 1
    say(client, mine, "Twice?", sid="new-id")  # sent again on purpose: a new message
    assert Message.objects.filter(body_text="Twice?").count() == 2


def test_an_empty_reply_is_a_form_error(mine: Conversation, client: Client) -> None:
    response = say(client, mine, "   ")
    assert response.status_code == 400 and "Please write your reply." in response.content.decode()
    assert Message.objects.filter(conversation=mine).count() == 1


def test_a_damaged_form_is_a_form_error(mine: Conversation, client: Client) -> None:
    response = say(client, mine, "hello", sid="<bad>")
    assert response.status_code == 400 and "reload the page" in response.content.decode()


def test_oversized_files_are_refused_with_413(
    mine: Conversation, client: Client, settings: Any
) -> None:
    settings.HEEDFUL_MAX_ATTACHMENT_BYTES = 10
    big = SimpleUploadedFile("big.bin", b"x" * 11, "application/octet-stream")
    response = say(client, mine, "with a file", attachments=big)
    assert response.status_code == 413 and "big.bin" in response.content.decode()
    settings.HEEDFUL_MAX_ATTACHMENTS = 1
    huge = SimpleUploadedFile("huge.bin", b"x" * 3_000_000, "application/octet-stream")
    response = say(client, mine, "with a huge file", attachments=huge)
    assert response.status_code == 413 and "too large" in response.content.decode()
    assert not Message.objects.filter(body_text__startswith="with a").exists()


def test_a_closed_conversation_offers_a_new_request(
    cast: Any, mine: Conversation, client: Client
) -> None:
    set_status(conversation=mine, status=Status.CLOSED, actor=cast.agent_a)
    page = client.get(f"/portal/requests/{mine.number}/").content.decode()
    assert "This request is closed" in page and "/portal/requests/new/" in page
    assert 'name="message"' not in page
    response = say(client, mine, "Hello again")
    assert response.status_code == 409 and "This request is closed" in response.content.decode()
    assert not Message.objects.filter(body_text="Hello again").exists()


def test_without_a_web_form_inbox_the_portal_says_so(mine: Conversation, client: Client) -> None:
    Inbox.objects.filter(kind="webform").update(is_active=False)
    assert say(client, mine, "Anyone?").status_code == 503
    response = client.post(
        "/portal/requests/new/", {"subject": "s", "message": "m", "submission_id": "n"}
    )
    assert response.status_code == 503


def test_a_new_request_opens_a_conversation_and_counts_as_a_contact(
    cast: Any, client: Client
) -> None:
    client.get("/portal/requests/new/")
    data = {"subject": "Cannot log in", "message": "The app says no.", "submission_id": "new1"}
    response = client.post("/portal/requests/new/", data)
    conversation = Conversation.objects.get(subject="Cannot log in")
    assert response.status_code == 302
    assert response["Location"] == f"/portal/requests/{conversation.number}/"
    assert conversation.customer == cast.customer("one@customer.test")
    assert conversation.inbox.kind == "webform"
    contact = HelpEvent.objects.get(kind=HelpEventKind.CONTACT)
    assert contact.conversation_id == conversation.pk
    assert contact.session.customer_id == conversation.customer_id
    # A double click is one request and one contact.
    client.post("/portal/requests/new/", data)
    assert Conversation.objects.filter(subject="Cannot log in").count() == 1
    assert HelpEvent.objects.filter(kind=HelpEventKind.CONTACT).count() == 1


def test_a_new_request_needs_a_subject_and_a_message(client: Client) -> None:
    response = client.post(
        "/portal/requests/new/", {"subject": "", "message": " ", "submission_id": "x"}
    )
    html = response.content.decode()
    assert response.status_code == 400
    assert (
        "Please give your request a subject." in html and "Please tell us how we can help." in html
    )


def test_the_new_request_page_suggests_articles_while_typing(client: Client) -> None:
    html = client.get("/portal/requests/new/").content.decode()
    assert 'hx-post="/help/suggest/"' in html and 'aria-live="polite"' in html
    assert (
        "htmx" in html
        and 'hx-include="#id_subject, #id_message, [name=csrfmiddlewaretoken]"' in html
    )


def test_signed_out_visitors_are_sent_to_sign_in(mine: Conversation) -> None:
    anonymous = Client()
    for url in ("/portal/", f"/portal/requests/{mine.number}/", "/portal/requests/new/"):
        response = anonymous.get(url)
        assert response.status_code == 302 and response["Location"] == "/portal/sign-in/"
    anonymous.post(f"/portal/requests/{mine.number}/", {"message": "x", "submission_id": "y"})
    assert Message.objects.filter(conversation=mine).count() == 1


@pytest.mark.parametrize(
    ("method", "url", "data", "status"),
    [
        ("post", "/portal/sign-in/", {"email": "a" * 5000 + "@example.com"}, 400),
        ("post", "/portal/sign-in/", {"email": "x@y.z\x00"}, 400),
        ("post", "/portal/sign-in/", {}, 400),
        ("post", "/portal/sign-in/check/", {"code": "١٢٣٤٥٦"}, 302),  # no pending sign-in
        ("get", "/portal/sign-in/%F0%9F%92%A5%ED%A0%80/", {}, 404),
        ("get", "/portal/requests/99999999999999999999999/", {}, 404),
        ("get", "/portal/attachments/99999999999999999999999/", {}, 404),
        ("get", "/portal/?page=99999999999999999999&scope=%00", {}, 200),
        (
            "post",
            "/portal/requests/new/",
            {"subject": "s", "message": "m", "submission_id": "x" * 99},
            400,
        ),
        (
            "post",
            "/portal/requests/new/",
            {"subject": "s\x00", "message": "m", "submission_id": "x"},
            400,
        ),
    ],
)
def test_bad_input_is_a_clear_answer_never_a_500(
    client: Client, method: str, url: str, data: dict[str, str], status: int
) -> None:
    response = getattr(client, method)(url, data)
    assert response.status_code == status


@pytest.mark.parametrize(("stored", "hint"), [(42, 42), ("42", None), (True, None), (-1, None)])
def test_a_stored_portal_reply_keeps_its_conversation_for_a_retry(
    stored: object, hint: int | None
) -> None:
    from heedful.inboxes.webform.intake import from_raw, to_raw

    fields = {"email": "a@example.com", "name": "A", "subject": "s", "message": "m"}
    payload = to_raw({**fields, "submission_id": "x" * 32, "conversation": stored}, [])
    inbox = Inbox(kind="webform", name="form")
    assert from_raw(inbox, payload).conversation_hint == hint
