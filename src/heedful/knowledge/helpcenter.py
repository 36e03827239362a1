"""What the public help center reads and writes, in one place.

Every article the help center shows goes through `public_articles()` (published and
public), so a list, a page, a related link, an attachment, a suggestion and the
sitemap follow the same rule: what one hides, no other can reveal. The views under
`portal.helpcenter` parse input, call one function here and render.
"""

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.db.models import Count, Prefetch, Q
from django.http import Http404, HttpRequest
from django.utils import timezone
from django.utils.translation.trans_real import parse_accept_lang_header

from heedful.knowledge import tracking
from heedful.knowledge.models import (
    Article,
    ArticleAttachment,
    ArticleFeedback,
    ArticleQuerySet,
    ArticleStatus,
    ArticleTranslation,
    Category,
    HelpEvent,
    HelpEventKind,
    Section,
    Visibility,
)
from heedful.search import articles as article_search

POPULAR_DAYS = 30
POPULAR_LIMIT = 6
MAX_COMMENT = 2000
# The first page of a search counts its hits up to this many (for the content-gap
# reports, which care about "none" and "few").
COUNT_LIMIT = 50
# The condition "this article may be shown publicly", seen from a Section or Category.
_PUBLIC_IN_SECTION = Q(
    articles__status=ArticleStatus.PUBLISHED, articles__visibility=Visibility.PUBLIC
)


@dataclass
class Entry:
    """An article with the translation shown for the chosen language."""

    article: Article
    translation: ArticleTranslation


# --- languages ---------------------------------------------------------------


def languages() -> list[str]:
    return list(settings.HEEDFUL_HELP_LANGUAGES)


def choose_language(asked: str | None, accept_language: str) -> str:
    """?lang= when it names a help-center language; else the browser's first
    preference we have (a "de-AT" browser gets "de"); else the default."""
    offered = languages()
    if asked and asked in offered:
        return asked
    for code, _quality in parse_accept_lang_header(accept_language[:500]):
        code = code.lower()
        for candidate in (code, code.split("-")[0]):
            match = next((lang for lang in offered if lang.lower() == candidate), None)
            if match:
                return match
    return offered[0]


def pick_translation(
    translations: Sequence[ArticleTranslation], language: str, fallback: str
) -> ArticleTranslation | None:
    """The translation in `language`, else the article's default one, else any."""
    by_language = {t.language: t for t in translations}
    return (
        by_language.get(language)
        or by_language.get(fallback)
        or (translations[0] if translations else None)
    )


def canonical_slug(translation: ArticleTranslation) -> str:
    """The slug in the article's address (never empty, never a path separator)."""
    return (translation.slug or "article").replace("/", "-")


def _entries(articles: Iterable[Article], language: str) -> list[Entry]:
    """Pair prefetched articles with their translation for `language`."""
    entries = []
    for article in articles:
        translation = pick_translation(
            list(article.translations.all()), language, article.default_language
        )
        if translation is not None:
            entries.append(Entry(article, translation))
    return entries


# --- the access rule -----------------------------------------------------------


def public_articles() -> ArticleQuerySet:
    """The only way the help center loads articles."""
    return Article.objects.public().prefetch_related(
        Prefetch("translations", queryset=ArticleTranslation.objects.order_by("language"))
    )


def get_public_article(article_id: int) -> Article:
    """A public article with its section, category and translations, or 404."""
    article = public_articles().select_related("section__category").filter(pk=article_id).first()
    if article is None:
        raise Http404("No such article.")
    return article


def get_public_attachment(attachment_id: int, filename: str) -> ArticleAttachment:
    """A file of a public article, named as it was linked, or 404."""
    attachment = (
        ArticleAttachment.objects.filter(
            pk=attachment_id, article__in=Article.objects.public().values("pk")
        )
        .only("id", "file", "filename", "content_type", "size", "article_id")
        .first()
    )
    if attachment is None or attachment.filename != filename:
        raise Http404("No such file.")
    return attachment


