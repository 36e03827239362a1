"""Inbound email posted by a mail provider: /hooks/email/<inbox id>/<provider>/.

django-anymail's inbound views authenticate and parse each provider's post; this
module only picks the inbox, hands anymail that inbox's own secrets, and stores the
raw RFC 822 bytes through `ingest.accept` (stored first, processed by the worker).

Anymail's usual wiring sends every parsed event through its global `inbound`
Django signal. Heedful does not route through signals (side effects stay explicit
and visible at the call site), and a signal receiver would not know which inbox a
post was meant for; so the view classes are instantiated here per request and only
their `run_validators` and `parse_events` are used.

Authentication: Mailgun signs its posts (HMAC with the inbox's webhook signing key).
Postmark, SendGrid and Amazon SES do not, so their URL must carry HTTP basic auth,
user "heedful" and the inbox's webhook secret.
"""

import json
import logging
from base64 import b64decode
from collections.abc import Callable
from typing import Any
from urllib.parse import urlsplit

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import AnymailInboundEvent
from anymail.utils import DEFAULT_DOWNLOAD_CHUNK_SIZE
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.base import AnymailBaseWebhookView, AnymailCoreWebhookView
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.db import DatabaseError, transaction
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt

from heedful.inboxes import secrets
from heedful.inboxes.email import ingest
from heedful.inboxes.email.config import EmailSettings
from heedful.inboxes.models import Inbox

log = logging.getLogger(__name__)

BASIC_AUTH_USER = "heedful"
SIGNED_PROVIDERS = frozenset({"mailgun"})
# Where an SNS SubscriptionConfirmation's URL is kept (Inbox.settings) for an admin to visit.
SNS_SUBSCRIBE_URL_KEY = "sns_subscribe_url"


class _SendGridInbound(SendGridInboundWebhookView):
    def __init__(self, **kwargs: Any) -> None:
        # Skips only the parent's warning that anymail no longer officially supports
        # SendGrid: raw-MIME posts (the mode Heedful documents) are tested here.
        AnymailBaseWebhookView.__init__(self, **kwargs)


class _AmazonSesInbound(AmazonSESInboundWebhookView):
    def __init__(self, **kwargs: Any) -> None:
        # Anymail's own __init__ asks boto3 for S3/SNS client settings, and boto3 is not
        # installed. The SNS receipt action (the message inside the notification) needs
        # none of it; subscriptions are confirmed by an admin (see _sns_subscription).
        self.auto_confirm_enabled = False
        self.session_params: dict[str, Any] = {}
        self.client_params: dict[str, Any] = {}
        self.kms_key_id = None
        self.chunk_size = DEFAULT_DOWNLOAD_CHUNK_SIZE
        AnymailBaseWebhookView.__init__(self, **kwargs)


PROVIDERS: dict[str, type[AnymailCoreWebhookView]] = {
    "mailgun": MailgunInboundWebhookView,
    "postmark": PostmarkInboundWebhookView,
    "sendgrid": _SendGridInbound,
    "amazon_ses": _AmazonSesInbound,
}
PROVIDER_LABELS = {
    "mailgun": "Mailgun",
    "postmark": "Postmark",
    "sendgrid": "SendGrid",
    "amazon_ses": "Amazon SES",
}


class _Refused(Exception):
    def __init__(self, status: int, error: str, **headers: str) -> None:
        super().__init__(error)
        self.status = status
        self.error = error
        self.headers = headers


