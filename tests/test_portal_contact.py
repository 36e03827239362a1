"""The web form channel, end to end through the public "Contact us" page."""

import importlib
import re

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, override_settings

from heedful.conversations.models import Attachment, Conversation, ConversationEvent, Message
from heedful.customers.models import Identity
from heedful.inboxes.models import Inbox, RawInbound

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _webform(webform: Inbox) -> None:
    """Every test here posts to the web form inbox."""


def form_data(**overrides: object) -> dict[str, object]:
    data: dict[str, object] = {
        "name": "Ann Lee",
        "email": "Ann.Lee@Example.com",
        "subject": "My parcel is late",
        "message": "Order 1234 was due on Monday and has not arrived.",
        "submission_id": "3f2c1e0a9b8d4c7e",
    }
    data.update(overrides)
    return data


def post(client: Client, **overrides: object):  # type: ignore[no-untyped-def]
    return client.post("/contact/", form_data(**overrides))


def test_form_page_renders_with_a_fresh_submission_id(client: Client) -> None:
    first = client.get("/contact/")
    second = client.get("/contact/")
    assert first.status_code == 200
    assert b"Contact us" in first.content
    ids = [re.search(rb'name="submission_id" value="(\w+)"', r.content) for r in (first, second)]
    assert ids[0] and ids[1] and ids[0].group(1) != ids[1].group(1)


def test_valid_request_opens_a_conversation_and_shows_its_reference(client: Client) -> None:
    response = post(client)
    assert response.status_code == 302
    conversation = Conversation.objects.get()
    thanks = client.get(response["Location"])
    assert f"#{conversation.number}".encode() in thanks.content
    assert b"Ann.Lee@example.com" in thanks.content
    assert conversation.subject == "My parcel is late"
    assert conversation.inbox.kind == "webform"
    assert conversation.customer.name == "Ann Lee"


def test_the_typed_address_becomes_an_unverified_normalized_identity(client: Client) -> None:
    post(client)
    identity = Identity.objects.get()
    assert (identity.kind, identity.address, identity.verified) == (
        "email",
        "ann.lee@example.com",
        False,
    )


def test_request_is_stored_raw_and_writes_events(client: Client) -> None:
    post(client)
    raw = RawInbound.objects.get()
    assert raw.status == RawInbound.Status.PROCESSED
    assert raw.message == Message.objects.get()
    assert b"Order 1234" in bytes(raw.payload)
    types = set(ConversationEvent.objects.values_list("type", flat=True))
    assert {"created", "message_received"} <= types


def test_double_click_creates_one_conversation(client: Client) -> None:
    first = post(client)
    second = post(client)
    assert first.status_code == second.status_code == 302
    assert Conversation.objects.count() == 1
    assert Message.objects.count() == 1
    assert client.get(first["Location"]).content == client.get(second["Location"]).content


@pytest.mark.parametrize("missing", ["name", "email", "subject", "message"])
def test_missing_field_is_a_form_error_and_stores_nothing(client: Client, missing: str) -> None:
    response = post(client, **{missing: ""})
    assert response.status_code == 400
    assert b"This field is required." in response.content
    assert not Conversation.objects.exists()
    assert not RawInbound.objects.exists()


@pytest.mark.parametrize("address", ["not-an-email", "ann@", "@example.com", "a b@example.com"])
def test_malformed_email_is_a_form_error(client: Client, address: str) -> None:
    response = post(client, email=address)
    assert response.status_code == 400
    assert b"valid email address" in response.content
    assert not Conversation.objects.exists()


def test_form_keeps_what_the_customer_typed_after_an_error(client: Client) -> None:
    response = post(client, email="nope")
    assert b"Order 1234 was due on Monday" in response.content


def test_script_in_the_message_is_kept_as_text_and_never_rendered_as_html(
    client: Client, admin_client: Client
) -> None:
    payload = "<script>alert('x')</script> my order is late"
    assert post(client, message=payload).status_code == 302
    message = Message.objects.get()
    assert message.body_text == payload
    assert message.body_html == ""
    conversation = message.conversation
    page = admin_client.get(f"/admin/conversations/conversation/{conversation.pk}/change/")
    assert page.status_code == 200
    assert b"<script>alert" not in page.content
    assert b"&lt;script&gt;alert" in page.content


def test_markup_in_the_name_is_a_form_error(client: Client) -> None:
    response = post(client, name="<script>alert(1)</script>")
    assert response.status_code == 400
    assert b"without &lt; or &gt;" in response.content


def test_attachments_are_stored_under_generated_names(client: Client) -> None:
    upload = SimpleUploadedFile("../../etc/receipt.pdf", b"%PDF-1.4 receipt", "application/pdf")
    assert client.post("/contact/", {**form_data(), "attachments": [upload]}).status_code == 302
    attachment = Attachment.objects.get()
    assert attachment.filename == "receipt.pdf"
    assert attachment.size == len(b"%PDF-1.4 receipt")
    assert "receipt" not in attachment.file.name and ".." not in attachment.file.name


