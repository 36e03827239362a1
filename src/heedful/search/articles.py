"""Article search (being written by the search work): the signatures below are the
contract the help center, the portal and the workspace code against."""

from dataclasses import dataclass
from typing import Literal

from django.utils.safestring import SafeString

from heedful.knowledge.models import Article, ArticleTranslation

Audience = Literal["public", "agents"]


@dataclass
class ArticleHit:
    article: Article
    translation: ArticleTranslation
    # Escaped text of the match's neighbourhood with <mark> around the matched words.
    snippet: SafeString
    rank: float


def search_articles(
    query: str,
    *,
    audience: Audience,
    language: str | None = None,
    limit: int = 20,
    offset: int = 0,
) -> list[ArticleHit]:
    """Articles matching every word of `query` (phrases in quotes, `word*` prefixes),
    best first. "public": published public articles only; "agents": internal too."""
    return []


def suggest_articles(
    text: str, *, audience: Audience, language: str | None = None, limit: int = 5
) -> list[ArticleHit]:
    """Articles for free text (a message, a request being typed): any of its
    distinctive words, ranked by relevance."""
    return []


def reindex(article_id: int) -> None:
    """Bring one article's translations up to date in the article index."""
