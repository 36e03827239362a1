"""Inbound email posted by mail providers (django-anymail parses; Heedful stores raw first).

Mailgun proves a post with its HMAC signature; Postmark, SendGrid and Amazon SES carry
the inbox's webhook secret as HTTP basic auth in the URL.
"""

import hashlib
import hmac
import importlib.util
import json
import time
from base64 import b64encode
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from io import BytesIO
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client, RequestFactory

from heedful.conversations.models import Conversation
from heedful.inboxes import secrets
from heedful.inboxes.email import webhooks
from heedful.inboxes.email.webhooks import SNS_SUBSCRIBE_URL_KEY
from heedful.inboxes.models import Inbox, RawInbound
from tests.email_support import secrets_key  # noqa: F401 (an autouse fixture)

pytestmark = pytest.mark.django_db

SECRET = "s3cret-webhook-value"
SIGNING_KEY = "key-mailgun-signing-123"
MIB = 1024 * 1024
PARSER_PRESENT = importlib.util.find_spec("heedful.inboxes.email.parse") is not None


def configure(inbox: Inbox, provider: str, **secret_values: str) -> Inbox:
    inbox.settings = {**inbox.settings, "provider": provider}
    inbox.save(update_fields=["settings"])
    secrets.set_secrets(inbox, **secret_values)
    return inbox


def customer_email(subject: str = "Broken kettle", message_id: str = "<k1@customer.test>") -> bytes:
    msg = EmailMessage()
    msg["From"] = "Ann Customer <ann@customer.test>"
    msg["To"] = "help@support.test"
    msg["Subject"] = subject
    msg["Message-ID"] = message_id
    msg.set_content("The kettle I bought leaks. Can you help?")
    return msg.as_bytes()


def basic(user: str = "heedful", password: str = SECRET) -> str:
    return "Basic " + b64encode(f"{user}:{password}".encode()).decode()


def url(inbox: Inbox, provider: str) -> str:
    return f"/hooks/email/{inbox.pk}/{provider}/"


def stored(inbox: Inbox) -> list[RawInbound]:
    return list(RawInbound.objects.filter(inbox=inbox))


def assert_received(inbox: Inbox, raw: bytes, subject: str = "Broken kettle") -> RawInbound:
    rows = stored(inbox)
    assert len(rows) == 1
    assert bytes(rows[0].payload) == raw
    if PARSER_PRESENT:
        conversation = Conversation.objects.get(inbox=inbox)
        assert conversation.subject == subject
    return rows[0]


# --- Mailgun: signed form posts ------------------------------------------------------


def mailgun_form(
    raw: bytes, key: str = SIGNING_KEY, nonce: str = "tok-1", age: float = 0
) -> dict[str, str]:
    timestamp = str(int(time.time() - age))
    signature = hmac.new(key.encode(), f"{timestamp}{nonce}".encode(), hashlib.sha256)
    return {
        "body-mime": raw.decode(),
        "recipient": "help@support.test",
        "sender": "ann@customer.test",
        "timestamp": timestamp,
        "token": nonce,
        "signature": signature.hexdigest(),
    }


def test_a_signed_mailgun_post_stores_the_raw_message(cast, django_capture_on_commit_callbacks):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    raw = customer_email()
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(url(inbox, "mailgun"), mailgun_form(raw))
    assert response.status_code == 200, response.content
    row = assert_received(inbox, raw)
    assert response.json() == {"status": "accepted", "stored": [row.pk]}
    assert row.source_key == "mailgun:tok-1"


def test_mailgun_s_raw_mime_url_ends_in_mime(cast):
    # Mailgun posts body-mime only to a URL ending in "mime".
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    raw = customer_email()
    response = Client().post(f"/hooks/email/{inbox.pk}/mailgun/mime", mailgun_form(raw))
    assert response.status_code == 200, response.content
    assert bytes(stored(inbox)[0].payload) == raw


def test_a_mailgun_post_with_a_wrong_signature_is_refused(cast):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    form = mailgun_form(customer_email(), key="someone-elses-key")
    response = Client().post(url(inbox, "mailgun"), form)
    assert response.status_code == 403
    assert response.json() == {"error": "Mailgun signature missing or invalid"}
    assert stored(inbox) == []


