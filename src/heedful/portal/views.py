"""Customer-facing pages. The contact form is the web form channel's front door."""

import uuid
from typing import Any

from django.conf import settings
from django.core import signing
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_http_methods
from django_ratelimit.core import is_ratelimited

from heedful.conversations.inbound import InboundAttachment
from heedful.conversations.services import Quarantined, receive
from heedful.inboxes.webform.intake import active_inbox, from_raw, to_raw
from heedful.knowledge import tracking
from heedful.knowledge.models import HelpEventKind
from heedful.portal.forms import ContactForm
from heedful.portal.headers import public_page

THANKS_SALT = "heedful.contact.thanks"


def client_ip(request: HttpRequest) -> str:
    return request.META.get(settings.RATELIMIT_IP_META_KEY, request.META.get("REMOTE_ADDR", ""))


@require_http_methods(["GET", "POST"])
@public_page
def contact(request: HttpRequest) -> HttpResponse:
    inbox = active_inbox()
    if inbox is None:
        return render(request, "portal/contact_unavailable.html", status=503)
    if request.method != "POST":
        form = ContactForm(initial={"submission_id": uuid.uuid4().hex})
        return _form_page(request, form)
    if _too_large(request):
        form = ContactForm(initial={"submission_id": uuid.uuid4().hex})
        message = "Your attachments are too large to send. Please attach fewer or smaller files."
        return _form_page(request, form, status=413, error=message)
    if is_ratelimited(
        request,
        group="contact",
        key=lambda g, r: client_ip(r),
        rate=settings.HEEDFUL_CONTACT_RATE,
        method="POST",
        increment=True,
    ):
        form = ContactForm(request.POST)
        form.is_valid()
        form.add_error(
            None,
            "You have sent several requests in a short time. Please wait a while "
            "and try again; we have your earlier messages.",
        )
        return _form_page(request, form, status=429)
    form = ContactForm(request.POST, request.FILES)
    if not form.is_valid():
        return _form_page(request, form, status=400)
    data = form.cleaned_data
    files = [
        InboundAttachment(f.name, (f.content_type or "application/octet-stream")[:100], f.read())
        for f in data["attachments"]
    ]
    fields = {k: data[k] for k in ("name", "email", "subject", "message", "submission_id")}
    fields["client_ip"] = client_ip(request)
    inbound = from_raw(inbox, to_raw(fields, files))
    try:
        result = receive(inbound)
    except Quarantined:
        return render(request, "portal/contact_held.html", {"email": data["email"]}, status=202)
    # Links this visit (and the visitor) to the customer, so the help center can tell
    # whether what they read before answered them (deflection).
    tracking.record(request, HelpEventKind.CONTACT, conversation=result.conversation)
    # The link carries only the signed number; the address stays in this browser's session.
    token = signing.dumps({"n": result.conversation.number}, salt=THANKS_SALT)
    request.session[f"contact-{result.conversation.number}"] = data["email"]
    return redirect("portal:contact-thanks", token=token)


def _too_large(request: HttpRequest) -> bool:
    """Refuse oversized bodies before Django spools them to disk."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    limit = settings.HEEDFUL_MAX_ATTACHMENTS * settings.HEEDFUL_MAX_ATTACHMENT_BYTES
    return length > limit + settings.HEEDFUL_MAX_FORM_BYTES


def _form_page(
    request: HttpRequest, form: ContactForm, status: int = 200, error: str = ""
) -> HttpResponse:
    context: dict[str, Any] = {
        "form": form,
        "error": error,
        "max_files": settings.HEEDFUL_MAX_ATTACHMENTS,
        "max_mb": settings.HEEDFUL_MAX_ATTACHMENT_BYTES // 1048576,
    }
    return render(request, "portal/contact.html", context, status=status)


def contact_thanks(request: HttpRequest, token: str) -> HttpResponse:
    try:
        data = signing.loads(token, salt=THANKS_SALT, max_age=7 * 24 * 3600)
    except signing.BadSignature:
        return render(request, "portal/contact_thanks.html", {"expired": True}, status=404)
    email = request.session.get(f"contact-{data['n']}", "")
    return render(request, "portal/contact_thanks.html", {"number": data["n"], "email": email})


def rate_limited(request: HttpRequest, exception: Exception) -> HttpResponse:
    return HttpResponse("Too many requests; please wait a moment.", status=429)
