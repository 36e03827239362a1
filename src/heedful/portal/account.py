"""The customer portal's pages: sign-in by emailed link or code, "My requests", a
request's thread with a reply form, and a new request. Views parse input, call the
portal's services (`portal.auth`, `portal.requests`) and render."""

import logging
import uuid
from collections.abc import Callable
from functools import wraps
from typing import Any

from django import forms
from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import FileResponse, Http404, HttpRequest, HttpResponse, HttpResponseBase
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST
from django_ratelimit.core import is_ratelimited

from heedful.conversations.inbound import InboundAttachment
from heedful.conversations.services import Quarantined
from heedful.customers.identities import InvalidAddress, normalize_email
from heedful.customers.models import Customer
from heedful.knowledge.models import HelpEventKind
from heedful.knowledge.tracking import record
from heedful.portal import auth, requests
from heedful.portal.forms import ContactForm, MultipleFileField
from heedful.portal.headers import PUBLIC_POLICY
from heedful.portal.views import client_ip

log = logging.getLogger(__name__)

PAGE_SIZE = 20
# Per client address, on top of the five tries each emailed code allows.
CODE_RATE = "30/h"
TOO_LARGE = "Your attachments are too large to send. Please attach fewer or smaller files."


# --- forms -------------------------------------------------------------------


class EmailForm(forms.Form):
    email = forms.CharField(max_length=254, label="Email address")

    def clean_email(self) -> str:
        value = self.cleaned_data["email"].strip()
        try:
            # Normalized as stored identities are, so the look-up finds the customer.
            # (Not email-validator: it refuses reserved domains some identities have.)
            return normalize_email(value)
        except InvalidAddress:
            raise ValidationError(
                "Please enter a valid email address, like name@example.com."
            ) from None


class CodeForm(forms.Form):
    code = forms.CharField(max_length=12, label="Sign-in code")

    def clean_code(self) -> str:
        value = "".join(self.cleaned_data["code"].split())
        if not (len(value) == 6 and value.isdigit()):
            raise ValidationError("The code is the 6 digits from the email.")
        return value


class ReplyForm(forms.Form):
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 6}),
        max_length=20000,
        label="Your reply",
        error_messages={"required": "Please write your reply."},
    )
    attachments = MultipleFileField(required=False)
    submission_id = forms.CharField(widget=forms.HiddenInput, max_length=64)

    # The contact form's rules: the same limits and the same double-click key.
    clean_attachments = ContactForm.clean_attachments
    clean_submission_id = ContactForm.clean_submission_id

    def clean_message(self) -> str:
        value = self.cleaned_data["message"].replace("\x00", "")
        if not value.strip():
            raise ValidationError("Please write your reply.")
        return value


class NewRequestForm(ReplyForm):
    subject = forms.CharField(
        max_length=200, error_messages={"required": "Please give your request a subject."}
    )
    message = forms.CharField(
        widget=forms.Textarea(attrs={"rows": 8}),
        max_length=20000,
        label="How can we help?",
        error_messages={"required": "Please tell us how we can help."},
    )
    field_order = ["subject", "message", "attachments"]

    clean_subject = ContactForm.clean_subject

    def clean_message(self) -> str:
        value = self.cleaned_data["message"].replace("\x00", "")
        if not value.strip():
            raise ValidationError("Please tell us how we can help.")
        return value


# --- helpers -----------------------------------------------------------------


def _private(response: HttpResponse) -> HttpResponse:
    """Pages with a token or a customer's data: never cached, never indexed, and no
    referrer to other sites. Not "no-referrer": Chromium then posts `Origin: null`
    from the page's own form and the CSRF check refuses it."""
    response["Cache-Control"] = "no-store"
    response["Referrer-Policy"] = "same-origin"
    response["X-Robots-Tag"] = "noindex, nofollow"
    # The help center's policy: scripts and styles from Heedful only, no framing.
    response.setdefault("Content-Security-Policy", PUBLIC_POLICY)
    response["X-Frame-Options"] = "DENY"
    return response


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200):
    return _private(render(request, f"portal/account/{template}", context, status=status))