def test_a_mailgun_post_without_signature_fields_is_refused(cast):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    form = mailgun_form(customer_email())
    del form["signature"]
    response = Client().post(url(inbox, "mailgun"), form)
    assert response.status_code == 403
    assert stored(inbox) == []


def test_mailgun_without_a_signing_key_configured_accepts_nothing(cast):
    inbox = configure(cast.email, "mailgun")
    response = Client().post(url(inbox, "mailgun"), mailgun_form(customer_email()))
    # Said only in the log: a stranger learns nothing about the inbox's setup.
    assert response.status_code == 403
    assert response.json() == {"error": "Mailgun signature missing or invalid"}
    assert stored(inbox) == []


def test_the_same_mailgun_post_twice_is_stored_once(cast):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    form = mailgun_form(customer_email())
    first = Client().post(url(inbox, "mailgun"), form)
    second = Client().post(url(inbox, "mailgun"), form)
    assert first.json()["stored"] == second.json()["stored"]
    assert len(stored(inbox)) == 1


@pytest.mark.parametrize("age", [6 * 60, -6 * 60])
def test_a_mailgun_post_signed_more_than_5_minutes_away_is_refused(cast, age):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    response = Client().post(url(inbox, "mailgun"), mailgun_form(customer_email(), age=age))
    assert response.status_code == 403
    assert "5 minutes" in response.json()["error"]
    assert stored(inbox) == []


def test_a_mailgun_timestamp_that_is_not_whole_seconds_is_refused(cast):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    form = mailgun_form(customer_email())
    signature = hmac.new(SIGNING_KEY.encode(), f"nan{form['token']}".encode(), hashlib.sha256)
    form.update(timestamp="nan", signature=signature.hexdigest())
    response = Client().post(url(inbox, "mailgun"), form)
    assert response.status_code == 403
    assert stored(inbox) == []


def test_a_mailgun_post_is_retried_later_when_the_token_store_is_down(cast, monkeypatch):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)

    def down(*args: Any, **kwargs: Any) -> bool:
        raise ConnectionError("redis is down")

    monkeypatch.setattr(webhooks.cache, "add", down)
    response = Client().post(url(inbox, "mailgun"), mailgun_form(customer_email()))
    assert response.status_code == 503
    assert stored(inbox) == []


def test_a_mailgun_post_4_minutes_old_is_accepted(cast):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    response = Client().post(url(inbox, "mailgun"), mailgun_form(customer_email(), age=4 * 60))
    assert response.status_code == 200, response.content


def test_a_mailgun_token_replayed_to_another_inbox_is_refused(cast):
    # Both inboxes trust the same Mailgun account's key: the signature alone cannot tell.
    first = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    other = configure(cast.inbox_b, "mailgun", webhook_signing_key=SIGNING_KEY)
    Inbox.objects.filter(pk=other.pk).update(kind="email")
    form = mailgun_form(customer_email())
    assert Client().post(url(first, "mailgun"), form).status_code == 200
    replayed = {**form, "body-mime": customer_email("Forged").decode()}
    response = Client().post(url(other, "mailgun"), replayed)
    assert response.status_code == 403
    assert "already used" in response.json()["error"]
    assert stored(other) == []


# --- Postmark: JSON behind basic auth ------------------------------------------------


def postmark_body(raw: bytes | None, message_id: str = "pm-0001") -> str:
    event: dict[str, Any] = {
        "FromFull": {"Email": "ann@customer.test", "Name": "Ann Customer"},
        "ToFull": [{"Email": "help@support.test", "Name": ""}],
        "Subject": "Broken kettle",
        "MessageID": message_id,
        "TextBody": "The kettle I bought leaks. Can you help?",
        "Headers": [
            {"Name": "Return-Path", "Value": "<ann@customer.test>"},
            {"Name": "Message-ID", "Value": "<k1@customer.test>"},
        ],
        "Attachments": [],
        "OriginalRecipient": "help@support.test",
    }
    if raw is not None:
        event["RawEmail"] = raw.decode()
    return json.dumps(event)


