"""The knowledge base in the workspace: the article list, the editor (Markdown with a
preview, translations, related articles, files and images), revision history with
diffs and restore, and the agents' copy of article files.

Every workspace user is an agent and may read every article, drafts and internal
ones included (the help center shows only published public ones). Saves go through
`knowledge.services`, which writes a revision each time and refuses to overwrite a
translation someone else saved since the editor opened it.
"""

import logging
import re
from typing import Any, cast

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.db.models import Count, Prefetch, Q, QuerySet
from django.http import (
    FileResponse,
    Http404,
    HttpRequest,
    HttpResponse,
    HttpResponseBadRequest,
    JsonResponse,
)
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from heedful.accounts.models import User
from heedful.core.errors import Conflict, ServiceError
from heedful.core.parsing import parse_id
from heedful.knowledge import markdown, services
from heedful.knowledge.models import (
    Article,
    ArticleAttachment,
    ArticleRevision,
    ArticleStatus,
    ArticleTranslation,
    Section,
    Visibility,
)
from heedful.search.articles import search_articles

log = logging.getLogger(__name__)
PAGE_SIZE = 50
RELATED_CHOICES = 20
# Where "Publish" / "Archive" may send the agent back to: a page of the knowledge base.
_SAFE_NEXT = re.compile(r"/app/knowledge/[\w/-]*(\?[\w=&%.-]*)?")


class BadInput(Exception):
    """A parameter no form of ours sends (an unknown language, status, id): a 400."""


def _user(request: HttpRequest) -> User:
    return cast(User, request.user)


def _languages() -> list[str]:
    return list(settings.HEEDFUL_HELP_LANGUAGES)


def _language(value: str | None) -> str:
    language = value or _languages()[0]
    if language not in _languages():
        raise BadInput(f"Unknown language {language!r}.")
    return language


def _article_language(value: str | None, article: Article) -> str:
    """The language asked for, else the article's own (even if no longer configured)."""
    return _language(value) if value else article.default_language


def _choice(value: str | None, allowed: list[str], what: str) -> str:
    if value and value not in allowed:
        raise BadInput(f"Unknown {what} {value!r}.")
    return value or ""


def _bad(exc: BadInput) -> HttpResponse:
    return HttpResponseBadRequest(str(exc), content_type="text/plain; charset=utf-8")


def _article(pk: int) -> Article:
    """Any article, for an agent; with its translations and section."""
    article = (
        Article.objects.select_related("section__category")
        .prefetch_related("translations")
        .filter(pk=pk)
        .first()
    )
    if article is None:
        raise Http404("No such article")
    return article


def _page(request: HttpRequest, template: str, context: dict[str, Any], status: int = 200) -> Any:
    return render(request, template, {"section": "knowledge", **context}, status=status)


# --- the list ------------------------------------------------------------------------


def _filtered(request: HttpRequest) -> tuple[QuerySet[Article], dict[str, str]]:
    """Articles matching the list's filters; raises BadInput for values no form sends."""
    get = request.GET
    chosen = {
        "status": _choice(get.get("status"), ArticleStatus.values, "status"),
        "visibility": _choice(get.get("visibility"), Visibility.values, "visibility"),
        "language": _choice(get.get("language"), _languages(), "language"),
        "missing": _choice(get.get("missing"), _languages(), "language"),
        "section": get.get("section", ""),
        "q": " ".join(get.get("q", "").split())[:200],
    }
    articles = Article.objects.all()
    if chosen["status"]:
        articles = articles.filter(status=chosen["status"])
    if chosen["visibility"]:
        articles = articles.filter(visibility=chosen["visibility"])
    if chosen["language"]:
        articles = articles.filter(translations__language=chosen["language"])
    if chosen["missing"]:
        articles = articles.exclude(translations__language=chosen["missing"])
    if chosen["section"] == "none":
        articles = articles.filter(section__isnull=True)
    elif chosen["section"]:
        section_id = parse_id(chosen["section"])
        if section_id is None:
            raise BadInput("Unknown section.")
        articles = articles.filter(section_id=section_id)
    if chosen["q"]:
        # Titles of every article (drafts and archived too), plus what the search index
        # finds in the bodies of published ones.
        found = [hit.article.pk for hit in search_articles(chosen["q"], audience="agents")]
        articles = articles.filter(Q(translations__title__icontains=chosen["q"]) | Q(pk__in=found))
    return articles.distinct(), chosen


