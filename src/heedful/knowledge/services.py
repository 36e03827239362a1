"""Writes to the knowledge base. Every save renders the Markdown, records a revision
and, after commit, asks the search index to refresh the article."""

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.text import slugify

from heedful.accounts.models import User
from heedful.core.errors import PermissionDenied, ServiceError
from heedful.knowledge import markdown
from heedful.knowledge.models import (
    Article,
    ArticleRevision,
    ArticleStatus,
    ArticleTranslation,
    Section,
    Visibility,
)

MAX_BODY = 200_000


def can_edit(user: User) -> bool:
    """Every active agent may write articles; publishing is open to all of them too,
    as in most small teams. (A review step would hang off this one check.)"""
    return bool(user.is_active)


def article_slug(title: str) -> str:
    return slugify(title, allow_unicode=True)[:200] or "article"


def create_article(
    *,
    actor: User,
    title: str,
    body_markdown: str = "",
    section: Section | None = None,
    status: str = ArticleStatus.DRAFT,
    visibility: str = Visibility.PUBLIC,
    language: str | None = None,
) -> Article:
    if not can_edit(actor):
        raise PermissionDenied("You may not write articles.")
    language = language or settings.HEEDFUL_HELP_LANGUAGES[0]
    with transaction.atomic():
        article = Article.objects.create(
            section=section,
            status=ArticleStatus.DRAFT,
            visibility=visibility,
            default_language=language,
            author=actor,
        )
        save_translation(
            article=article,
            actor=actor,
            language=language,
            title=title,
            body_markdown=body_markdown,
            status=status,
            visibility=visibility,
        )
    return article


def save_translation(
    *,
    article: Article,
    actor: User,
    language: str,
    title: str,
    body_markdown: str,
    status: str | None = None,
    visibility: str | None = None,
    note: str = "",
) -> ArticleTranslation:
    """Create or update one language of an article (and optionally its status and
    visibility), writing a revision."""
    if not can_edit(actor):
        raise PermissionDenied("You may not write articles.")
    title = " ".join(title.split())
    if not title:
        raise ServiceError("An article needs a title.")
    if len(title) > 200:
        raise ServiceError("Titles are at most 200 characters.")
    if len(body_markdown) > MAX_BODY:
        raise ServiceError(f"Articles are at most {MAX_BODY:,} characters.")
    if language not in settings.HEEDFUL_HELP_LANGUAGES:
        raise ServiceError(f"Unknown language {language!r}.")
    if status is not None and status not in ArticleStatus.values:
        raise ServiceError(f"Unknown status {status!r}.")
    if visibility is not None and visibility not in Visibility.values:
        raise ServiceError(f"Unknown visibility {visibility!r}.")
    now = timezone.now()
    body_html = markdown.render(body_markdown)
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        changed = []
        if status is not None and status != article.status:
            article.status = status
            changed.append("status")
            if status == ArticleStatus.PUBLISHED and article.published_at is None:
                article.published_at = now
                changed.append("published_at")
        if visibility is not None and visibility != article.visibility:
            article.visibility = visibility
            changed.append("visibility")
        article.save(update_fields=[*changed, "updated_at"])
        translation, _ = ArticleTranslation.objects.update_or_create(
            article=article,
            language=language,
            defaults={
                "title": title,
                "slug": article_slug(title),
                "body_markdown": body_markdown,
                "body_html": body_html,
                "body_text": markdown.plain_text(body_html),
                "updated_by": actor,
                "updated_at": now,
            },
        )
        ArticleRevision.objects.create(
            translation=translation,
            title=title,
            body_markdown=body_markdown,
            status=article.status,
            visibility=article.visibility,
            editor=actor,
            note=note[:200],
            created_at=now,
        )
        transaction.on_commit(lambda: _reindex(article.pk))
    return translation


def set_status(*, article: Article, actor: User, status: str) -> Article:
    if not can_edit(actor):
        raise PermissionDenied("You may not change articles.")
    if status not in ArticleStatus.values:
        raise ServiceError(f"Unknown status {status!r}.")
    now = timezone.now()
    with transaction.atomic():
        article = Article.objects.select_for_update().get(pk=article.pk)
        article.status = status
        if status == ArticleStatus.PUBLISHED and article.published_at is None:
            article.published_at = now
        article.save(update_fields=["status", "published_at", "updated_at"])
        for translation in article.translations.all():
            ArticleRevision.objects.create(
                translation=translation,
                title=translation.title,
                body_markdown=translation.body_markdown,
                status=status,
                visibility=article.visibility,
                editor=actor,
                note=f"Status set to {status}",
                created_at=now,
            )
        transaction.on_commit(lambda: _reindex(article.pk))
    return article


def _reindex(article_id: int) -> None:
    from heedful.search.tasks import reindex_article

    reindex_article(article_id)