@csrf_exempt
def inbound(request: HttpRequest, inbox_id: int, provider: str) -> JsonResponse:
    if request.method != "POST":
        return _answer(_Refused(405, "only POST is accepted here", Allow="POST"))
    try:
        inbox = _inbox(inbox_id, provider)
        view = _anymail_view(inbox, provider)
        _authenticate(request, view, provider)
        if provider == "amazon_ses":
            if _sns_subscription(request, inbox):
                detail = "an admin confirms it from the inbox's page in /admin/"
                return JsonResponse({"status": "subscription recorded", "detail": detail})
            _refuse_s3_action(request)
        payloads = _payloads(request, view, provider)
    except _Refused as refused:
        return _answer(refused)
    try:
        stored = [ingest.accept(inbox=inbox, payload=raw, source_key=key) for raw, key in payloads]
    except DatabaseError:
        log.exception("storing a %s webhook post for inbox %s failed", provider, inbox.pk)
        # A 5xx makes the provider post again later, so the message is not lost.
        return _answer(_Refused(503, "could not store the message now; try again"))
    return JsonResponse({"status": "accepted", "stored": [row.pk for row, _ in stored]})


def _answer(refused: _Refused) -> JsonResponse:
    response = JsonResponse({"error": refused.error}, status=refused.status)
    for name, value in refused.headers.items():
        response[name.replace("_", "-")] = value
    return response


def _inbox(inbox_id: int, provider: str) -> Inbox:
    inbox = Inbox.objects.filter(pk=inbox_id, kind="email", is_active=True).first()
    if provider not in PROVIDERS or inbox is None or EmailSettings.of(inbox).provider != provider:
        raise _Refused(404, "no active email inbox receives from this provider at this URL")
    return inbox


def _anymail_view(inbox: Inbox, provider: str) -> AnymailCoreWebhookView:
    """The provider's anymail view, holding this inbox's secrets rather than global settings."""
    try:
        if provider in SIGNED_PROVIDERS:
            key = secrets.get_secret(inbox, "webhook_signing_key")
            if not key:
                raise _Refused(403, "this inbox has no Mailgun webhook signing key set")
            # An empty list turns anymail's basic-auth check off: the signature is the proof.
            return PROVIDERS[provider](webhook_signing_key=key, webhook_secret=[])
        secret = secrets.get_secret(inbox, "webhook_secret")
    except secrets.SecretsUnreadable as exc:
        # The provider retries a 5xx; meanwhile an admin restores the key.
        raise _Refused(503, str(exc)) from None
    if not secret:
        raise _Refused(403, "this inbox has no webhook secret; generate one in the admin")
    return PROVIDERS[provider](webhook_secret=f"{BASIC_AUTH_USER}:{secret}")


def _authenticate(request: HttpRequest, view: AnymailCoreWebhookView, provider: str) -> None:
    if provider not in SIGNED_PROVIDERS and not request.META.get("HTTP_AUTHORIZATION"):
        # Amazon SNS sends credentials only after a 401 with a Basic challenge.
        raise _Refused(401, "basic auth required", WWW_Authenticate='Basic realm="heedful webhook"')
    try:
        view.run_validators(request)  # constant-time basic auth, Mailgun's HMAC, SNS headers
    except AnymailWebhookValidationFailure as exc:
        raise _Refused(403, str(exc)) from None
    except RequestDataTooBig:
        raise _too_big(provider) from None
    except Exception as exc:  # hostile input must not become a 500
        raise _Refused(400, f"malformed {PROVIDER_LABELS[provider]} post: {exc}") from None


def _too_big(provider: str) -> _Refused:
    # Providers post the whole message as one form field or JSON string, which Django
    # holds in memory only up to DATA_UPLOAD_MAX_MEMORY_SIZE. Loud, so an admin sees it.
    limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
    log.error("a %s webhook post was over DATA_UPLOAD_MAX_MEMORY_SIZE (%s bytes)", provider, limit)
    return _Refused(413, f"the post is over this server's {limit:,}-byte limit for webhook bodies")


def _sns_message(request: HttpRequest) -> dict[str, Any]:
    try:
        message = json.loads(request.body)
    except ValueError:
        return {}  # parse_events reports it
    return message if isinstance(message, dict) else {}


