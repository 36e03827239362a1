"""knowledge.deflection: the one definition, counted on scripted sessions by hand."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.test import RequestFactory
from django.utils import timezone

from heedful.customers.models import Customer
from heedful.knowledge import deflection, tracking
from heedful.knowledge.models import (
    Article,
    ArticleFeedback,
    ArticleStatus,
    ArticleTranslation,
    HelpEvent,
    HelpEventKind,
    HelpSession,
)
from tests.factories import ConversationFactory, CustomerFactory

pytestmark = pytest.mark.django_db

NOW = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)
START, END = date(2025, 3, 1), date(2025, 3, 10)
CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/126.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


def at(day: int, hour: float = 10) -> datetime:
    return datetime(2025, 3, day, tzinfo=UTC) + timedelta(hours=hour)


def article(title: str = "Track your order") -> Article:
    made = Article.objects.create(status=ArticleStatus.PUBLISHED)
    ArticleTranslation.objects.create(
        article=made, language="en", title=title, slug=title.lower().replace(" ", "-"),
        updated_at=NOW,
    )  # fmt: skip
    return made


_keys = iter(range(10**6))


def session(visitor: str, started: datetime, *, customer: Customer | None = None) -> HelpSession:
    return HelpSession.objects.create(
        key=f"k{next(_keys)}",
        visitor=visitor,
        customer=customer,
        started_at=started,
        last_seen_at=started,
    )


def event(visit: HelpSession, kind: str, moment: datetime, **fields: Any) -> HelpEvent:
    """What tracking.record writes, at a chosen moment (engaged_at included)."""
    if kind in tracking.ENGAGING and visit.engaged_at is None:
        visit.engaged_at = moment
        visit.save(update_fields=["engaged_at"])
    return HelpEvent.objects.create(session=visit, kind=kind, created_at=moment, **fields)


def viewed(visitor: str, moment: datetime, read: Article, **kw: Any) -> HelpSession:
    visit = session(visitor, moment, **kw)
    event(visit, HelpEventKind.VIEW, moment, article=read)
    return visit


def figures() -> tuple[deflection.Outcome, deflection.Outcome]:
    result = deflection.overview(START, END, now=NOW)
    return result.day, result.week


def counts(outcome: deflection.Outcome) -> tuple[int, int, int, int]:
    return outcome.engaged, outcome.closed, outcome.deflected, outcome.pending


# --- one session at a time ---------------------------------------------------------


def test_a_view_nobody_followed_up_is_deflected_at_24_hours_and_7_days() -> None:
    viewed("v1", at(2), article())
    day, week = figures()
    assert counts(day) == (1, 1, 1, 0) and day.rate == 100.0
    assert counts(week) == (1, 1, 1, 0) and week.rate == 100.0


def test_the_same_visitor_writing_from_another_session_3_hours_later_is_not_deflected(
    cast: Any,
) -> None:
    viewed("v2", at(3), article())
    later = session("v2", at(3, 13))
    event(later, HelpEventKind.CONTACT, at(3, 13), conversation=cast.conversation_a())
    day, week = figures()
    assert counts(day) == (1, 1, 0, 0) and day.rate == 0.0
    assert counts(week) == (1, 1, 0, 0)


def test_another_visitor_writing_does_not_count() -> None:
    viewed("v3", at(3), article())
    event(session("someone-else", at(3, 11)), HelpEventKind.CONTACT, at(3, 11))
    assert figures()[0].deflected == 1


def test_the_signed_in_customer_emailing_30_hours_later_is_deflected_at_24_h_not_at_7_d() -> None:
    customer = CustomerFactory()
    viewed("v4", at(1), article(), customer=customer)
    ConversationFactory(customer=customer, created_at=at(1) + timedelta(hours=30))
    day, week = figures()
    assert counts(day) == (1, 1, 1, 0)
    assert counts(week) == (1, 1, 0, 0)


def test_a_conversation_before_the_engagement_does_not_count() -> None:
    customer = CustomerFactory()
    ConversationFactory(customer=customer, created_at=at(2, 9))
    viewed("v5", at(2), article(), customer=customer)
    assert figures()[0].deflected == 1


def test_a_contact_in_the_same_session_after_the_engagement_is_not_deflected() -> None:
    visit = viewed("v6", at(2, 15), article())
    event(visit, HelpEventKind.CONTACT, at(2, 15) + timedelta(minutes=10))
    day, week = figures()
    assert counts(day) == (1, 1, 0, 0)
    assert counts(week) == (1, 1, 0, 0)


def test_a_session_that_only_searched_is_not_counted() -> None:
    visit = session("v7", at(4))
    event(visit, HelpEventKind.SEARCH, at(4), query="refund", results=3)
    result = deflection.overview(START, END, now=NOW)
    assert result.sessions == 1 and result.engaged == 0
    assert result.day.rate is None and result.searches == 1


def test_suggestions_shown_while_writing_engage_the_session() -> None:
    visit = session("v8", at(5))
    event(visit, HelpEventKind.SUGGESTIONS_SHOWN, at(5), articles=[1, 2])
    assert counts(figures()[0]) == (1, 1, 1, 0)


def test_an_open_window_is_pending_not_deflected() -> None:
    viewed("v9", NOW - timedelta(hours=2), article())
    viewed("v10", NOW - timedelta(days=3), article())
    day, week = figures()
    assert counts(day) == (2, 1, 1, 1)
    assert counts(week) == (2, 0, 0, 2) and week.rate is None


def test_sessions_outside_the_range_are_left_out() -> None:
    viewed("v11", at(2), article())
    viewed("v12", datetime(2025, 2, 27, 10, tzinfo=UTC), article())
    assert figures()[0].engaged == 1


def test_bots_produce_no_rows_at_all() -> None:
    read = article()
    factory = RequestFactory()
    bot = factory.get("/help/", HTTP_USER_AGENT=GOOGLEBOT)
    assert tracking.record(bot, HelpEventKind.VIEW, article=read) is None
    assert tracking.record(factory.get("/help/"), HelpEventKind.SEARCH, query="x") is None
    assert not HelpSession.objects.exists() and not HelpEvent.objects.exists()
    person = factory.get("/help/", HTTP_USER_AGENT=CHROME)
    assert tracking.record(person, HelpEventKind.VIEW, article=read) is not None
    assert HelpSession.objects.filter(engaged_at__isnull=False).count() == 1


# --- the scripted week ----------------------------------------------------------------


@pytest.fixture
def week(cast: Any) -> dict[str, Article]:
    """Seven sessions over ten days, each outcome worked out by hand:

    s1 v-a views X on the 2nd, nothing after           -> deflected 24 h and 7 d
    s2 v-b views X on the 3rd; s3 v-b writes 3 h later  -> not deflected
    s4 customer views Y on the 1st, emails 30 h later   -> deflected 24 h, not 7 d
    s5 v-d searches "warranty" (no results), then writes in another session
    s6 v-e views X two hours before now                -> pending
    s7 v-f views Y three days before now                -> deflected 24 h, 7 d pending
    s8 v-g views X and votes, writes 10 min later       -> not deflected
    """
    x, y = article("Track your order"), article("Start a return")
    customer = CustomerFactory()
    s1 = viewed("v-a", at(2), x)
    event(s1, HelpEventKind.SEARCH, at(2), query="invoice portal", results=0)
    viewed("v-b", at(3), x)
    s3 = session("v-b", at(3, 13))
    event(s3, HelpEventKind.CONTACT, at(3, 13), conversation=cast.conversation_a())
    viewed("v-c", at(1), y, customer=customer)
    ConversationFactory(customer=customer, created_at=at(1) + timedelta(hours=30))
    s5 = session("v-d", at(4))
    event(s5, HelpEventKind.SEARCH, at(4), query="warranty", results=0)
    event(s5, HelpEventKind.SEARCH, at(4, 10.1), query="invoice portal", results=0)
    event(session("v-d", at(4, 12)), HelpEventKind.CONTACT, at(4, 12))
    viewed("v-e", NOW - timedelta(hours=2), x)
    viewed("v-f", NOW - timedelta(days=3), y)
    s8 = viewed("v-g", at(2, 15), x)
    event(s8, HelpEventKind.VOTE, at(2, 15.05), article=x)
    ArticleFeedback.objects.create(
        article=x, language="en", helpful=False, session=s8, created_at=at(2, 15.05)
    )
    ArticleFeedback.objects.create(article=x, language="en", helpful=True, created_at=at(2))
    ArticleFeedback.objects.create(article=y, language="en", helpful=True, created_at=at(1))
    event(s8, HelpEventKind.CONTACT, at(2, 15) + timedelta(minutes=10))
    return {"x": x, "y": y}


def test_the_week_overall(week: dict[str, Article]) -> None:
    result = deflection.overview(START, END, now=NOW)
    assert result.sessions == 9 and result.engaged == 6
    # 24 h: closed s1 s2 s4 s7 s8; s2 and s8 were followed; s6 pending.
    assert counts(result.day) == (6, 5, 3, 1) and result.day.rate == 60.0
    # 7 d: closed s1 s2 s4 s8 (s4's email came on day 2); s6 and s7 pending.
    assert counts(result.week) == (6, 4, 1, 2) and result.week.rate == 25.0
    assert (result.searches, result.searches_without_results, result.views) == (3, 3, 6)
    assert (result.helpful_yes, result.helpful_no, result.helpful_rate) == (2, 1, 66.7)


def test_the_week_by_day(week: dict[str, Article]) -> None:
    points = deflection.trend(START, END, "day", now=NOW)
    assert len(points) == 10
    by_day = {p.period.start.day: (p.sessions, p.day.engaged, p.day.deflected) for p in points}
    assert by_day[1] == (1, 1, 1)
    assert by_day[2] == (2, 2, 1)
    assert by_day[3] == (2, 1, 0)
    assert by_day[4] == (2, 0, 0)
    assert by_day[7] == (1, 1, 1)
    assert by_day[10] == (1, 1, 0) and points[-1].day.pending == 1
    weekly = deflection.trend(START, END, "week", now=NOW)
    assert [p.sessions for p in weekly] == [3, 5, 1]  # Sat-Sun, Mon-Sun, Mon


def test_per_article(week: dict[str, Article]) -> None:
    rows = {r.title: r for r in deflection.articles(START, END, now=NOW)}
    x, y = rows["Track your order"], rows["Start a return"]
    assert (x.views, x.sessions, x.helpful_yes, x.helpful_no) == (4, 4, 1, 1)
    # X's closed sessions at 24 h: s1 s2 s8; followed: s2 and s8.
    assert (x.day.closed, x.day.contacted, x.followed_rate_24h) == (3, 2, 66.7)
    assert (x.week.closed, x.week.contacted, x.followed_rate_7d) == (3, 2, 66.7)
    assert (y.views, y.day.closed, y.day.contacted, y.week.closed, y.week.contacted) == (
        2, 2, 0, 1, 1,
    )  # fmt: skip
    assert y.helpful_rate == 100.0 and x.is_public


def test_rewrite_candidates_are_busy_articles_still_followed_by_contacts(
    week: dict[str, Article],
) -> None:
    both = deflection.rewrite_candidates(START, END, min_views=2, now=NOW)
    assert [r.title for r in both] == ["Track your order", "Start a return"]
    assert [r.title for r in deflection.rewrite_candidates(START, END, min_views=3, now=NOW)] == [
        "Track your order"
    ]


def test_content_gaps(week: dict[str, Article]) -> None:
    empty = deflection.searches_without_results(START, END)
    assert [(g.query, g.searches) for g in empty] == [("invoice portal", 2), ("warranty", 1)]
    assert empty[0].last_seen == at(4, 10.1)
    followed = deflection.searches_followed_by_contact(START, END, now=NOW)
    # s5's two searches were followed by v-d's request 2 h later; s1's was not.
    assert [(g.query, g.searches, g.followed) for g in followed] == [
        ("invoice portal", 2, 1),
        ("warranty", 1, 1),
    ]


def test_suggestions_shown_and_clicked() -> None:
    read = article()
    shown = session("v-s", at(2))
    event(shown, HelpEventKind.SUGGESTIONS_SHOWN, at(2), articles=[read.pk])
    event(shown, HelpEventKind.SUGGESTIONS_SHOWN, at(2, 10.01), articles=[read.pk])
    event(shown, HelpEventKind.SUGGESTION_CLICKED, at(2, 10.02), article=read)
    ignored = session("v-t", at(3))
    event(ignored, HelpEventKind.SUGGESTIONS_SHOWN, at(3), articles=[read.pk])
    event(ignored, HelpEventKind.CONTACT, at(3, 10.1))
    result = deflection.suggestions(START, END, now=NOW)
    assert (result.shown, result.sessions_shown, result.clicks) == (3, 2, 1)
    assert result.sessions_clicked == 1 and result.click_rate == 50.0
    assert counts(result.day) == (2, 2, 1, 0) and result.day.rate == 50.0


def test_the_definition_is_the_module_docstring_paragraph() -> None:
    assert deflection.DEFINITION.startswith("A help-center visit (bots are never counted)")
    assert "pending" in deflection.DEFINITION and "*" not in deflection.DEFINITION


def test_now_defaults_to_the_current_time(week: dict[str, Article]) -> None:
    later = deflection.overview(START, END)
    assert timezone.now() > NOW and later.day.pending == 0 and later.week.pending == 0
