"""The demo help center: articles written through the knowledge services, visits that
make the deflection figures tell the portal story, the same for the same seed."""

from datetime import UTC, datetime, timedelta

import pytest

from heedful.conversations.models import Conversation
from heedful.demo.generator import DemoSummary, load_demo
from heedful.demo.help_texts import GAP_QUERIES
from heedful.knowledge import deflection
from heedful.knowledge.models import (
    Article,
    ArticleRevision,
    ArticleStatus,
    Category,
    HelpEvent,
    HelpEventKind,
    HelpSession,
    Visibility,
)
from heedful.search.articles import search_articles

pytestmark = pytest.mark.django_db

UNTIL = datetime(2025, 3, 3, tzinfo=UTC)
START, END = (UNTIL - timedelta(days=30)).date(), (UNTIL - timedelta(days=1)).date()


def demo(seed: int = 4) -> DemoSummary:
    return load_demo(
        customers=60, conversations=400, days=30, seed=seed, until=UNTIL, insights=False
    )


def test_the_help_center_has_public_articles_in_categories_with_revisions() -> None:
    summary = demo()
    public = Article.objects.public()
    assert summary.help_articles == public.count() >= 30
    assert Category.objects.count() == 6
    assert Article.objects.filter(visibility=Visibility.INTERNAL).count() == 2
    assert Article.objects.filter(status=ArticleStatus.DRAFT).count() == 2
    article = public.get(translations__title="Where is my order? Tracking your parcel")
    translation = article.translations.get()
    assert "<table>" in translation.body_html and "tracking number" in translation.body_text
    assert ArticleRevision.objects.filter(translation=translation).exists()
    assert article.published_at is not None and article.published_at < UNTIL - timedelta(days=30)
    assert article.related.exists()
    # Indexed as they were written: the help center finds them at once.
    hits = search_articles("tracking number", audience="public")
    assert article.pk in [hit.article.pk for hit in hits]


def test_a_second_run_reuses_the_articles() -> None:
    demo(seed=4)
    count = Article.objects.count()
    demo(seed=5)
    assert Article.objects.count() == count


def test_deflection_on_the_demo_is_not_trivial() -> None:
    demo()
    now = UNTIL
    result = deflection.report(START, END, "week", min_views=3, now=now)
    day = result.overview.day
    assert day.deflected > 0 and day.contacted > 0 and 50 < (day.rate or 0) < 95
    assert result.overview.week.deflected < day.deflected  # 7 days catches more contacts
    gaps = {g.query for g in result.no_results}
    assert "invoice portal" in gaps and gaps <= set(GAP_QUERIES)
    assert result.followed_searches
    # The portal launch: its articles are read and still followed by contacts.
    top = result.rewrite[:2]
    assert top and all("portal" in row.title.lower() for row in top), [r.title for r in top]
    assert result.suggestions.shown > 0 and result.suggestions.clicks > 0


def test_contacts_are_the_demo_conversations_of_the_session_customer() -> None:
    demo()
    contacts = HelpEvent.objects.filter(kind=HelpEventKind.CONTACT).select_related(
        "session", "conversation"
    )
    assert contacts.exists()
    for event in contacts:
        conversation = event.conversation
        assert isinstance(conversation, Conversation)
        assert conversation.inbox.kind == "webform"
        assert conversation.created_at == event.created_at
        assert event.session.customer_id == conversation.customer_id
    assert not HelpSession.objects.filter(started_at__gt=UNTIL).exists()
    assert not HelpEvent.objects.filter(created_at__gt=UNTIL).exists()


def _snapshot(summary: DemoSummary, after: int) -> list[object]:
    """The visits of one run (sessions after id `after`), times relative to the end."""
    first = summary.first_number or 0
    numbers = dict(Conversation.objects.values_list("pk", "number"))
    titles = {a.pk: a.translations.get().title for a in Article.objects.all()}
    rows: list[object] = []
    events = HelpEvent.objects.filter(session_id__gt=after).order_by("session_id", "id")
    for event in events:
        rows.append(
            (
                event.kind,
                titles.get(event.article_id or 0),
                event.query,
                event.results,
                (UNTIL - event.created_at).total_seconds(),
                numbers[event.conversation_id] - first if event.conversation_id else None,
            )
        )
    return rows


def _last_session() -> int:
    return HelpSession.objects.order_by("-id").values_list("id", flat=True).first() or 0


def test_the_same_seed_writes_the_same_visits() -> None:
    first = demo(seed=9)
    middle = _last_session()
    once = _snapshot(first, 0)
    second = demo(seed=9)
    assert first.help_sessions == second.help_sessions > 100
    assert _snapshot(second, middle) == once
    assert HelpSession.objects.values("key").distinct().count() == HelpSession.objects.count()
