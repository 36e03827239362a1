"""Inbound email posted by mail providers (django-anymail parses; Heedful stores raw first).

Mailgun proves a post with its HMAC signature; Postmark, SendGrid and Amazon SES carry
the inbox's webhook secret as HTTP basic auth in the URL.
"""

import hashlib
import hmac
import importlib.util
import json
from base64 import b64encode
from email import message_from_bytes
from email.message import EmailMessage
from email.policy import default
from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.test import Client

from heedful.conversations.models import Conversation
from heedful.inboxes import secrets
from heedful.inboxes.email.webhooks import SNS_SUBSCRIBE_URL_KEY
from heedful.inboxes.models import Inbox, RawInbound

pytestmark = pytest.mark.django_db

SECRET = "s3cret-webhook-value"
SIGNING_KEY = "key-mailgun-signing-123"
PARSER_PRESENT = importlib.util.find_spec("heedful.inboxes.email.parse") is not None


@pytest.fixture(autouse=True)
def secrets_key(settings: Any) -> Any:
    settings.HEEDFUL_SECRETS_KEY = Fernet.generate_key().decode()
    secrets.reset_cache()
    yield
    secrets.reset_cache()


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


def mailgun_form(raw: bytes, key: str = SIGNING_KEY, nonce: str = "tok-1") -> dict[str, str]:
    timestamp = "1760000000"
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
    assert "signature" in response.json()["error"]
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
    assert response.status_code == 403
    assert "signing key" in response.json()["error"]
    assert stored(inbox) == []


def test_the_same_mailgun_post_twice_is_stored_once(cast):
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    form = mailgun_form(customer_email())
    first = Client().post(url(inbox, "mailgun"), form)
    second = Client().post(url(inbox, "mailgun"), form)
    assert first.json()["stored"] == second.json()["stored"]
    assert len(stored(inbox)) == 1


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
    assert "basic auth" in response.json()["error"]
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
    assert "webhook secret" in response.json()["error"]
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


def test_a_post_over_the_memory_limit_is_a_413_not_a_400(cast, settings):
    settings.DATA_UPLOAD_MAX_MEMORY_SIZE = 1000
    inbox = configure(cast.email, "mailgun", webhook_signing_key=SIGNING_KEY)
    raw = customer_email() + b"x" * 2000
    response = Client().post(url(inbox, "mailgun"), mailgun_form(raw))
    assert response.status_code == 413
    assert "1,000-byte limit" in response.json()["error"]
    assert stored(inbox) == []


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


def test_an_sns_subscription_pointing_elsewhere_is_refused(cast):
    inbox = configure(cast.email, "amazon_ses", webhook_secret=SECRET)
    message = {
        "Type": "SubscriptionConfirmation",
        "MessageId": "165545c9-0003",
        "SubscribeURL": "https://sns.evil.example/?Action=ConfirmSubscription",
    }
    response = sns_post(inbox, message)
    assert response.status_code == 400
    inbox.refresh_from_db()
    assert SNS_SUBSCRIBE_URL_KEY not in inbox.settings


# --- Routing -----------------------------------------------------------------------


def test_an_unknown_inbox_is_a_404(cast):
    response = post_json("/hooks/email/999999/postmark/", postmark_body(customer_email()))
    assert response.status_code == 404
    assert "error" in response.json()


def test_a_provider_other_than_the_inbox_s_is_a_404(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = Client().post(url(inbox, "mailgun"), mailgun_form(customer_email()))
    assert response.status_code == 404
    assert stored(inbox) == []


def test_an_unknown_provider_is_a_404(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    response = post_json(url(inbox, "pigeon"), postmark_body(customer_email()))
    assert response.status_code == 404


def test_an_inactive_inbox_is_a_404(cast):
    inbox = configure(cast.email, "postmark", webhook_secret=SECRET)
    Inbox.objects.filter(pk=inbox.pk).update(is_active=False)
    response = post_json(url(inbox, "postmark"), postmark_body(customer_email()))
    assert response.status_code == 404
    assert stored(inbox) == []


def test_a_non_email_inbox_is_a_404(cast):
    configure(cast.webform, "postmark", webhook_secret=SECRET)
    response = post_json(url(cast.webform, "postmark"), postmark_body(customer_email()))
    assert response.status_code == 404


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