# --- lists --------------------------------------------------------------------


def categories_with_counts() -> list[Category]:
    """Categories that have public articles, each with `.public_sections` (sections
    that have some) and counts as `.article_count`. Two queries."""
    sections = (
        Section.objects.annotate(article_count=Count("articles", filter=_PUBLIC_IN_SECTION))
        .filter(article_count__gt=0)
        .order_by("position", "name")
    )
    categories = Category.objects.prefetch_related(
        Prefetch("sections", queryset=sections, to_attr="public_sections")
    )
    shown: list[Category] = []
    for category in categories:
        category.article_count = sum(s.article_count for s in category.public_sections)  # type: ignore[attr-defined]
        if category.article_count:  # type: ignore[attr-defined]
            shown.append(category)
    return shown


def _usable(slug: str) -> bool:
    # PostgreSQL refuses NUL in a query parameter; no slug holds one anyway.
    return "\x00" not in slug


def get_category(slug: str) -> Category:
    # A category or section without public articles is not part of the help center:
    # its name and description may describe internal work.
    public = public_articles()
    category = (
        Category.objects.filter(slug=slug, sections__articles__in=public).first()
        if _usable(slug)
        else None
    )
    if category is None:
        raise Http404("No such category.")
    return category


def category_sections(category: Category, language: str) -> list[tuple[Section, list[Entry]]]:
    """The category's sections with their public articles (sections without any are
    left out). Three queries."""
    articles = public_articles().order_by("position", "id")
    sections = category.sections.prefetch_related(
        Prefetch("articles", queryset=articles, to_attr="public_articles")
    )
    return [
        (section, _entries(section.public_articles, language))
        for section in sections
        if section.public_articles
    ]


def get_section(category_slug: str, section_slug: str) -> Section:
    section = (
        Section.objects.select_related("category")
        .filter(category__slug=category_slug, slug=section_slug)
        .filter(articles__in=public_articles())
        .first()
        if _usable(category_slug) and _usable(section_slug)
        else None
    )
    if section is None:
        raise Http404("No such section.")
    return section


def section_articles(section: Section, language: str) -> list[Entry]:
    return _entries(public_articles().filter(section=section).order_by("position", "id"), language)


def popular_articles(language: str, limit: int = POPULAR_LIMIT) -> list[Entry]:
    """The public articles viewed most in the last POPULAR_DAYS days; promoted ones fill
    the list while there are not enough views (a new help center)."""
    since = timezone.now() - timedelta(days=POPULAR_DAYS)
    viewed = list(
        HelpEvent.objects.filter(
            kind=HelpEventKind.VIEW,
            created_at__gte=since,
            article__in=Article.objects.public().values("pk"),
        )
        .values("article")
        .annotate(views=Count("id"))
        .order_by("-views", "article")
        .values_list("article", flat=True)[:limit]
    )
    ids: list[int] = [pk for pk in viewed if pk is not None]
    if len(ids) < limit:
        promoted = Article.objects.public().filter(promoted=True).exclude(pk__in=ids)
        ids += promoted.order_by("position", "id").values_list("pk", flat=True)[: limit - len(ids)]
    by_id = {a.pk: a for a in public_articles().filter(pk__in=ids)}
    return _entries((by_id[pk] for pk in ids if pk in by_id), language)


def related_articles(article: Article, language: str) -> list[Entry]:
    return _entries(public_articles().filter(related=article).order_by("position", "id"), language)


def article_translations(article: Article) -> list[ArticleTranslation]:
    """The prefetched translations, in the order the help center offers languages."""
    order = {code: i for i, code in enumerate(languages())}
    return sorted(article.translations.all(), key=lambda t: order.get(t.language, len(order)))


def sitemap_entries() -> tuple[list[tuple[Article, list[ArticleTranslation]]], list[Category]]:
    """Every public article with its translations, and the categories that have some."""
    articles = [(a, article_translations(a)) for a in public_articles().order_by("id")]
    return articles, categories_with_counts()