@login_required
@require_GET
def article_list(request: HttpRequest) -> HttpResponse:
    try:
        articles, chosen = _filtered(request)
    except BadInput as exc:
        return _bad(exc)
    ordered = (
        articles.select_related("section__category")
        .prefetch_related(
            Prefetch(
                "translations",
                queryset=ArticleTranslation.objects.select_related("updated_by").order_by(
                    "-updated_at"
                ),
            )
        )
        .order_by("-updated_at", "-id")
    )
    page = Paginator(ordered, PAGE_SIZE).get_page(request.GET.get("page"))
    rows = [_row(article) for article in page.object_list]
    counts = dict(Article.objects.values_list("status").annotate(n=Count("id")).order_by())
    query = request.GET.copy()
    query.pop("page", None)
    context = {
        "rows": rows,
        "page": page,
        "chosen": chosen,
        "query": query.urlencode(),
        "counts": [(value, label, counts.get(value, 0)) for value, label in ArticleStatus.choices],
        "total": sum(counts.values()),
        "statuses": ArticleStatus.choices,
        "visibilities": Visibility.choices,
        "languages": _languages(),
        "sections": Section.objects.select_related("category"),
    }
    return _page(request, "workspace/knowledge_list.html", context)


def _row(article: Article) -> dict[str, Any]:
    translations = list(article.translations.all())  # newest edit first
    main = services.translation_for(article)
    latest = translations[0] if translations else None
    return {
        "article": article,
        "title": main.title if main else "(untitled)",
        "languages": sorted(t.language for t in translations),
        "last_editor": latest.updated_by if latest else None,
        "last_edited": latest.updated_at if latest else article.updated_at,
    }


# --- the editor ----------------------------------------------------------------------


class ArticleForm(forms.Form):
    title = forms.CharField(max_length=200, strip=True)
    body_markdown = forms.CharField(
        label="Body (Markdown)",
        required=False,
        strip=False,
        max_length=services.MAX_BODY,
        widget=forms.Textarea(attrs={"rows": 22, "spellcheck": "true"}),
    )
    section = forms.ModelChoiceField(
        queryset=Section.objects.select_related("category"),
        required=False,
        empty_label="No section",
    )
    status = forms.ChoiceField(choices=ArticleStatus.choices)
    visibility = forms.ChoiceField(choices=Visibility.choices, widget=forms.RadioSelect)
    note = forms.CharField(
        label="What changed (optional)",
        max_length=200,
        required=False,
        widget=forms.TextInput(attrs={"placeholder": "e.g. new screenshots for the 2.0 menu"}),
    )

    def clean_title(self) -> str:
        title = " ".join(self.cleaned_data["title"].split())
        if not title:
            raise forms.ValidationError("An article needs a title.")
        return title


def _bad_choice(request: HttpRequest) -> BadInput | None:
    """Status and visibility come from fixed lists: another value is a 400, not a form
    error (no form of ours sends one)."""
    for name, allowed in (("status", ArticleStatus.values), ("visibility", Visibility.values)):
        value = request.POST.get(name)
        if value is not None and value not in allowed:
            return BadInput(f"Unknown {name} {value!r}.")
    return None


def _related_ids(request: HttpRequest) -> list[int]:
    ids = [parse_id(value) for value in request.POST.getlist("related")]
    if None in ids:
        raise BadInput("Unknown related article.")
    return [i for i in ids if i is not None]


def _editor_context(
    article: Article | None, language: str, form: ArticleForm, **extra: Any
) -> dict[str, Any]:
    present = {t.language for t in article.translations.all()} if article else set()
    related = list(article.related.prefetch_related("translations")) if article else []
    return {
        "article": article,
        "language": language,
        "tabs": [(code, code in present) for code in _languages()],
        "form": form,
        "related": [(a, services.translation_for(a, language)) for a in related],
        "attachments": _attachments(article) if article else [],
        "max_upload_mb": settings.HEEDFUL_MAX_ATTACHMENT_BYTES / 1_048_576,
        **extra,
    }


