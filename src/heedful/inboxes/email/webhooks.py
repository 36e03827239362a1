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
user "heedful" and the inbox's webhook secret. Until a caller is authenticated, every
refusal depends only on the provider in the URL and on the credentials sent, never on
whether the inbox exists: inbox ids cannot be probed (the real reason is logged).

Body size: the site-wide DATA_UPLOAD_MAX_MEMORY_SIZE stays small, and this view reads
its own body up to HEEDFUL_MAX_WEBHOOK_BYTES, since a provider posts a whole message
as one form field or JSON string.
"""

import json
import logging
import re
import time
from base64 import b64decode
from collections.abc import Callable
from email.message import Message
from email.parser import BytesParser
from email.policy import HTTP
from io import BytesIO
from typing import Any
from urllib.parse import urlsplit

from anymail.exceptions import AnymailWebhookValidationFailure
from anymail.signals import AnymailInboundEvent
from anymail.utils import DEFAULT_DOWNLOAD_CHUNK_SIZE
from anymail.webhooks.amazon_ses import AmazonSESInboundWebhookView
from anymail.webhooks.base import (
    AnymailBaseWebhookView,
    AnymailBasicAuthMixin,
    AnymailCoreWebhookView,
)
from anymail.webhooks.mailgun import MailgunInboundWebhookView
from anymail.webhooks.postmark import PostmarkInboundWebhookView
from anymail.webhooks.sendgrid import SendGridInboundWebhookView
from django.conf import settings
from django.core.cache import cache
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import DatabaseError, transaction
from django.http import HttpRequest, JsonResponse, QueryDict
from django.utils.datastructures import MultiValueDict
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
SNS_HOST = re.compile(r"sns\.[a-z0-9-]+\.amazonaws\.com(\.cn)?")
# Mailgun signs only timestamp + token: a signed post is accepted within this many
# seconds of its timestamp, and each token once (see _refuse_replay).
MAILGUN_MAX_AGE_SECONDS = 5 * 60
MAILGUN_TOKEN_TTL_SECONDS = 2 * MAILGUN_MAX_AGE_SECONDS


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
    if provider not in PROVIDERS:
        # Provider names are public; this says nothing about which inboxes exist.
        return _answer(_Refused(404, f"no provider called {provider!r} posts here"))
    try:
        _refuse_declared_size(request, provider)
        inbox = _inbox(request, inbox_id, provider)
        malformed = _read_body(request, provider)
        view = _anymail_view(request, inbox, provider)
        _authenticate(request, view, provider)
        if malformed is not None:
            raise malformed
        if provider in SIGNED_PROVIDERS:
            _refuse_replay(request, inbox)
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


def _unauthenticated(request: HttpRequest, provider: str, reason: str) -> _Refused:
    """The one answer to a caller not (yet) authenticated; `reason` goes only to the log.

    It depends on the provider and on the credentials sent, never on the inbox, so an
    unknown inbox, one set up for another provider, and a wrong password look alike.
    """
    log.warning("webhook post refused (%s): %s", provider, reason)
    if provider in SIGNED_PROVIDERS:
        return _Refused(403, "Mailgun signature missing or invalid")
    if not request.META.get("HTTP_AUTHORIZATION"):
        # Amazon SNS sends credentials only after a 401 with a Basic challenge.
        return _Refused(
            401, "basic auth required", WWW_Authenticate='Basic realm="heedful webhook"'
        )
    return _Refused(403, "basic auth failed")


def _inbox(request: HttpRequest, inbox_id: int, provider: str) -> Inbox:
    inbox = Inbox.objects.filter(pk=inbox_id, kind="email", is_active=True).first()
    if inbox is None or EmailSettings.of(inbox).provider != provider:
        reason = f"no active email inbox {inbox_id} receiving from {provider}"
        raise _unauthenticated(request, provider, reason)
    return inbox


def _anymail_view(request: HttpRequest, inbox: Inbox, provider: str) -> AnymailCoreWebhookView:
    """The provider's anymail view, holding this inbox's secrets rather than global settings."""
    try:
        if provider in SIGNED_PROVIDERS:
            key = secrets.get_secret(inbox, "webhook_signing_key")
            if not key:
                reason = f"inbox {inbox.pk} has no Mailgun webhook signing key set"
                raise _unauthenticated(request, provider, reason)
            # An empty list turns anymail's basic-auth check off: the signature is the proof.
            return PROVIDERS[provider](webhook_signing_key=key, webhook_secret=[])
        secret = secrets.get_secret(inbox, "webhook_secret")
    except secrets.SecretsUnreadable as exc:
        # The provider retries a 5xx; meanwhile an admin restores the key.
        raise _Refused(503, str(exc)) from None
    if not secret:
        reason = f"inbox {inbox.pk} has no webhook secret; generate one in the admin"
        raise _unauthenticated(request, provider, reason)
    return PROVIDERS[provider](webhook_secret=f"{BASIC_AUTH_USER}:{secret}")


def _authenticate(request: HttpRequest, view: AnymailCoreWebhookView, provider: str) -> None:
    # Credentials first, so that nothing else about the post is judged for a stranger.
    try:
        if provider in SIGNED_PROVIDERS:
            view.run_validators(request)  # Mailgun's HMAC is its only check
            return
        AnymailBasicAuthMixin.validate_request(view, request)  # constant-time compare
    except Exception as exc:  # a malformed signature block is a failed signature too
        raise _unauthenticated(request, provider, f"{type(exc).__name__}: {exc}") from None
    try:
        view.run_validators(request)  # the rest, such as SNS's headers against its body
    except AnymailWebhookValidationFailure as exc:
        raise _Refused(403, str(exc)) from None
    except Exception as exc:  # hostile input must not become a 500
        raise _Refused(400, f"malformed {PROVIDER_LABELS[provider]} post: {exc}") from None


def _webhook_limit() -> int:
    return int(settings.HEEDFUL_MAX_WEBHOOK_BYTES)


def _too_big(provider: str) -> _Refused:
    # Loud, so an admin sees that a provider's message was turned away.
    limit = _webhook_limit()
    log.error("a %s webhook post was over HEEDFUL_MAX_WEBHOOK_BYTES (%s bytes)", provider, limit)
    return _Refused(413, f"the post is over this server's {limit:,}-byte limit for webhook bodies")


def _refuse_declared_size(request: HttpRequest, provider: str) -> None:
    """Before the inbox lookup, so an oversized post is answered alike for every inbox id."""
    try:
        declared = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        raise _Refused(400, "the Content-Length header is not a number") from None
    if declared > _webhook_limit():
        raise _too_big(provider)


def _read_body(request: HttpRequest, provider: str) -> _Refused | None:
    """Read the body under this view's own limit and hand anymail the parsed form.

    `request.body` and `request.POST` would apply DATA_UPLOAD_MAX_MEMORY_SIZE (kept small
    for every other form); `request.read` does not. Setting the request's cached body,
    stream, POST and FILES makes anymail's own `request.body` / `request.POST` see them.
    A malformed form is returned, not raised, to be answered after authentication.
    """
    limit = _webhook_limit()
    body = request.read(limit + 1)
    if len(body) > limit:  # a body without Content-Length (chunked)
        raise _too_big(provider)
    request._body = body
    request._stream = BytesIO(body)
    try:
        request._post, request._files = _form(request, body)  # type: ignore[attr-defined]
    except _Refused as malformed:
        # Said only after authentication: before it, a stranger learns nothing more.
        request._post, request._files = QueryDict(), MultiValueDict()  # type: ignore[attr-defined]
        return malformed
    return None


def _form(request: HttpRequest, body: bytes) -> tuple[QueryDict, MultiValueDict]:
    encoding = request.encoding or settings.DEFAULT_CHARSET
    if request.content_type == "multipart/form-data":
        return _multipart(request.META.get("CONTENT_TYPE", ""), body, encoding)
    if request.content_type == "application/x-www-form-urlencoded":
        try:
            return QueryDict(body, encoding=encoding), MultiValueDict()
        except Exception as exc:  # too many fields, say: a clear 400, never a 500
            raise _Refused(400, f"malformed form post: {exc}") from None
    return QueryDict(encoding=encoding), MultiValueDict()  # JSON: anymail reads the body


def _multipart(content_type: str, body: bytes, encoding: str) -> tuple[QueryDict, MultiValueDict]:
    """multipart/form-data by the standard library's parser, with no per-field size limit.

    Django's own parser would refuse a field over DATA_UPLOAD_MAX_MEMORY_SIZE, and a
    provider's raw message is one field. The whole body is already within the limit.
    """
    head = b"Content-Type: " + content_type.encode("latin-1", errors="replace") + b"\r\n\r\n"
    form = BytesParser(policy=HTTP).parsebytes(head + body)
    parts = list(form.iter_parts()) if form.is_multipart() else []
    if not parts:
        raise _Refused(400, "malformed multipart form: no parts (or no boundary)")
    if len(parts) > settings.DATA_UPLOAD_MAX_NUMBER_FIELDS:
        raise _Refused(
            400, f"the form has more than {settings.DATA_UPLOAD_MAX_NUMBER_FIELDS} fields"
        )
    fields = QueryDict(mutable=True, encoding=encoding)
    files: MultiValueDict = MultiValueDict()
    for part in parts:
        name = part.get_param("name", header="content-disposition")
        if not isinstance(name, str) or not name:
            continue  # as Django does: a part without a name is no field
        content = part.get_payload(decode=True)
        data = content if isinstance(content, bytes) else b""
        filename = part.get_filename()
        if filename:
            files.appendlist(name, SimpleUploadedFile(filename, data, part.get_content_type()))
        elif filename is None:
            fields.appendlist(name, _text(data, part, encoding))
    fields._mutable = False
    return fields, files


def _text(data: bytes, part: Message, encoding: str) -> str:
    charset = part.get_content_charset() or encoding
    try:
        return data.decode(charset, errors="replace")
    except LookupError:  # a charset Python does not know
        return data.decode(encoding, errors="replace")


def _refuse_replay(request: HttpRequest, inbox: Inbox) -> None:
    """Mailgun's signature covers only timestamp and token, not the message.

    A post is accepted within MAILGUN_MAX_AGE_SECONDS of its timestamp, and its token
    for one inbox only. Used tokens are kept in the cache (Redis, shared by every
    process) for twice that window: `cache.add` is atomic, needs no database index, and
    expires by itself. The same token again for the same inbox stays allowed: that is
    the provider retrying, and `ingest.accept` stores it once (source_key).
    """
    timestamp, token = _mailgun_stamp(request)
    if abs(time.time() - timestamp) > MAILGUN_MAX_AGE_SECONDS:
        raise _Refused(403, "the Mailgun timestamp is more than 5 minutes from now")
    key = f"heedful:mailgun-token:{token}"
    try:
        first_use = cache.add(key, inbox.pk, MAILGUN_TOKEN_TTL_SECONDS)
        owner = inbox.pk if first_use else cache.get(key)
    except Exception as exc:  # cache down: the provider retries a 5xx later
        log.exception("checking a Mailgun token in the cache failed")
        raise _Refused(
            503, f"could not check the post's token now ({type(exc).__name__})"
        ) from None
    if owner != inbox.pk:
        raise _Refused(403, "this Mailgun token was already used")


def _mailgun_stamp(request: HttpRequest) -> tuple[int, str]:
    """The timestamp and token anymail has just verified, from the form or a JSON post."""
    try:
        if request.content_type == "application/json":
            fields = json.loads(request.body)["signature"]
        else:
            fields = request.POST
        # Whole seconds, as Mailgun sends them: "nan" or "inf" would slip past any window.
        return int(fields["timestamp"]), str(fields["token"])
    except (KeyError, TypeError, ValueError):
        raise _Refused(403, "the Mailgun timestamp or token is malformed") from None


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
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:  # a port that is no number
        return False
    return (
        parts.scheme == "https"
        and port is None
        and parts.username is None
        and SNS_HOST.fullmatch(parts.hostname or "") is not None
    )


def _payloads(
    request: HttpRequest, view: AnymailCoreWebhookView, provider: str
) -> list[tuple[bytes, str | None]]:
    label = PROVIDER_LABELS[provider]
    try:
        events = view.parse_events(request)
        return [(RAW[provider](request, event), _source_key(provider, event)) for event in events]
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
