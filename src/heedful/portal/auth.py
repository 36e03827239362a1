"""Customer sign-in for the portal: a one-time link and code by email, no password.

Customers are not agent accounts. The portal never calls django.contrib.auth's
login: a signed-in customer is the key `portal_customer_id` in the Django session,
read only by the portal (`current_customer`), and agent pages read only
`request.user`; so neither sign-in grants anything to the other.

A sign-in request always looks the same from outside: the view hashes a fresh token
and code, remembers the token's digest in the browser's session and hands the
address to a background task, which alone finds out whether the address is a
customer's and, if so, stores the digests and sends the email. Known and unknown
addresses therefore cost the request the same work and get the same page.

Tokens are 256 random bits, stored only as SHA-256 digests; the 6-digit code is
stored as an HMAC keyed with SECRET_KEY and bound to its sign-in (a copy of the
database answers neither). A sign-in is single-use, expires after
HEEDFUL_PORTAL_LINK_MINUTES and dies after MAX_CODE_TRIES wrong codes.
"""

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from django.conf import settings
from django.db import transaction
from django.db.models import F
from django.http import HttpRequest
from django.utils import timezone

from heedful.customers.identities import IdentityKind, InvalidAddress, normalize_email
from heedful.customers.models import Customer, Identity
from heedful.portal.models import PortalSignIn

if TYPE_CHECKING:
    from django.contrib.sessions.backends.base import SessionBase
    from django.core.mail import EmailMultiAlternatives

SESSION_CUSTOMER = "portal_customer_id"
SESSION_IDENTITY = "portal_identity_id"
# The pending sign-in of this browser: its token digest (not the token) and address.
SESSION_PENDING = "portal_sign_in"
MAX_CODE_TRIES = 5
# secrets.token_urlsafe(32) gives 43 characters; anything far longer is not ours.
MAX_TOKEN_LENGTH = 64


def digest(token: str) -> str:
    return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()


def code_digest(token_hash: str, code: str) -> str:
    """The code's digest, keyed and bound to its sign-in: the same code typed against
    another sign-in, or a million guesses over a stolen table, match nothing."""
    message = f"{token_hash}:{code}".encode()
    return hmac.new(settings.SECRET_KEY.encode(), message, hashlib.sha256).hexdigest()


@dataclass(frozen=True)
class Pending:
    """What the sign-in email carries (only there) and what the session keeps."""

    email: str
    token: str
    code: str

    @property
    def token_hash(self) -> str:
        return digest(self.token)


def start_sign_in(session: "SessionBase", email: str) -> Pending:
    """A fresh token and code for `email`, remembered in this browser's session by
    digest; the caller hands the result to `send_sign_in_email` (a task)."""
    pending = Pending(
        email=email, token=secrets.token_urlsafe(32), code=f"{secrets.randbelow(10**6):06d}"
    )
    expires = timezone.now() + timedelta(minutes=settings.HEEDFUL_PORTAL_LINK_MINUTES)
    session[SESSION_PENDING] = {
        "h": pending.token_hash,
        "e": email,
        "tries": 0,
        "exp": expires.timestamp(),
    }
    return pending


def pending_email(session: "SessionBase") -> str:
    data = session.get(SESSION_PENDING) or {}
    return str(data.get("e", ""))


def email_identity(email: str) -> Identity | None:
    try:
        address = normalize_email(email)
    except InvalidAddress:
        return None
    return (
        Identity.objects.select_related("customer")
        .filter(kind=IdentityKind.EMAIL, address=address)
        .first()
    )


def store_sign_in(pending: Pending) -> PortalSignIn | None:
    """The stored sign-in for a known address; None (nothing stored) for others."""
    identity = email_identity(pending.email)
    if identity is None:
        return None
    now = timezone.now()
    # get_or_create: a retried task must not store the same token twice.
    sign_in, _ = PortalSignIn.objects.get_or_create(
        token_hash=pending.token_hash,
        defaults=dict(
            identity=identity,
            code_hash=code_digest(pending.token_hash, pending.code),
            created_at=now,
            expires_at=now + timedelta(minutes=settings.HEEDFUL_PORTAL_LINK_MINUTES),
        ),
    )
    return sign_in


