"""Help-center tracking: first-party visit cookies, idle expiry, bots never recorded."""

from datetime import timedelta

import pytest
from django.http import HttpRequest, HttpResponse
from django.test import RequestFactory
from django.utils import timezone

from heedful.knowledge.models import HelpEvent, HelpEventKind, HelpSession
from heedful.knowledge.tracking import (
    VISIT_COOKIE,
    VISITOR_COOKIE,
    TrackingCookieMiddleware,
    link_customer,
    record,
)
from tests.factories import CustomerFactory

pytestmark = pytest.mark.django_db
BROWSER = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0 Safari/537.36"
)


def visit(cookies: dict[str, str] | None = None, agent: str = BROWSER) -> HttpRequest:
    request = RequestFactory(HTTP_USER_AGENT=agent).get("/help/")
    request.COOKIES.update(cookies or {})
    return request


def respond(request: HttpRequest) -> HttpResponse:
    return TrackingCookieMiddleware(lambda r: HttpResponse("ok"))(request)


def test_a_first_visit_starts_a_session_and_sets_both_cookies() -> None:
    request = visit()
    event = record(request, HelpEventKind.SEARCH, query="  Reset   PASSWORD ", results=3)
    response = respond(request)
    session = HelpSession.objects.get()
    assert event is not None and event.query == "reset password" and event.results == 3
    assert response.cookies[VISIT_COOKIE].value == session.key
    assert response.cookies[VISITOR_COOKIE].value == session.visitor
    assert response.cookies[VISIT_COOKIE]["httponly"]
    assert session.engaged_at is None


def test_the_next_page_continues_the_visit_without_new_cookies() -> None:
    first = visit()
    record(first, HelpEventKind.SEARCH, query="x", results=0)
    cookies = {k: v.value for k, v in respond(first).cookies.items()}
    second = visit(cookies)
    record(second, HelpEventKind.VIEW)
    assert not respond(second).cookies
    session = HelpSession.objects.get()
    assert session.events.count() == 2
    assert session.engaged_at is not None


def test_an_idle_visit_ends_and_the_same_visitor_starts_a_new_one() -> None:
    first = visit()
    record(first, HelpEventKind.VIEW)
    cookies = {k: v.value for k, v in respond(first).cookies.items()}
    HelpSession.objects.update(last_seen_at=timezone.now() - timedelta(minutes=31))
    second = visit(cookies)
    record(second, HelpEventKind.VIEW)
    old, new = HelpSession.objects.order_by("pk")
    assert old.key != new.key and old.visitor == new.visitor
    assert respond(second).cookies[VISIT_COOKIE].value == new.key


@pytest.mark.parametrize(
    "agent",
    ["Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "curl/8.5", ""],
)
def test_crawlers_and_anonymous_clients_are_never_recorded(agent: str) -> None:
    request = visit(agent=agent)
    assert record(request, HelpEventKind.VIEW) is None
    assert not respond(request).cookies
    assert not HelpSession.objects.exists() and not HelpEvent.objects.exists()


@pytest.mark.parametrize("forged", ["1", "x" * 43 + "'", "a" * 200, "../../etc"])
def test_a_forged_cookie_is_ignored_and_replaced(forged: str) -> None:
    request = visit({VISIT_COOKIE: forged, VISITOR_COOKIE: forged})
    record(request, HelpEventKind.VIEW)
    session = HelpSession.objects.get()
    assert session.key != forged and session.visitor != forged


def test_a_sent_request_links_the_visit_to_its_customer() -> None:
    request = visit()
    customer = CustomerFactory()
    link_customer(request, customer)
    assert HelpSession.objects.get().customer == customer