@override_settings(HEEDFUL_MAX_ATTACHMENT_BYTES=1024)
def test_oversized_attachment_is_a_form_error(client: Client) -> None:
    upload = SimpleUploadedFile("big.bin", b"x" * 2048, "application/octet-stream")
    response = client.post("/contact/", {**form_data(), "attachments": [upload]})
    assert response.status_code == 400
    assert b"big.bin is" in response.content
    assert not Conversation.objects.exists()


@override_settings(HEEDFUL_MAX_ATTACHMENTS=2)
def test_too_many_attachments_is_a_form_error(client: Client) -> None:
    uploads = [SimpleUploadedFile(f"f{i}.txt", b"hi", "text/plain") for i in range(3)]
    response = client.post("/contact/", {**form_data(), "attachments": uploads})
    assert response.status_code == 400
    assert b"at most 2 files" in response.content


@override_settings(HEEDFUL_CONTACT_RATE="2/m")
def test_submissions_are_rate_limited_per_client_address(client: Client) -> None:
    for n in range(2):
        assert post(client, submission_id=f"abc{n}").status_code == 302
    blocked = post(client, submission_id="abc9")
    assert blocked.status_code == 429
    assert b"several requests in a short time" in blocked.content
    assert Conversation.objects.count() == 2
    other = Client(REMOTE_ADDR="10.9.8.7")
    assert post(other, submission_id="abc10").status_code == 302


def test_damaged_submission_id_is_a_form_error(client: Client) -> None:
    response = post(client, submission_id="../../x")
    assert response.status_code == 400
    assert b"reload the page" in response.content


def test_tampered_confirmation_link_reveals_nothing(client: Client) -> None:
    response = client.get("/contact/thanks/not-a-real-token/")
    assert response.status_code == 404
    assert b"#" not in response.content.split(b"<main")[1].split(b"</main>")[0]


def test_processing_failure_keeps_the_request_quarantined(
    client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("identity store unavailable")

    module = importlib.import_module("heedful.conversations.services.receive")
    monkeypatch.setattr(module, "resolve_identity", broken)
    response = post(client)
    assert response.status_code == 202
    assert b"Nothing is lost" in response.content
    raw = RawInbound.objects.get()
    assert raw.status == RawInbound.Status.QUARANTINED
    assert "identity store unavailable" in raw.reason
    assert not Conversation.objects.exists()


def test_without_an_active_web_form_inbox_the_page_says_so(client: Client) -> None:
    Inbox.objects.filter(kind="webform").update(is_active=False)
    assert client.get("/contact/").status_code == 503
    assert post(client).status_code == 503


def test_admin_sees_the_request_with_its_customer_and_events(
    client: Client, admin_client: Client
) -> None:
    post(client)
    conversation = Conversation.objects.get()
    listing = admin_client.get("/admin/conversations/conversation/")
    assert listing.status_code == 200
    assert b"My parcel is late" in listing.content
    page = admin_client.get(f"/admin/conversations/conversation/{conversation.pk}/change/")
    assert b"Ann Lee" in page.content
    assert b"message_received" in page.content
    assert b"Order 1234" in page.content


def test_conversations_are_read_only_in_the_admin(client: Client, admin_client: Client) -> None:
    post(client)
    conversation = Conversation.objects.get()
    page = admin_client.get(f"/admin/conversations/conversation/{conversation.pk}/change/")
    assert b'name="_save"' not in page.content
    assert admin_client.get("/admin/conversations/conversation/add/").status_code == 403
    deleted = admin_client.post(f"/admin/conversations/conversation/{conversation.pk}/delete/")
    assert deleted.status_code == 403
    assert Conversation.objects.filter(pk=conversation.pk).exists()


@override_settings(HEEDFUL_MAX_ATTACHMENT_BYTES=1024, HEEDFUL_MAX_ATTACHMENTS=1)
def test_a_body_far_over_the_limits_is_refused_before_it_is_read(client: Client) -> None:
    upload = SimpleUploadedFile("huge.bin", b"x" * (3 * 1024 * 1024), "application/octet-stream")
    response = client.post("/contact/", {**form_data(), "attachments": [upload]})
    assert response.status_code == 413
    assert b"too large" in response.content
    assert not RawInbound.objects.exists()


def test_going_back_editing_and_sending_again_is_a_new_request(client: Client) -> None:
    post(client)
    again = post(client, message="Actually it is order 5678.")
    assert again.status_code == 302
    assert Conversation.objects.count() == 2


def test_the_confirmation_link_carries_no_address(client: Client) -> None:
    import base64

    location = post(client)["Location"]
    token = location.rstrip("/").rsplit("/", 1)[1]
    payload = token.split(":")[0]
    decoded = base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    assert b"example.com" not in decoded
    assert b"Ann.Lee@example.com" not in Client().get(location).content