@login_required
@require_http_methods(["GET", "POST"])
def article_new(request: HttpRequest) -> HttpResponse:
    try:
        language = _language(request.GET.get("lang") or request.POST.get("lang"))
    except BadInput as exc:
        return _bad(exc)
    if request.method == "GET":
        form = ArticleForm(initial={"status": "draft", "visibility": "public"})
        return _page(
            request, "workspace/knowledge_edit.html", _editor_context(None, language, form)
        )
    if bad := _bad_choice(request):
        return _bad(bad)
    form = ArticleForm(request.POST)
    if form.is_valid():
        data = form.cleaned_data
        try:
            article = services.create_article(
                actor=_user(request),
                title=data["title"],
                body_markdown=data["body_markdown"],
                section=data["section"],
                status=data["status"],
                visibility=data["visibility"],
                language=language,
            )
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Article created.")
            return redirect(_edit_url(article, language))
    context = _editor_context(None, language, form)
    return _page(request, "workspace/knowledge_edit.html", context, status=400)


def _edit_url(article: Article, language: str) -> str:
    return reverse("workspace:knowledge_edit", args=[article.pk]) + f"?lang={language}"


def _initial(article: Article, translation: ArticleTranslation | None) -> dict[str, Any]:
    return {
        "title": translation.title if translation else "",
        "body_markdown": translation.body_markdown if translation else "",
        "section": article.section_id,
        "status": article.status,
        "visibility": article.visibility,
    }


@login_required
@require_http_methods(["GET", "POST"])
def article_edit(request: HttpRequest, pk: int) -> HttpResponse:
    article = _article(pk)
    try:
        language = _language(request.GET.get("lang") or request.POST.get("lang"))
    except BadInput as exc:
        return _bad(exc)
    translation = next((t for t in article.translations.all() if t.language == language), None)
    if request.method == "GET":
        form = ArticleForm(initial=_initial(article, translation))
        base = services.latest_revision_id(article, language)
        context = _editor_context(article, language, form, base_revision=base)
        if translation is None and (source := services.translation_for(article)):
            context["source"] = source  # translating: show the words to translate
        return _page(request, "workspace/knowledge_edit.html", context)
    return _save(request, article, language)


def _save(request: HttpRequest, article: Article, language: str) -> HttpResponse:
    if bad := _bad_choice(request):
        return _bad(bad)
    form = ArticleForm(request.POST)
    base = parse_id(request.POST.get("base_revision", ""))
    try:
        related = _related_ids(request)
    except BadInput as exc:
        return _bad(exc)
    if form.is_valid():
        data = form.cleaned_data
        try:
            services.edit_article(
                article=article,
                actor=_user(request),
                language=language,
                related_ids=related,
                base_revision_id=base,
                **{k: data[k] for k in ("title", "body_markdown", "status", "visibility")},
                section=data["section"],
                note=data["note"],
            )
        except Conflict as exc:
            return _conflict(request, article, language, form, exc)
        except ServiceError as exc:
            form.add_error(None, exc.message)
        else:
            messages.success(request, "Saved.")
            return redirect(_edit_url(article, language))
    context = _editor_context(article, language, form, base_revision=base)
    return _page(request, "workspace/knowledge_edit.html", context, status=400)


def _conflict(
    request: HttpRequest, article: Article, language: str, form: ArticleForm, exc: Conflict
) -> HttpResponse:
    """Show both versions; the form now carries the newest revision as its base, so
    saving again (after merging by hand) is a deliberate overwrite."""
    theirs = (
        ArticleRevision.objects.filter(pk=parse_id(str(exc.details.get("latest_revision_id"))) or 0)
        .select_related("editor")
        .first()
    )
    context = _editor_context(
        article,
        language,
        form,
        base_revision=theirs.pk if theirs else None,
        conflict=exc.message,
        theirs=theirs,
    )
    return _page(request, "workspace/knowledge_edit.html", context, status=409)


@login_required
@require_POST
def article_status(request: HttpRequest, pk: int) -> HttpResponse:
    """Publish, archive or return to draft from the list or the article page."""
    article = _article(pk)
    status = request.POST.get("status", "")
    if status not in ArticleStatus.values:
        return _bad(BadInput(f"Unknown status {status!r}."))
    services.set_status(article=article, actor=_user(request), status=status)
    messages.success(request, f"Article is now {ArticleStatus(status).label.lower()}.")
    back = request.POST.get("next", "")
    if not _SAFE_NEXT.fullmatch(back):
        back = reverse("workspace:knowledge_article", args=[pk])
    return redirect(back)


