"""What help-center visitors do, recorded first-party and without personal data.

Two random cookies, set only by Heedful's own pages and read by nobody else:
`hd_visitor` (a year: "the same browser" across visits) and `hd_visit` (the current
visit, HEEDFUL_HELP_SESSION_MINUTES idle and it ends). No IP address, no user-agent
string and no third-party script is kept. Crawlers (crawlerdetect's list, and
requests with no user agent) are not recorded at all, so they never count as
deflected visits.

Views call `record(request, kind, ...)`; `TrackingCookieMiddleware` puts the
cookies on the response.
"""

import secrets
from datetime import timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

from crawlerdetect import CrawlerDetect
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.utils import timezone

from heedful.knowledge.models import Article, HelpEvent, HelpEventKind, HelpSession

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable

    from heedful.conversations.models import Conversation
    from heedful.customers.models import Customer

VISITOR_COOKIE = "hd_visitor"
VISIT_COOKIE = "hd_visit"
VISITOR_MAX_AGE = 365 * 24 * 3600
ENGAGING = (HelpEventKind.VIEW, HelpEventKind.SUGGESTIONS_SHOWN)
_detector = CrawlerDetect()


@lru_cache(maxsize=4096)
def _crawler(user_agent: str) -> bool:
    return not user_agent.strip() or bool(_detector.isCrawler(user_agent))


def is_bot(request: HttpRequest) -> bool:
    return _crawler(request.META.get("HTTP_USER_AGENT", "")[:512])


def _cookie(request: HttpRequest, name: str) -> str:
    value = request.COOKIES.get(name, "")
    # Our own values are 43 url-safe characters; anything else is not ours.
    return value if len(value) == 43 and value.replace("-", "").replace("_", "").isalnum() else ""


def current_session(request: HttpRequest) -> HelpSession | None:
    """This browser's visit, started or continued now; None for crawlers."""
    if hasattr(request, "_help_session"):
        cached: HelpSession | None = request._help_session
        return cached
    session = None if is_bot(request) else _continue_or_start(request)
    request._help_session = session  # type: ignore[attr-defined]
    return session


def _continue_or_start(request: HttpRequest) -> HelpSession:
    now = timezone.now()
    idle = timedelta(minutes=settings.HEEDFUL_HELP_SESSION_MINUTES)
    key = _cookie(request, VISIT_COOKIE)
    if key:
        session = HelpSession.objects.filter(key=key, last_seen_at__gt=now - idle).first()
        if session is not None:
            HelpSession.objects.filter(pk=session.pk).update(last_seen_at=now)
            session.last_seen_at = now
            return session
    visitor = _cookie(request, VISITOR_COOKIE) or secrets.token_urlsafe(32)
    session = HelpSession.objects.create(
        key=secrets.token_urlsafe(32),
        visitor=visitor,
        customer_id=request.session.get("portal_customer_id")
        if hasattr(request, "session")
        else None,
        started_at=now,
        last_seen_at=now,
    )
    request._help_cookies = (visitor, session.key)  # type: ignore[attr-defined]
    return session


def record(
    request: HttpRequest,
    kind: str,
    *,
    article: Article | None = None,
    query: str = "",
    results: int | None = None,
    articles: "Iterable[int]" = (),
    conversation: "Conversation | None" = None,
) -> HelpEvent | None:
    """Record one thing a visitor did; nothing for crawlers."""
    session = current_session(request)
    if session is None:
        return None
    now = timezone.now()
    if kind in ENGAGING and session.engaged_at is None:
        HelpSession.objects.filter(pk=session.pk, engaged_at__isnull=True).update(engaged_at=now)
        session.engaged_at = now
    return HelpEvent.objects.create(
        session=session,
        kind=kind,
        article=article,
        query=" ".join(query.lower().split())[:200],
        results=results,
        articles=list(articles),
        conversation=conversation,
        created_at=now,
    )


def link_customer(request: HttpRequest, customer: "Customer") -> None:
    """The visitor proved to be this customer (a portal sign-in). Never from a contact
    form: anyone can type someone else's address there, and that would make a stranger's
    visit part of the customer's record; the form's contact still counts for its visitor."""
    session = current_session(request)
    if session is not None and session.customer_id != customer.pk:
        HelpSession.objects.filter(pk=session.pk).update(customer=customer)
        session.customer = customer


class TrackingCookieMiddleware:
    """Sets the visit cookies that `record` chose, on the response of that request."""

    def __init__(self, get_response: "Callable[[HttpRequest], HttpResponse]") -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        chosen: Any = getattr(request, "_help_cookies", None)
        if chosen:
            visitor, key = chosen
            common = {
                "secure": settings.SESSION_COOKIE_SECURE,
                "httponly": True,
                "samesite": "Lax",
            }
            response.set_cookie(VISITOR_COOKIE, visitor, max_age=VISITOR_MAX_AGE, **common)
            response.set_cookie(VISIT_COOKIE, key, **common)
        return response