def customer_required(view: Callable[..., HttpResponseBase]) -> Callable[..., HttpResponseBase]:
    """Pass the signed-in customer to the view; send everyone else to the sign-in page.
    Reads the portal's own session key only: an agent's sign-in counts for nothing here."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponseBase:
        customer = auth.current_customer(request)
        if customer is None:
            return redirect("customer_portal:sign-in")
        return view(request, customer, *args, **kwargs)

    return never_cache(wrapper)


def _limited(request: HttpRequest, group: str, key: str, rate: str) -> bool:
    return is_ratelimited(
        request, group=group, key=lambda g, r: key, rate=rate, method="POST", increment=True
    )


def _too_large(request: HttpRequest) -> bool:
    """Refuse oversized bodies before Django spools them to disk."""
    try:
        length = int(request.META.get("CONTENT_LENGTH") or 0)
    except ValueError:
        return False
    return length > requests.max_upload_bytes() + settings.HEEDFUL_MAX_FORM_BYTES


def _files(form: forms.Form) -> tuple[InboundAttachment, ...]:
    return tuple(
        InboundAttachment(f.name, (f.content_type or "application/octet-stream")[:100], f.read())
        for f in form.cleaned_data["attachments"]
    )


def _submission(request: HttpRequest, form: forms.Form) -> requests.Submission:
    data = form.cleaned_data
    return requests.Submission(
        subject=data.get("subject", ""),
        message=data["message"],
        submission_id=data["submission_id"],
        files=_files(form),
        client_ip=client_ip(request),
    )


def _upload_limits() -> dict[str, int]:
    return {
        "max_files": settings.HEEDFUL_MAX_ATTACHMENTS,
        "max_mb": settings.HEEDFUL_MAX_ATTACHMENT_BYTES // 1048576,
    }


def _status_of(form: forms.Form) -> int:
    """413 when the only trouble is the files' size, else 400."""
    errors = list(form.errors.get("attachments") or ())
    too_big = any("MB" in str(e) for e in errors)
    return 413 if too_big and len(form.errors) == 1 else 400


# --- sign-in -----------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in(request: HttpRequest) -> HttpResponse:
    if auth.current_customer(request) is not None and request.method == "GET":
        return redirect("customer_portal:requests")
    if request.method != "POST":
        return _page(request, "sign_in.html", {"form": EmailForm()})
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _page(request, "sign_in.html", {"form": form}, status=400)
    email = form.cleaned_data["email"]
    rate = settings.HEEDFUL_PORTAL_SIGNIN_RATE
    # Both limits count every request, known address or not, so they reveal nothing.
    by_ip = _limited(request, "portal-sign-in-ip", client_ip(request), rate)
    by_email = _limited(request, "portal-sign-in-email", email, rate)
    if by_ip or by_email:
        return _page(request, "busy.html", {}, status=429)
    from heedful.portal.tasks import send_sign_in_email

    pending = auth.start_sign_in(request.session, email)
    send_sign_in_email(pending.email, pending.token, pending.code)
    return redirect("customer_portal:sign-in-check")


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_check(request: HttpRequest) -> HttpResponse:
    """ "Check your email", where the code can be typed instead of opening the link."""
    email = auth.pending_email(request.session)
    if not email:
        return redirect("customer_portal:sign-in")
    if request.method != "POST":
        return _page(request, "check_email.html", {"form": CodeForm(), "email": email})
    if _limited(request, "portal-code", client_ip(request), CODE_RATE):
        return _page(request, "busy.html", {}, status=429)
    form = CodeForm(request.POST)
    if not form.is_valid():
        return _page(request, "check_email.html", {"form": form, "email": email}, status=400)
    try:
        found = auth.check_code(request.session, form.cleaned_data["code"])
        return _signed_in(request, found)
    except auth.SignInFailed as failed:
        return _code_failed(request, form, email, failed)


def _code_failed(
    request: HttpRequest, form: CodeForm, email: str, failed: auth.SignInFailed
) -> HttpResponse:
    if failed.reason == "wrong-code":
        form.add_error(
            "code", "That code is not right, or it was already used. Please check the email."
        )
        return _page(request, "check_email.html", {"form": form, "email": email}, status=400)
    if failed.reason == "locked":
        return _page(request, "link_problem.html", {"reason": "locked"}, status=429)
    return _page(request, "link_problem.html", {"reason": failed.reason}, status=failed.status)


def _signed_in(request: HttpRequest, found: Any) -> HttpResponse:
    customer = auth.consume(found)
    auth.sign_in(request, customer, found.identity_id)
    return redirect("customer_portal:requests")


@never_cache
@require_http_methods(["GET", "POST"])
def sign_in_link(request: HttpRequest, token: str) -> HttpResponse:
    """The emailed link. Opening it (GET) only shows a button, so mail scanners that
    follow links use nothing up; pressing it (POST) signs in."""
    if request.method == "POST" and _limited(request, "portal-code", client_ip(request), CODE_RATE):
        return _page(request, "busy.html", {}, status=429)
    try:
        found = auth.find_by_token(token)
        if request.method == "POST":
            return _signed_in(request, found)
    except auth.SignInFailed as failed:
        return _page(request, "link_problem.html", {"reason": failed.reason}, status=failed.status)
    return _page(request, "confirm.html", {"email": found.identity.address})