@login_required
@require_POST
def preview(request: HttpRequest) -> HttpResponse:
    """The editor's live preview: the same sanitizing renderer the help center uses."""
    body = request.POST.get("body_markdown", "")
    if len(body) > services.MAX_BODY:
        return HttpResponseBadRequest(f"Articles are at most {services.MAX_BODY:,} characters.")
    html = services.workspace_image_urls(markdown.render(body))
    # markdown.render returned nh3-sanitized HTML.
    return render(request, "workspace/knowledge_preview.html", {"html": mark_safe(html)})  # noqa: S308


@login_required
@require_GET
def related_choices(request: HttpRequest, pk: int) -> HttpResponse:
    """Articles whose title matches, to tick as related (htmx fills the picker)."""
    query = " ".join(request.GET.get("q", "").split())[:200]
    found: list[tuple[Article, ArticleTranslation | None]] = []
    if query:
        articles = (
            Article.objects.filter(translations__title__icontains=query)
            .exclude(pk=pk)
            .exclude(related=pk)  # already ticked in the picker
            .distinct()
            .prefetch_related("translations")
            .order_by("-updated_at")[:RELATED_CHOICES]
        )
        found = [(a, services.translation_for(a)) for a in articles]
    return render(request, "workspace/knowledge_edit.html#related-choices", {"found": found})


# --- reading an article in the workspace ---------------------------------------------


@login_required
@require_GET
def article_page(request: HttpRequest, pk: int) -> HttpResponse:
    article = _article(pk)
    try:
        language = _article_language(request.GET.get("lang"), article)
    except BadInput as exc:
        return _bad(exc)
    translation = services.translation_for(article, language)
    body = services.workspace_image_urls(translation.body_html) if translation else ""
    related = article.related.prefetch_related("translations")
    context = {
        "article": article,
        "translation": translation,
        "language": language,
        "languages": sorted(t.language for t in article.translations.all()),
        # body_html was sanitized by knowledge.markdown when it was saved.
        "body": mark_safe(body),  # noqa: S308
        "related": [(a, services.translation_for(a, language)) for a in related],
        "public_url": services.public_url(article, translation)
        if translation and article.is_public
        else "",
    }
    return _page(request, "workspace/knowledge_article.html", context)


@login_required
@require_GET
def insert_text(request: HttpRequest, pk: int) -> JsonResponse:
    """What the conversation page's "Insert link" / "Insert text" put in a reply."""
    article = Article.objects.for_agents().prefetch_related("translations").filter(pk=pk).first()
    translation = services.translation_for(article, request.GET.get("lang")) if article else None
    if article is None or translation is None:
        return JsonResponse({"error": "No such published article."}, status=404)
    url = services.public_url(article, translation) if article.is_public else ""
    return JsonResponse(
        {
            "id": article.pk,
            "title": translation.title,
            "url": url,
            "text": translation.body_text,
            "internal": not article.is_public,
        }
    )


# --- history -------------------------------------------------------------------------


@login_required
@require_GET
def history(request: HttpRequest, pk: int) -> HttpResponse:
    article = _article(pk)
    try:
        language = _article_language(request.GET.get("lang"), article)
    except BadInput as exc:
        return _bad(exc)
    revisions = list(
        ArticleRevision.objects.filter(translation__article=article, translation__language=language)
        .select_related("editor")
        .order_by("-created_at", "-id")[:500]
    )
    context = {
        "article": article,
        "language": language,
        "tabs": [(code, True) for code in _languages()],
        "translation": services.translation_for(article, language),
        "revisions": revisions,
        "latest": revisions[0].pk if revisions else None,
    }
    return _page(request, "workspace/knowledge_history.html", context)


@login_required
@require_GET
def revision_diff(request: HttpRequest, pk: int, rid: int) -> HttpResponse:
    article = _article(pk)
    revision = services.get_revision(article, rid)
    when = revision.created_at
    previous = (
        ArticleRevision.objects.filter(translation=revision.translation)
        .filter(Q(created_at__lt=when) | Q(created_at=when, pk__lt=revision.pk))
        .order_by("-created_at", "-id")
        .first()
    )
    context = {
        "article": article,
        "revision": revision,
        "previous": previous,
        "language": revision.translation.language,
        "lines": services.diff_revisions(previous, revision),
        "latest": services.latest_revision_id(article, revision.translation.language),
    }
    return _page(request, "workspace/knowledge_revision.html", context)