class SignInFailed(Exception):
    """Why a link or code did not sign in; `status` is the HTTP status to answer with."""

    def __init__(self, reason: str, status: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.status = status


def find_by_token(token: str) -> PortalSignIn:
    """The sign-in a link names, still usable; raises SignInFailed (404 unknown, 410 spent)."""
    if not 0 < len(token) <= MAX_TOKEN_LENGTH:
        raise SignInFailed("unknown", 404)
    sign_in = PortalSignIn.objects.filter(token_hash=digest(token)).first()
    if sign_in is None:
        raise SignInFailed("unknown", 404)
    _check_usable(sign_in)
    return sign_in


def _check_usable(sign_in: PortalSignIn) -> None:
    if sign_in.used_at is not None:
        raise SignInFailed("used", 410)
    if sign_in.expires_at <= timezone.now():
        raise SignInFailed("expired", 410)
    if sign_in.failed_attempts >= MAX_CODE_TRIES:
        raise SignInFailed("locked", 410)


def consume(sign_in: PortalSignIn) -> Customer:
    """Use the sign-in up (once: one conditional UPDATE decides between two clicks) and
    mark its address verified; returns the surviving customer."""
    now = timezone.now()
    with transaction.atomic():
        taken = PortalSignIn.objects.filter(
            pk=sign_in.pk,
            used_at__isnull=True,
            expires_at__gt=now,
            failed_attempts__lt=MAX_CODE_TRIES,
        ).update(used_at=now)
        if taken != 1:
            raise SignInFailed("used", 410)
        # Opening the link or typing the code proves the address is theirs.
        Identity.objects.filter(pk=sign_in.identity_id).update(verified=True)
        identity = Identity.objects.select_related("customer").get(pk=sign_in.identity_id)
    return identity.customer.resolve()


def check_code(session: "SessionBase", code: str) -> PortalSignIn:
    """The session's pending sign-in if `code` is its code; raises SignInFailed.

    Every answer is decided by what the session holds (its expiry, its count of wrong
    tries), never by whether a row exists: an attempt for an address we do not know
    expires, fails and locks out exactly like one for a customer's address, so typing
    codes reveals nothing. A row that is spent (used, expired, locked) is a wrong code.
    Wrong codes also count on the row, which dies after MAX_CODE_TRIES.
    """
    data = session.get(SESSION_PENDING)
    if not data:
        raise SignInFailed("no-pending", 400)
    tries = int(data.get("tries", 0))
    if tries >= MAX_CODE_TRIES:
        raise SignInFailed("locked", 429)
    if float(data.get("exp", 0)) <= timezone.now().timestamp():
        raise SignInFailed("expired", 410)
    token_hash = str(data["h"])
    # The try is counted on the row before the compare, in one UPDATE that refuses past
    # the limit, so requests sent at once cannot each get a guess. (It matches no row
    # for an unknown address, taking as long.)
    counted = PortalSignIn.objects.filter(
        token_hash=token_hash, failed_attempts__lt=MAX_CODE_TRIES
    ).update(failed_attempts=F("failed_attempts") + 1)
    sign_in = PortalSignIn.objects.filter(token_hash=token_hash).first()
    wanted = sign_in.code_hash if sign_in is not None else ""
    given = code_digest(token_hash, "".join(code.split()))
    if counted and sign_in is not None and hmac.compare_digest(wanted, given):
        # A right code is not a wrong try.
        PortalSignIn.objects.filter(pk=sign_in.pk).update(failed_attempts=F("failed_attempts") - 1)
        sign_in.refresh_from_db()
        if _usable(sign_in):
            return sign_in
    session[SESSION_PENDING] = {**data, "tries": tries + 1}
    if tries + 1 >= MAX_CODE_TRIES:
        raise SignInFailed("locked", 429)
    raise SignInFailed("wrong-code", 400)


def _usable(sign_in: PortalSignIn) -> bool:
    try:
        _check_usable(sign_in)
    except SignInFailed:
        return False
    return True


def sign_in(request: HttpRequest, customer: Customer, identity_id: int) -> None:
    """Start the customer's portal session: a new session key (no fixation), the
    surviving customer's id, and the visit linked for deflection tracking."""
    from heedful.knowledge.tracking import link_customer

    request.session.cycle_key()
    request.session.pop(SESSION_PENDING, None)
    request.session[SESSION_CUSTOMER] = customer.pk
    request.session[SESSION_IDENTITY] = identity_id
    link_customer(request, customer)


def sign_out(request: HttpRequest) -> None:
    """End the portal session only: an agent signed in in the same browser stays so."""
    for key in (SESSION_CUSTOMER, SESSION_IDENTITY, SESSION_PENDING):
        request.session.pop(key, None)
    request.session.cycle_key()


def current_customer(request: HttpRequest) -> Customer | None:
    """The signed-in customer (the survivor if they were merged since), or None."""
    pk = request.session.get(SESSION_CUSTOMER)
    if not isinstance(pk, int):
        return None
    customer = Customer.objects.select_related("organization").filter(pk=pk).first()
    if customer is None:  # erased since
        sign_out(request)
        return None
    if customer.merged_into_id is not None:
        survivor = customer.resolve()
        customer = Customer.objects.select_related("organization").get(pk=survivor.pk)
        request.session[SESSION_CUSTOMER] = customer.pk
    return customer


def sending_identity(request: HttpRequest, customer: Customer) -> Identity | None:
    """The email address the customer signed in with (it is verified), for new
    requests and replies; else any verified email address of theirs."""
    identities = Identity.objects.filter(customer=customer, kind=IdentityKind.EMAIL, verified=True)
    chosen = identities.filter(pk=request.session.get(SESSION_IDENTITY) or 0).first()
    return chosen or identities.order_by("pk").first()


def deliver_sign_in(pending: Pending) -> bool:
    """Store and email the sign-in if the address is a customer's (the task's work).

    Sent the way survey emails are: from the web form inbox's address and transport
    (the portal's channel), else the site's DEFAULT_FROM_EMAIL; never to an address
    suppressed after hard bounces. Returns whether an email went out.
    """
    from heedful.inboxes.email.outbound import suppression_of

    if suppression_of(pending.email) is not None:
        return False
    stored = store_sign_in(pending)
    if stored is None:
        return False
    compose_sign_in(pending, to=stored.identity.address).send(fail_silently=False)
    return True


def compose_sign_in(pending: Pending, *, to: str) -> "EmailMultiAlternatives":
    from django.core.mail import EmailMultiAlternatives, get_connection
    from django.template.loader import render_to_string
    from django.urls import reverse

    from heedful.inboxes.email.transport import connection_for
    from heedful.inboxes.webform.intake import active_inbox
    from heedful.portal.models import HelpCenterTheme
    from heedful.surveys.delivery import from_header

    inbox = active_inbox()
    context = {
        "link": settings.BASE_URL + reverse("customer_portal:sign-in-link", args=[pending.token]),
        "code": pending.code,
        "minutes": settings.HEEDFUL_PORTAL_LINK_MINUTES,
        "site": HelpCenterTheme.current().name,
    }
    email = EmailMultiAlternatives(
        subject=f"Your sign-in code: {pending.code}",
        body=render_to_string("portal/account/sign_in_email.txt", context),
        from_email=from_header(inbox),
        to=[to],
        # RFC 3834: machine-made, so out-of-office replies stay away.
        headers={"Auto-Submitted": "auto-generated", "X-Auto-Response-Suppress": "All"},
        connection=connection_for(inbox) if inbox is not None else get_connection(),
    )
    email.attach_alternative(
        render_to_string("portal/account/sign_in_email.html", context), "text/html"
    )
    return email
