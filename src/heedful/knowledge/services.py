"""Writes to the knowledge base. Every save renders the Markdown, records a revision
and, after commit, asks the search index to refresh the article."""

import difflib
import hashlib
import mimetypes
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from types import EllipsisType

from django.conf import settings
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.http import Http404
from django.utils import timezone
from django.utils.text import slugify

from heedful.accounts.models import User
from heedful.core.errors import Conflict, PermissionDenied, ServiceError
from heedful.knowledge import markdown
from heedful.knowledge.models import (
    Article,
    ArticleAttachment,
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
    base_revision_id: int | EllipsisType | None = ...,
) -> ArticleTranslation:
    """Create or update one language of an article (and optionally its status and
    visibility), writing a revision.

    `base_revision_id` is the optimistic lock of an editor: the translation's latest
    revision when the editor opened it (None: it did not exist yet). If someone saved
    in between, Conflict is raised instead of overwriting their words. Leave it out
    to save unconditionally (imports, the demo)."""
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
        if base_revision_id is not ...:
            _check_base(article, language, base_revision_id)
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
        _write_revision(translation, article, editor=actor, note=note, now=now)
        transaction.on_commit(lambda: _reindex(article.pk))
    return translation


def _write_revision(
    translation: ArticleTranslation, article: Article, *, editor: User, note: str, now: datetime
) -> None:
    """History: the translation's words as saved, with the article's state then."""
    ArticleRevision.objects.create(
        translation=translation,
        title=translation.title,
        body_markdown=translation.body_markdown,
        status=article.status,
        visibility=article.visibility,
        editor=editor,
        note=note[:200],
        created_at=now,
    )


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
            _write_revision(
                translation, article, editor=actor, note=f"Status set to {status}", now=now
            )
        transaction.on_commit(lambda: _reindex(article.pk))
    return article


# --- the workspace editor ------------------------------------------------------------


def latest_revision_id(article: Article, language: str) -> int | None:
    """The optimistic-lock token of one translation: its newest revision's id."""
    return (
        ArticleRevision.objects.filter(translation__article=article, translation__language=language)
        .order_by("-created_at", "-id")
        .values_list("pk", flat=True)
        .first()
    )


def _check_base(article: Article, language: str, base_revision_id: int | None) -> None:
    """Called with the article row locked, so two saves cannot both pass."""
    latest = latest_revision_id(article, language)
    if latest != base_revision_id:
        raise Conflict(
            "Someone else saved this translation while you were editing it. "
            "Their version is shown beside yours: merge what you need and save again.",
            latest_revision_id=latest,
        )


def edit_article(
    *,
    article: Article,
    actor: User,
    language: str,
    title: str,
    body_markdown: str,
    status: str,
    visibility: str,
    section: Section | None,
    related_ids: Iterable[int] = (),
    base_revision_id: int | None,
    note: str = "",
) -> ArticleTranslation:
    """One save of the editor: the translation (with its revision, under the
    optimistic lock), the article's status, visibility, section and related articles."""
    with transaction.atomic():
        translation = save_translation(
            article=article,
            actor=actor,
            language=language,
            title=title,
            body_markdown=body_markdown,
            status=status,
            visibility=visibility,
            note=note,
            base_revision_id=base_revision_id,
        )
        if article.section_id != (section.pk if section else None):
            Article.objects.filter(pk=article.pk).update(section=section)
        related = set(
            Article.objects.filter(pk__in=set(related_ids))
            .exclude(pk=article.pk)
            .values_list("pk", flat=True)
        )
        article.related.set(related)
    return translation


def restore_revision(
    *, revision: ArticleRevision, actor: User, base_revision_id: int | None
) -> ArticleTranslation:
    """Bring back an old version's words as a new revision (history only grows)."""
    translation = revision.translation
    when = timezone.localtime(revision.created_at).strftime("%Y-%m-%d %H:%M")
    return save_translation(
        article=translation.article,
        actor=actor,
        language=translation.language,
        title=revision.title,
        body_markdown=revision.body_markdown,
        note=f"Restored the revision of {when}",
        base_revision_id=base_revision_id,
    )


def get_revision(article: Article, revision_id: int) -> ArticleRevision:
    """A revision of this article, else 404 (never one of another article)."""
    revision = (
        ArticleRevision.objects.filter(pk=revision_id, translation__article=article)
        .select_related("translation", "editor")
        .first()
    )
    if revision is None:
        raise Http404("No such revision")
    return revision