@login_required
@require_POST
def revision_restore(request: HttpRequest, pk: int, rid: int) -> HttpResponse:
    article = _article(pk)
    revision = services.get_revision(article, rid)
    language = revision.translation.language
    base = parse_id(request.POST.get("base_revision", ""))
    try:
        services.restore_revision(revision=revision, actor=_user(request), base_revision_id=base)
    except ServiceError as exc:
        messages.error(request, exc.message)
        return redirect(reverse("workspace:knowledge_history", args=[pk]) + f"?lang={language}")
    messages.success(request, "Revision restored as the newest version.")
    return redirect(_edit_url(article, language))


# --- files ---------------------------------------------------------------------------


@login_required
@require_POST
def upload(request: HttpRequest, pk: int) -> HttpResponse:
    """Add a file or image; htmx gets the file list back, a plain form a redirect."""
    article = _article(pk)
    try:
        language = _article_language(request.POST.get("lang"), article)
    except BadInput as exc:
        return _bad(exc)
    wants_fragment = request.headers.get("HX-Request") == "true"
    file = request.FILES.get("file")
    try:
        if file is None:
            raise ServiceError("Choose a file to upload.")
        attachment = services.upload_attachment(article=article, actor=_user(request), upload=file)
    except ServiceError as exc:
        if wants_fragment:
            return render(
                request,
                "workspace/knowledge_edit.html#attachments",
                {"article": article, "attachments": _attachments(article), "error": exc.message},
                status=400,
            )
        messages.error(request, exc.message)
        return redirect(_edit_url(article, language))
    if wants_fragment:
        listed = _attachments(article)
        fresh = next((a for a in listed if a.pk == attachment.pk), None)
        context = {"article": article, "attachments": listed, "fresh": fresh}
        return render(request, "workspace/knowledge_edit.html#attachments", context)
    messages.success(
        request, f"Uploaded. Paste this into the body: {services.attachment_snippet(attachment)}"
    )
    return redirect(_edit_url(article, language))


def _attachments(article: Article) -> list[ArticleAttachment]:
    found = list(article.attachments.order_by("-created_at"))
    for attachment in found:
        attachment.snippet = services.attachment_snippet(attachment)  # type: ignore[attr-defined]
    return found


@login_required
@require_GET
def download(request: HttpRequest, pk: int, filename: str = "") -> FileResponse:
    """The agents' copy of an article file (drafts and internal articles included).
    Pictures show inline; anything else downloads, never rendered by the browser."""
    attachment = ArticleAttachment.objects.filter(pk=pk).first()
    if attachment is None:
        raise Http404("No such file")
    try:
        handle = attachment.file.open("rb")
    except OSError:
        log.error("article file %s is missing from storage (%s)", pk, attachment.file.name)
        raise Http404("This file is missing.") from None
    inline = attachment.content_type in services.INLINE_IMAGE_TYPES
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=attachment.filename,
        content_type=attachment.content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = "default-src 'none'; sandbox"
    response["Cache-Control"] = "private, max-age=3600"
    return response


urlpatterns = [
    path("knowledge/", article_list, name="knowledge"),
    path("knowledge/new/", article_new, name="knowledge_new"),
    path("knowledge/preview/", preview, name="knowledge_preview"),
    path("knowledge/<int:pk>/", article_page, name="knowledge_article"),
    path("knowledge/<int:pk>/edit/", article_edit, name="knowledge_edit"),
    path("knowledge/<int:pk>/status/", article_status, name="knowledge_status"),
    path("knowledge/<int:pk>/related/", related_choices, name="knowledge_related"),
    path("knowledge/<int:pk>/insert/", insert_text, name="knowledge_insert"),
    path("knowledge/<int:pk>/files/", upload, name="knowledge_upload"),
    path("knowledge/<int:pk>/history/", history, name="knowledge_history"),
    path("knowledge/<int:pk>/history/<int:rid>/", revision_diff, name="knowledge_revision"),
    path(
        "knowledge/<int:pk>/history/<int:rid>/restore/",
        revision_restore,
        name="knowledge_restore",
    ),
    path("knowledge/files/<int:pk>/", download, name="knowledge_file"),
    path("knowledge/files/<int:pk>/<str:filename>", download, name="knowledge_file_named"),
]
