"""Shared by the help-center tests: a browser-like client and a small published
knowledge base (with a draft, an archived and an internal article beside it)."""

from dataclasses import dataclass

import pytest
from django.test import Client

from heedful.accounts.models import User
from heedful.knowledge.models import Article, ArticleStatus, Category, Section, Visibility
from heedful.knowledge.services import create_article, set_status

CHROME = (
    "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) "
    "Chrome/131.0.0.0 Safari/537.36"
)
GOOGLEBOT = "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)"


@dataclass
class Kb:
    category: Category
    section: Section
    refunds: Article
    shipping: Article
    draft: Article
    archived: Article
    internal: Article


def write(actor: User, title: str, body: str = "Some words.", **kw: object) -> Article:
    kw.setdefault("status", ArticleStatus.PUBLISHED)
    return create_article(actor=actor, title=title, body_markdown=body, **kw)  # type: ignore[arg-type]


@pytest.fixture
def visitor() -> Client:
    """An ordinary browser: tracking counts it (the test client sends no user agent,
    which tracking treats as a crawler)."""
    return Client(HTTP_USER_AGENT=CHROME)


@pytest.fixture
def kb(cast, django_capture_on_commit_callbacks) -> Kb:  # type: ignore[no-untyped-def]
    # Run the after-commit reindexing, so search sees these articles.
    with django_capture_on_commit_callbacks(execute=True):
        category = Category.objects.create(name="Orders", slug="orders", description="Buying")
        section = Section.objects.create(category=category, name="Returns", slug="returns")
        agent = cast.agent_a
        refunds = write(
            agent,
            "How refunds work",
            "Refunds reach your card within **five** working days.",
            section=section,
        )
        shipping = write(agent, "Shipping times", "Parcels travel for three days.", section=section)
        draft = write(
            agent,
            "Secret draft refunds plan",
            "Unreleased refunds.",
            section=section,
            status=ArticleStatus.DRAFT,
        )
        archived = write(agent, "Old refunds policy", "Archived refunds.", section=section)
        set_status(article=archived, actor=agent, status=ArticleStatus.ARCHIVED)
        internal = write(
            agent,
            "Internal refunds override",
            "Agents only refunds.",
            section=section,
            visibility=Visibility.INTERNAL,
        )
        refunds.related.add(shipping, draft, internal)
    return Kb(category, section, refunds, shipping, draft, archived, internal)


def url(article: Article) -> str:
    translation = article.translations.get(language=article.default_language)
    return f"/help/articles/{article.pk}-{translation.slug}/"