# --- what visitors do ---------------------------------------------------------


class VoteError(ValueError):
    """A vote that cannot be stored, with a message for the visitor."""


def record_vote(
    request: HttpRequest, *, article: Article, language: str, helpful: bool, comment: str
) -> ArticleFeedback | None:
    """One answer per visit and article: a second vote in the same visit changes the
    first. Crawlers are not counted (as in tracking), so their votes are not stored."""
    comment = comment.replace("\x00", "").strip()
    if len(comment) > MAX_COMMENT:
        raise VoteError(f"Please keep your comment under {MAX_COMMENT:,} characters.")
    session = tracking.current_session(request)
    if session is None:
        return None
    values = {"helpful": helpful, "comment": comment, "language": language}
    try:
        with transaction.atomic():
            feedback, _ = ArticleFeedback.objects.update_or_create(
                article=article,
                session=session,
                defaults={**values, "created_at": timezone.now()},
            )
    except IntegrityError:
        # Two votes of the same visit raced; the other one created the row.
        ArticleFeedback.objects.filter(article=article, session=session).update(**values)
        feedback = ArticleFeedback.objects.get(article=article, session=session)
    tracking.record(request, HelpEventKind.VOTE, article=article)
    return feedback


def current_vote(request: HttpRequest, article: Article) -> ArticleFeedback | None:
    """This visit's answer on the article, if it gave one."""
    session = tracking.current_session(request)
    if session is None:
        return None
    return ArticleFeedback.objects.filter(article=article, session=session).first()


def record_view(request: HttpRequest, article: Article, *, from_suggestion: bool) -> None:
    tracking.record(request, HelpEventKind.VIEW, article=article)
    if from_suggestion:
        tracking.record(request, HelpEventKind.SUGGESTION_CLICKED, article=article)


def search(
    request: HttpRequest, query: str, *, language: str, page: int, per_page: int
) -> tuple[list[article_search.ArticleHit], bool]:
    """One page of public search hits and whether there is a next one. The first page
    of a query is recorded with the number found (counted up to COUNT_LIMIT)."""
    if page == 1:
        hits = article_search.search_articles(
            query, audience="public", language=language, limit=COUNT_LIMIT
        )
        tracking.record(request, HelpEventKind.SEARCH, query=query, results=len(hits))
    else:
        hits = article_search.search_articles(
            query,
            audience="public",
            language=language,
            limit=per_page + 1,
            offset=(page - 1) * per_page,
        )
    hits = only_public(hits)
    return hits[:per_page], len(hits) > per_page


def only_public(hits: list[article_search.ArticleHit]) -> list[article_search.ArticleHit]:
    """The search applies the rule itself; checking again here, in one query, keeps a
    mistake there from showing a draft or internal article to the public."""
    ids = set(
        Article.objects.public()
        .filter(pk__in=[h.article.pk for h in hits])
        .values_list("pk", flat=True)
    )
    return [h for h in hits if h.article.pk in ids]


def suggest(
    request: HttpRequest, text: str, *, language: str, limit: int = 5
) -> list[article_search.ArticleHit]:
    """Articles for text being typed; a visit that is shown some is recorded (once per
    distinct list, as the visitor keeps typing)."""
    hits = article_search.suggest_articles(text, audience="public", language=language, limit=limit)
    hits = only_public(hits)[:limit]
    if hits:
        ids = [h.article.pk for h in hits]
        session = tracking.current_session(request)
        last = (
            HelpEvent.objects.filter(session=session, kind=HelpEventKind.SUGGESTIONS_SHOWN)
            .order_by("-created_at", "-id")
            .values_list("articles", flat=True)
            .first()
            if session is not None
            else None
        )
        if last != ids:
            tracking.record(request, HelpEventKind.SUGGESTIONS_SHOWN, articles=ids)
    return hits
