"""Article search: the contract the help center, portal and workspace build on. Runs
on SQLite and PostgreSQL alike (the same expected ids on both)."""

import pytest
from django.db import connection
from hypothesis import HealthCheck, given
from hypothesis import settings as hsettings
from hypothesis import strategies as st

from heedful.accounts.models import Role
from heedful.knowledge import services
from heedful.knowledge.models import Article, ArticleStatus, ArticleTranslation, Visibility
from heedful.search import articles
from heedful.search.articles import search_articles, suggest_articles
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db(transaction=False)


@pytest.fixture
def writer(settings):
    settings.HEEDFUL_HELP_LANGUAGES = ["en", "de", "fr"]
    return UserFactory(role=Role.ADMIN)


def article(writer, title, body="", *, status=ArticleStatus.PUBLISHED, visibility="public"):
    made = services.create_article(
        actor=writer, title=title, body_markdown=body, status=status, visibility=visibility
    )
    # on_commit does not run inside the test's transaction: index as the task would.
    articles.reindex(made.pk)
    return made


def ids(hits):
    return [h.article.pk for h in hits]


def test_every_word_must_match_and_title_ranks_above_body(writer):
    in_title = article(writer, "Reset your password", "Open settings and follow the steps.")
    in_body = article(writer, "Account settings", "You can reset the password from the page.")
    article(writer, "Password rules", "Use twelve characters.")
    assert ids(search_articles("reset password", audience="public")) == [
        in_title.pk,
        in_body.pk,
    ]


def test_phrases_and_prefixes(writer):
    exact = article(writer, "Billing", "Your invoice address is printed on every invoice.")
    apart = article(writer, "Invoices", "The address of the office; an invoice is monthly.")
    assert ids(search_articles('"invoice address"', audience="public")) == [exact.pk]
    assert set(ids(search_articles("invoi*", audience="public"))) == {exact.pk, apart.pk}


def test_accents_and_case_are_ignored_on_both_databases(writer):
    cafe = article(writer, "Café opening hours", "Crème brûlée at the Straße café.")
    assert ids(search_articles("CAFE", audience="public")) == [cafe.pk]
    assert ids(search_articles("creme brulee", audience="public")) == [cafe.pk]
    assert ids(search_articles("straße", audience="public")) == [cafe.pk]


def test_public_audience_sees_only_published_public_articles(writer):
    public = article(writer, "Shipping times", "shipping")
    internal = article(writer, "Shipping internals", "shipping", visibility=Visibility.INTERNAL)
    article(writer, "Shipping draft", "shipping", status=ArticleStatus.DRAFT)
    article(writer, "Shipping old", "shipping", status=ArticleStatus.ARCHIVED)
    assert ids(search_articles("shipping", audience="public")) == [public.pk]
    assert set(ids(search_articles("shipping", audience="agents"))) == {public.pk, internal.pk}


def test_language_falls_back_to_the_default_translation(writer):
    both = article(writer, "Delivery", "Parcels arrive in two days.")
    services.save_translation(
        article=both, actor=writer, language="de", title="Lieferung", body_markdown="Pakete"
    )
    articles.reindex(both.pk)
    english_only = article(writer, "Parcels abroad", "Parcels abroad take a week.")
    # German readers get the German text where there is one, English otherwise.
    assert ids(search_articles("parcels", audience="public", language="de")) == [english_only.pk]
    hits = search_articles("pakete", audience="public", language="de")
    assert [h.translation.language for h in hits] == ["de"]
    # Without a language, any translation may match; one hit per article.
    assert set(ids(search_articles("parcels", audience="public"))) == {both.pk, english_only.pk}


def test_snippet_marks_matches_and_escapes_html(writer):
    article(writer, "Refunds", "Refunds take <b>five</b> days & more: ask for a refund.")
    (hit,) = search_articles("refund", audience="public")
    assert "<mark>refund</mark>" in hit.snippet
    assert "<b>" not in hit.snippet
    assert "&amp;" in hit.snippet


def test_reindex_follows_edits_and_removes_deleted_translations(writer):
    made = article(writer, "Returns", "Send the parcel back.")
    services.save_translation(
        article=made, actor=writer, language="en", title="Exchanges", body_markdown="Swap it."
    )
    articles.reindex(made.pk)
    assert search_articles("returns", audience="public") == []
    assert ids(search_articles("exchanges", audience="public")) == [made.pk]
    ArticleTranslation.objects.filter(article=made).delete()
    articles.reindex(made.pk)
    assert search_articles("exchanges", audience="public") == []


def test_paging(writer):
    made = [article(writer, f"Printer guide {n}", "printer " * (n + 1)) for n in range(3)]
    first = ids(search_articles("printer", audience="public", limit=2))
    rest = ids(search_articles("printer", audience="public", limit=2, offset=2))
    assert sorted(first + rest) == sorted(a.pk for a in made)
    assert len(first) == 2


def test_suggestions_use_any_distinctive_word(writer):
    refund = article(writer, "Refund policy", "How refunds work.")
    tracking = article(writer, "Tracking a parcel", "Use the tracking number.")
    article(writer, "The team", "Who we are.")
    text = "Hi, I would like a refund because my parcel tracking shows nothing. Thanks!"
    assert set(ids(suggest_articles(text, audience="public"))) == {refund.pk, tracking.pk}
    assert suggest_articles("hi thanks the and", audience="public") == []


def test_suggestions_respect_the_audience(writer):
    article(writer, "Escalation runbook", "escalation", visibility=Visibility.INTERNAL)
    assert suggest_articles("urgent escalation", audience="public") == []
    assert len(suggest_articles("urgent escalation", audience="agents")) == 1


HOSTILE = [
    "",
    "   ",
    "*",
    '"',
    '"unbalanced phrase',
    "NEAR(a b)",
    "title:secret",
    "a OR b NOT c AND",
    "^start",
    "x" * 2000,
    "\x00null\x00",
    "(((",
    "-minus +plus",
    "'; DROP TABLE knowledge_article; --",
    "a*b*c*",
]


@pytest.mark.parametrize("query", HOSTILE)
def test_hostile_queries_are_text(writer, query):
    article(writer, "Safe", "near title secret start null minus plus drop table")
    search_articles(query, audience="public")
    suggest_articles(query, audience="agents")
    assert Article.objects.count() == 1


def test_operator_words_are_searched_as_words(writer):
    found = article(writer, "Near the office", "Parking is near the door.")
    assert ids(search_articles("NEAR", audience="public")) == [found.pk]
    assert ids(search_articles("title:near", audience="public")) == []


@hsettings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(st.text(max_size=80))
def test_any_text_is_a_valid_query(writer, query):
    if not Article.objects.exists():
        article(writer, "Fuzz", "some words to find")
    # Never raises: FTS5 / tsquery syntax errors would surface here.
    search_articles(query, audience="agents")
    suggest_articles(query, audience="public")
    assert connection.is_usable()