@dataclass
class DiffLine:
    kind: str  # "same", "added", "removed" or "gap"
    text: str


def diff_revisions(old: ArticleRevision | None, new: ArticleRevision) -> list[DiffLine]:
    """Line diff of two versions (title first); text only, the template escapes it."""

    def lines(revision: ArticleRevision | None) -> list[str]:
        if revision is None:
            return []
        return [f"# {revision.title}", "", *revision.body_markdown.splitlines()]

    kinds = {" ": "same", "+": "added", "-": "removed"}
    out: list[DiffLine] = []
    for line in difflib.unified_diff(lines(old), lines(new), lineterm="", n=3):
        if line.startswith(("---", "+++")):
            continue
        if line.startswith("@@"):
            if out:  # between hunks: lines left out
                out.append(DiffLine("gap", "…"))
            continue
        out.append(DiffLine(kinds.get(line[:1], "same"), line[1:]))
    return out


# --- attachments ------------------------------------------------------------------------

INLINE_IMAGE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}
_UNSAFE_NAME = re.compile(r"[^\w.\- ]+", re.UNICODE)


def clean_filename(name: str) -> str:
    """A name safe in a URL path and a Content-Disposition header."""
    base = name.replace("\\", "/").rsplit("/", 1)[-1]
    cleaned = _UNSAFE_NAME.sub("-", base).strip(" .-")[:120]
    return cleaned.replace(" ", "-") or "file"


def upload_attachment(*, article: Article, actor: User, upload: UploadedFile) -> ArticleAttachment:
    """Store a file or image for an article, within HEEDFUL_MAX_ATTACHMENT_BYTES."""
    if not can_edit(actor):
        raise PermissionDenied("You may not change articles.")
    limit = settings.HEEDFUL_MAX_ATTACHMENT_BYTES
    size = upload.size or 0
    if size > limit:
        raise ServiceError(
            f"{upload.name} is {size / 1_048_576:.1f} MB; files may be at most "
            f"{limit / 1_048_576:.1f} MB."
        )
    if size == 0:
        raise ServiceError("That file is empty.")
    digest = hashlib.sha256()
    for chunk in upload.chunks():
        digest.update(chunk)
    upload.seek(0)
    filename = clean_filename(upload.name or "file")
    guessed = mimetypes.guess_type(filename)[0] or "application/octet-stream"
    attachment = ArticleAttachment(
        article=article,
        filename=filename,
        content_type=guessed,
        size=size,
        sha256=digest.hexdigest(),
        uploaded_by=actor,
    )
    attachment.file.save(filename, upload, save=False)
    attachment.save()
    return attachment


def attachment_snippet(attachment: ArticleAttachment) -> str:
    """The Markdown an editor pastes: an image for pictures, a link for the rest.

    The public address works in the help center for public articles; the editor's
    preview rewrites it to the workspace copy (see `workspace_image_urls`)."""
    url = f"/help/files/{attachment.pk}/{attachment.filename}"
    label = attachment.filename.replace("[", "(").replace("]", ")")
    if attachment.content_type in INLINE_IMAGE_TYPES:
        return f"![{label}]({url})"
    return f"[{label}]({url})"


def workspace_image_urls(body_html: str) -> str:
    """Point /help/files/ at the agents' copy, so drafts and internal articles show
    their images in the workspace (the help center refuses them)."""
    return body_html.replace('"/help/files/', '"/app/knowledge/files/')


def _reindex(article_id: int) -> None:
    from heedful.search.tasks import reindex_article

    reindex_article(article_id)


# --- reading helpers shared by the editor and the assist panel ---------------------------


def translation_for(article: Article, language: str | None = None) -> ArticleTranslation | None:
    """The translation in `language`, else the article's default language, else any:
    the help center's rule (helpcenter.pick_translation), so agents and customers see
    the same text."""
    from heedful.knowledge.helpcenter import pick_translation

    return pick_translation(
        list(article.translations.all()), language or "", article.default_language
    )


def public_url(article: Article, translation: ArticleTranslation) -> str:
    """The help-center address customers can open (readable, with the stable id)."""
    return f"{settings.BASE_URL}/help/articles/{article.pk}-{translation.slug}/"