def post_json(path: str, body: str, auth: str | None = basic(), **headers: str) -> Any:
    if auth:
        headers["HTTP_AUTHORIZATION"] = auth
    return Client().post(path, body, content_type="application/json", **headers)


def test_a_postmark_post_stores_its_raw_email(cast, django_capture_on_commit_callbacks):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    raw = customer_email()
    with django_capture_on_commit_callbacks(execute=True):
        response = post_json(url(inbox, "postmark"), postmark_body(raw))
    assert response.status_code == 200, response.content
    assert assert_received(inbox, raw).source_key == "postmark:pm-0001"


def test_a_postmark_post_without_raw_email_is_rebuilt_from_its_fields(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = post_json(url(inbox, "postmark"), postmark_body(None))
    assert response.status_code == 200, response.content
    message = message_from_bytes(bytes(stored(inbox)[0].payload), policy=default)
    assert message["Subject"] == "Broken kettle"
    assert message["Message-ID"] == "<k1@customer.test>"
    assert message.get_body(("plain",)).get_content().startswith("The kettle I bought leaks.")


def test_a_wrong_basic_auth_password_is_refused(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = post_json(
        url(inbox, "postmark"), postmark_body(customer_email()), basic("heedful", "guess")
    )
    assert response.status_code == 403
    assert response.json() == {"error": "basic auth failed"}
    assert stored(inbox) == []


def test_a_wrong_basic_auth_user_is_refused(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = post_json(url(inbox, "postmark"), postmark_body(customer_email()), basic("admin"))
    assert response.status_code == 403
    assert stored(inbox) == []


def test_missing_basic_auth_is_challenged(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = post_json(url(inbox, "postmark"), postmark_body(customer_email()), auth=None)
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")
    assert response.json()["error"] == "basic auth required"
    assert stored(inbox) == []


def test_an_inbox_without_a_webhook_secret_accepts_nothing(cast):
    inbox = configure(cast.email, "postmark")
    response = post_json(url(inbox, "postmark"), postmark_body(customer_email()))
    assert response.status_code == 403
    assert response.json() == {"error": "basic auth failed"}
    assert stored(inbox) == []


def test_a_malformed_body_is_a_400(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = post_json(url(inbox, "postmark"), '{"Subject": "cut off')
    assert response.status_code == 400
    assert "malformed Postmark post" in response.json()["error"]
    assert stored(inbox) == []


def test_a_json_list_instead_of_an_object_is_a_400(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = post_json(url(inbox, "postmark"), "[1, 2]")
    assert response.status_code == 400
    assert stored(inbox) == []


def big_email(size: int) -> bytes:
    """A customer email whose body makes it `size` bytes or a little more."""
    line = b"The kettle leaks, and here is the whole story once more.\n"
    head = customer_email().replace(b"\n\n", b"\nContent-Transfer-Encoding: 8bit\n\n", 1)
    return head + line * (size // len(line) + 1)


def test_a_mailgun_post_over_the_site_wide_form_limit_is_accepted(cast, settings):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    raw = big_email(3 * MIB)
    assert len(raw) > settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    response = Client().post(url(inbox, "mailgun"), mailgun_form(raw))
    assert response.status_code == 200, response.content
    assert bytes(stored(inbox)[0].payload) == raw


def test_a_postmark_post_over_the_site_wide_form_limit_is_accepted(cast, settings):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    raw = big_email(3 * MIB)
    response = post_json(url(inbox, "postmark"), postmark_body(raw))
    assert response.status_code == 200, response.content
    assert bytes(stored(inbox)[0].payload) == raw


@pytest.mark.parametrize("path", ["/app/login/", "/admin/login/"])
def test_other_forms_still_refuse_a_body_over_the_form_limit(cast, path):
    # The webhook's own limit must not widen what any other anonymous post may send.
    body = "username=ann&password=" + "x" * (3 * MIB)
    response = Client().post(path, body, content_type="application/x-www-form-urlencoded")
    assert response.status_code == 400


def test_a_webhook_post_over_its_limit_is_a_413(cast, settings):
    settings.HEEDFUL_MAX_WEBHOOK_BYTES = 1000
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    raw = customer_email() + b"x" * 2000
    response = Client().post(url(inbox, "mailgun"), mailgun_form(raw))
    assert response.status_code == 413
    assert "1,000-byte limit" in response.json()["error"]
    assert stored(inbox) == []


def test_a_body_without_content_length_is_cut_at_the_limit(cast, settings):
    # Chunked bodies have no Content-Length: what is read is counted instead.
    settings.HEEDFUL_MAX_WEBHOOK_BYTES = 1000
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    request = RequestFactory().post(
        url(inbox, "postmark"), "{}", content_type="application/json", HTTP_AUTHORIZATION=basic()
    )
    del request.META["CONTENT_LENGTH"]
    request._stream = BytesIO(postmark_body(customer_email() + b"x" * 2000).encode())
    response = webhooks.inbound(request, inbox.pk, "postmark")
    assert response.status_code == 413
    assert stored(inbox) == []


def test_a_multipart_post_keeps_its_files_and_charsets(cast):
    # SendGrid's parsed mode: fields in their own charsets, attachments as files.
    inbox = configure(cast.email, "sendgrid", webhook_secret=SECRET)
    form = {
        "headers": "From: ann@customer.test\nTo: help@support.test\nSubject: Receipt\n",
        "text": "Grüße, the receipt is attached.",
        "envelope": json.dumps({"to": ["help@support.test"], "from": "ann@customer.test"}),
        "charsets": json.dumps({"text": "UTF-8"}),
        "attachments": "1",
        "attachment-info": json.dumps({"attachment1": {"filename": "receipt.pdf"}}),
        "attachment1": SimpleUploadedFile("receipt.pdf", b"%PDF-1.4 receipt", "application/pdf"),
    }
    response = Client().post(url(inbox, "sendgrid"), form, HTTP_AUTHORIZATION=basic())
    assert response.status_code == 200, response.content
    message = message_from_bytes(bytes(stored(inbox)[0].payload), policy=default)
    assert message.get_body(("plain",)).get_content().startswith("Grüße, the receipt")
    [attachment] = list(message.iter_attachments())
    assert attachment.get_filename() == "receipt.pdf"
    assert attachment.get_content() == b"%PDF-1.4 receipt"


def test_a_postmark_tracking_event_on_the_inbound_url_is_a_400(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    body = json.dumps({"RecordType": "Delivery", "MessageID": "x"})
    response = post_json(url(inbox, "postmark"), body)
    assert response.status_code == 400
    assert "Delivery" in response.json()["error"]


# --- SendGrid: multipart form, "Send Raw" ------------------------------------------


def test_a_sendgrid_raw_post_stores_the_message(cast, django_capture_on_commit_callbacks):
    inbox = configure(cast.email, "sendgrid", webhook_secret=SECRET)
    raw = customer_email()
    form = {
        "email": raw.decode(),
        "envelope": json.dumps({"to": ["help@support.test"], "from": "ann@customer.test"}),
        "charsets": json.dumps({"to": "UTF-8", "from": "UTF-8", "subject": "UTF-8"}),
        "spam_score": "0.1",
        "to": "help@support.test",
        "from": "Ann Customer <ann@customer.test>",
    }
    with django_capture_on_commit_callbacks(execute=True):
        response = Client().post(url(inbox, "sendgrid"), form, HTTP_AUTHORIZATION=basic())
    assert response.status_code == 200, response.content
    assert assert_received(inbox, raw).source_key is None


def test_a_sendgrid_post_with_neither_raw_nor_parsed_fields_is_a_400(cast):
    inbox = configure(cast.email, "sendgrid", webhook_secret=SECRET)
    response = Client().post(url(inbox, "sendgrid"), {"to": "x"}, HTTP_AUTHORIZATION=basic())
    assert response.status_code == 400
    assert stored(inbox) == []


# --- Amazon SES through SNS ---------------------------------------------------------


def sns_post(inbox: Inbox, message: dict[str, Any], auth: str | None = basic()) -> Any:
    headers = {
        "HTTP_X_AMZ_SNS_MESSAGE_TYPE": message["Type"],
        "HTTP_X_AMZ_SNS_MESSAGE_ID": message["MessageId"],
    }
    return post_json(url(inbox, "amazon_ses"), json.dumps(message), auth, **headers)


def ses_notification(raw: bytes, action: dict[str, str] | None = None) -> dict[str, Any]:
    ses_event = {
        "notificationType": "Received",
        "mail": {
            "timestamp": "2026-11-23T07:00:00.000Z",
            "source": "ann@customer.test",
            "messageId": "ses-0001",
            "destination": ["help@support.test"],
        },
        "receipt": {
            "recipients": ["help@support.test"],
            "spamVerdict": {"status": "PASS"},
            "action": action
            or {"type": "SNS", "topicArn": "arn:aws:sns:eu-west-1:1:in", "encoding": "BASE64"},
        },
        "content": b64encode(raw).decode(),
    }
    return {
        "Type": "Notification",
        "MessageId": "8d6d1b3c-0001",
        "TopicArn": "arn:aws:sns:eu-west-1:1:in",
        "Message": json.dumps(ses_event),
        "Timestamp": "2026-11-23T07:00:01.000Z",
    }


def test_an_ses_notification_stores_the_decoded_message(cast, django_capture_on_commit_callbacks):
    inbox = configure(cast.email, "amazon_ses", webhook_secret=SECRET)
    raw = customer_email()
    with django_capture_on_commit_callbacks(execute=True):
        response = sns_post(inbox, ses_notification(raw))
    assert response.status_code == 200, response.content
    assert assert_received(inbox, raw).source_key == "amazon_ses:ses-0001"


def test_an_ses_post_without_auth_gets_the_challenge_sns_needs(cast):
    inbox = configure(cast.email, "amazon_ses", webhook_secret=SECRET)
    response = sns_post(inbox, ses_notification(customer_email()), auth=None)
    assert response.status_code == 401
    assert "WWW-Authenticate" in response
    assert stored(inbox) == []


def test_an_ses_post_whose_headers_disagree_with_its_body_is_refused(cast):
    inbox = configure(cast.email, "amazon_ses", webhook_secret=SECRET)
    message = ses_notification(customer_email())
    response = post_json(
        url(inbox, "amazon_ses"),
        json.dumps(message),
        HTTP_X_AMZ_SNS_MESSAGE_TYPE="Notification",
        HTTP_X_AMZ_SNS_MESSAGE_ID="another-id",
    )
    assert response.status_code == 403
    assert stored(inbox) == []


def test_an_ses_s3_action_is_a_clear_400(cast):
    inbox = configure(cast.email, "amazon_ses", webhook_secret=SECRET)
    action = {"type": "S3", "bucketName": "mail", "objectKey": "abc"}
    response = sns_post(inbox, ses_notification(customer_email(), action))
    assert response.status_code == 400
    assert "SNS receipt action" in response.json()["error"]
    assert stored(inbox) == []


def test_an_sns_subscription_is_recorded_for_an_admin_to_confirm(cast):
    inbox = configure(cast.email, "amazon_ses", webhook_secret=SECRET)
    subscribe = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc"
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-0002",
        "Token": "abc",
        "TopicArn": "arn:aws:sns:eu-west-1:1:in",
        "SubscribeURL": subscribe,
    }
    response = sns_post(inbox, message)
    assert response.status_code == 200
    assert response.json()["status"] == "subscription recorded"
    inbox.refresh_from_db()
    assert inbox.settings[SNS_SUBSCRIBE_URL_KEY] == subscribe
    assert inbox.settings["provider"] == "amazon_ses"
    assert stored(inbox) == []


@pytest.mark.parametrize(
    "link",
    [
        "https://sns.evil.example/?Action=ConfirmSubscription",
        "https://sns.evil.s3.amazonaws.com/?Action=ConfirmSubscription",
        "http://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription",
        "https://sns.eu-west-1.amazonaws.com@evil.example/?Action=ConfirmSubscription",
        "https://sns.eu-west-1.amazonaws.com:8443/?Action=ConfirmSubscription",
        "https://sns.eu-west-1.amazonaws.com.evil.example/",
    ],
)
def test_an_sns_subscription_pointing_elsewhere_is_refused(cast, link):
    inbox = configure(cast.email, "amazon_ses", webhook_secret=SECRET)
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-0003",
        "SubscribeURL": link,
    }
    response = sns_post(inbox, message)
    assert response.status_code == 400
    inbox.refresh_from_db()
    assert SNS_SUBSCRIBE_URL_KEY not in inbox.settings


# --- Routing -----------------------------------------------------------------------


# Until a caller is authenticated, the answer never depends on the inbox id: an unknown
# inbox looks exactly like a known one refused for the same credentials.


def refused_alike(path_known: str, path_unknown: str, post: Any) -> Any:
    known, unknown = post(path_known), post(path_unknown)
    assert (known.status_code, known.content) == (unknown.status_code, unknown.content)
    assert known.get("WWW-Authenticate") == unknown.get("WWW-Authenticate")
    return unknown


def test_an_unknown_inbox_is_challenged_like_a_known_one_without_credentials(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    body = postmark_body(customer_email())
    response = refused_alike(
        url(inbox, "postmark"), "/hooks/email/999999/postmark/", lambda p: post_json(p, body, None)
    )
    assert response.status_code == 401
    assert response["WWW-Authenticate"].startswith("Basic ")


def test_an_unknown_inbox_refuses_credentials_like_a_wrong_password(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    body = postmark_body(customer_email())
    response = refused_alike(
        url(inbox, "postmark"),
        "/hooks/email/999999/postmark/",
        lambda p: post_json(p, body, basic("heedful", "guess")),
    )
    assert response.status_code == 403


def test_a_provider_other_than_the_inbox_s_looks_like_a_bad_signature(cast):
    mailgun = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    postmark = configure(cast.inbox_b, "postmark", webhook_secret=SECRET)
    Inbox.objects.filter(pk=postmark.pk).update(kind="email")
    form = mailgun_form(customer_email(), key="someone-elses-key")
    response = refused_alike(
        url(mailgun, "mailgun"), url(postmark, "mailgun"), lambda p: Client().post(p, form)
    )
    assert response.status_code == 403
    assert stored(postmark) == []


def test_an_over_sized_post_is_a_413_for_an_unknown_inbox_too(cast, settings):
    settings.HEEDFUL_MAX_WEBHOOK_BYTES = 1000
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    body = postmark_body(customer_email() + b"x" * 2000)
    response = refused_alike(
        url(inbox, "postmark"), "/hooks/email/999999/postmark/", lambda p: post_json(p, body)
    )
    assert response.status_code == 413


def test_a_malformed_form_is_a_400_only_after_authentication(cast):
    inbox = configure(cast.email, "sendgrid", webhook_secret=SECRET)
    no_boundary = "multipart/form-data"

    def post(path: str, auth: str) -> Any:
        return Client().post(path, "x", content_type=no_boundary, HTTP_AUTHORIZATION=auth)

    response = post(url(inbox, "sendgrid"), basic())
    assert response.status_code == 400
    assert "malformed multipart form" in response.json()["error"]
    stranger = refused_alike(
        url(inbox, "sendgrid"), "/hooks/email/999999/sendgrid/", lambda p: post(p, basic("x"))
    )
    assert stranger.status_code == 403


def test_an_unknown_provider_is_a_404(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = post_json(url(inbox, "pigeon"), postmark_body(customer_email()))
    assert response.status_code == 404


def test_an_inactive_inbox_refuses_even_its_own_secret(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    Inbox.objects.filter(pk=inbox.pk).update(is_active=False)
    response = post_json(url(inbox, "postmark"), postmark_body(customer_email()))
    assert response.status_code == 403
    assert stored(inbox) == []


def test_a_non_email_inbox_refuses_even_its_own_secret(cast):
    configure(cast.webform, "postmark", webhook_secret=SECRET)
    response = post_json(url(cast.webform, "postmark"), postmark_body(customer_email()))
    assert response.status_code == 403


def test_get_is_a_405(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = Client().get(url(inbox, "postmark"), HTTP_AUTHORIZATION=basic())
    assert response.status_code == 405
    assert response["Allow"] == "POST"
    assert "error" in response.json()


def test_the_webhook_is_csrf_exempt(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    client = Client(enforce_csrf_checks=True)
    response = client.post(
        url(inbox, "postmark"),
        postmark_body(customer_email()),
        content_type="application/json",
        HTTP_AUTHORIZATION=basic(),
    )
    assert response.status_code == 200