@require_POST
def sign_out(request: HttpRequest) -> HttpResponse:
    auth.sign_out(request)
    return _private(redirect("customer_portal:sign-in"))


# --- requests ----------------------------------------------------------------


@customer_required
@require_http_methods(["GET"])
def request_list(request: HttpRequest, customer: Customer) -> HttpResponse:
    shared = requests.shares_with_organization(customer)
    organization = shared and request.GET.get("scope") == "organization"
    pages = Paginator(requests.list_requests(customer, organization=organization), PAGE_SIZE)
    page = pages.get_page(request.GET.get("page"))
    context = {
        "customer": customer,
        "rows": requests.request_rows(customer, page.object_list),
        "page": page,
        "shared": shared,
        "organization": organization,
    }
    return _page(request, "list.html", context)


@customer_required
@require_http_methods(["GET", "POST"])
def request_detail(request: HttpRequest, customer: Customer, number: int) -> HttpResponse:
    conversation = requests.get_request_for(customer, number)
    if conversation.number != number:  # merged into another: show the surviving one
        return redirect("customer_portal:request", number=conversation.number)
    form = ReplyForm(initial={"submission_id": uuid.uuid4().hex})
    status, error = 200, ""
    if request.method == "POST":
        if _too_large(request):
            status, error = 413, TOO_LARGE
        else:
            response, form, status = _reply(request, customer, conversation)
            if response is not None:
                return response
    context = {
        "customer": customer,
        "conversation": conversation,
        "status_label": requests.friendly_status(conversation.status),
        "entries": requests.thread(customer, conversation),
        "may_reply": requests.may_reply(customer, conversation),
        "closed": conversation.status == "closed",
        "form": form,
        "error": error,
        **_upload_limits(),
    }
    return _page(request, "thread.html", context, status=status)


def _reply(
    request: HttpRequest, customer: Customer, conversation: Any
) -> tuple[HttpResponse | None, ReplyForm, int]:
    """The reply form's POST: (a response to return, or the form to show with a status)."""
    if not requests.may_reply(customer, conversation):
        raise Http404("No such request")
    form = ReplyForm(request.POST, request.FILES)
    if not form.is_valid():
        return None, form, _status_of(form)
    identity = auth.sending_identity(request, customer)
    if identity is None:
        raise Http404("No such request")
    try:
        message = requests.reply_from_portal(
            customer=customer,
            identity=identity,
            conversation=conversation,
            submission=_submission(request, form),
        )
    except requests.RequestClosed:
        form.add_error(None, "This request is closed. Please open a new request instead.")
        return None, form, 409
    except requests.PortalUnavailable:
        return _page(request, "unavailable.html", {}, status=503), form, 503
    except Quarantined:
        return _page(request, "held.html", {}, status=202), form, 202
    target = reverse("customer_portal:request", args=[message.conversation.number])
    return redirect(f"{target}?sent=1#m{message.pk}"), form, 302


@customer_required
@require_http_methods(["GET", "POST"])
def new_request(request: HttpRequest, customer: Customer) -> HttpResponse:
    form = NewRequestForm(initial={"submission_id": uuid.uuid4().hex})
    status, error = 200, ""
    if request.method == "POST":
        if _too_large(request):
            status, error = 413, TOO_LARGE
        else:
            form = NewRequestForm(request.POST, request.FILES)
            if form.is_valid():
                return _open(request, customer, form)
            status = _status_of(form)
    context = {"customer": customer, "form": form, "error": error, **_upload_limits()}
    return _page(request, "new.html", context, status)


def _open(request: HttpRequest, customer: Customer, form: NewRequestForm) -> HttpResponse:
    identity = auth.sending_identity(request, customer)
    if identity is None:
        return redirect("customer_portal:sign-in")
    try:
        result = requests.open_request(
            customer=customer, identity=identity, submission=_submission(request, form)
        )
    except requests.PortalUnavailable:
        return _page(request, "unavailable.html", {}, status=503)
    except Quarantined:
        return _page(request, "held.html", {}, status=202)
    if not result.duplicate:  # a double click is one request and one contact
        record(request, HelpEventKind.CONTACT, conversation=result.conversation)
    return redirect("customer_portal:request", number=result.conversation.number)


@customer_required
@require_http_methods(["GET"])
def attachment(request: HttpRequest, customer: Customer, pk: int) -> FileResponse:
    found = requests.get_attachment_for(customer, pk)
    try:
        handle = found.file.open("rb")
    except OSError:
        log.error("attachment %s is missing from storage (%s)", pk, found.file.name)
        raise Http404("This attachment's file is missing.") from None
    response = FileResponse(
        handle, as_attachment=True, filename=found.filename, content_type="application/octet-stream"
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "no-store"
    return response