def _sns_subscription(request: HttpRequest, inbox: Inbox) -> bool:
    """Record an SNS SubscriptionConfirmation's URL for an admin to visit.

    Anymail confirms these itself only through boto3, which Heedful does not install;
    an admin opening the URL once (shown on the inbox's admin page) is enough.
    """
    message = _sns_message(request)
    if message.get("Type") != "SubscriptionConfirmation":
        return False
    url = str(message.get("SubscribeURL", ""))
    if not _is_sns_url(url):
        raise _Refused(400, "SubscriptionConfirmation without an Amazon SNS SubscribeURL")
    with transaction.atomic():
        locked = Inbox.objects.select_for_update().get(pk=inbox.pk)
        values = dict(locked.settings) if isinstance(locked.settings, dict) else {}
        values[SNS_SUBSCRIBE_URL_KEY] = url
        Inbox.objects.filter(pk=inbox.pk).update(settings=values)
    log.warning("inbox %s: Amazon SNS subscription waits for an admin to confirm it", inbox.pk)
    return True


def _refuse_s3_action(request: HttpRequest) -> None:
    """Anymail fetches S3-stored messages through boto3, which is not installed."""
    try:
        ses_event = json.loads(_sns_message(request).get("Message") or "{}")
        action = ses_event["receipt"]["action"]["type"]
    except (TypeError, ValueError, KeyError):
        return  # not a Received notification with an action; parse_events judges it
    if action == "S3":
        raise _Refused(
            400,
            "Amazon SES: Heedful reads messages delivered inside the notification; use an "
            "SNS receipt action with Base64 encoding (S3 actions need boto3, not installed)",
        )


def _is_sns_url(url: str) -> bool:
    parts = urlsplit(url)
    host = parts.hostname or ""
    return (
        parts.scheme == "https"
        and host.startswith("sns.")
        and (host.endswith(".amazonaws.com") or host.endswith(".amazonaws.com.cn"))
    )


def _payloads(
    request: HttpRequest, view: AnymailCoreWebhookView, provider: str
) -> list[tuple[bytes, str | None]]:
    label = PROVIDER_LABELS[provider]
    try:
        events = view.parse_events(request)
        return [(RAW[provider](request, event), _source_key(provider, event)) for event in events]
    except RequestDataTooBig:
        raise _too_big(provider) from None
    except Exception as exc:  # hostile input must not become a 500
        log.info("malformed %s webhook post: %s", label, exc)
        raise _Refused(400, f"malformed {label} post: {type(exc).__name__}: {exc}") from None


def _source_key(provider: str, event: AnymailInboundEvent) -> str | None:
    """The provider's id for the post, so a retried post is stored once."""
    return f"{provider}:{event.event_id}"[:200] if event.event_id else None


def _text_field(request: HttpRequest, name: str, event: AnymailInboundEvent) -> bytes:
    raw = request.POST.get(name)
    return raw.encode("utf-8") if raw else _rebuilt(event)


def _postmark_raw(request: HttpRequest, event: AnymailInboundEvent) -> bytes:
    raw = event.esp_event.get("RawEmail") if isinstance(event.esp_event, dict) else None
    return raw.encode("utf-8") if isinstance(raw, str) and raw else _rebuilt(event)


def _ses_raw(request: HttpRequest, event: AnymailInboundEvent) -> bytes:
    ses = event.esp_event if isinstance(event.esp_event, dict) else {}
    content = ses.get("content")
    if not isinstance(content, str):
        return _rebuilt(event)
    if ses.get("receipt", {}).get("action", {}).get("encoding") == "BASE64":
        return b64decode(content.encode("ascii"))
    return content.encode("utf-8")


def _rebuilt(event: AnymailInboundEvent) -> bytes:
    """Only when the provider sent parsed fields instead of the raw message."""
    return bytes(event.message.as_bytes())


RAW: dict[str, Callable[[HttpRequest, AnymailInboundEvent], bytes]] = {
    "mailgun": lambda request, event: _text_field(request, "body-mime", event),
    "sendgrid": lambda request, event: _text_field(request, "email", event),
    "postmark": _postmark_raw,
    "amazon_ses": _ses_raw,
}
