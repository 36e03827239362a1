"""The public help center under /help/: pages only. What to show and what to record
is decided in `knowledge.helpcenter`; every article comes through its access rule."""

from typing import Any

from django.conf import settings
from django.http import FileResponse, Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.cache import patch_vary_headers
from django.views.decorators.http import require_POST, require_safe
from django_ratelimit import ALL
from django_ratelimit.core import is_ratelimited

from heedful.knowledge import helpcenter
from heedful.knowledge.models import Article, ArticleTranslation
from heedful.portal import theme as theme_rules
from heedful.portal.headers import FILE_POLICY, public_page
from heedful.portal.models import HelpCenterTheme
from heedful.portal.views import client_ip

PER_PAGE = 10
MAX_QUERY = 200
MAX_SUGGEST_TEXT = 2000
INLINE_TYPES = {"image/png", "image/jpeg", "image/gif", "image/webp"}


def _limited(request: HttpRequest, group: str, method: Any = ALL) -> bool:
    return is_ratelimited(
        request,
        group=group,
        key=lambda g, r: client_ip(r),
        rate=settings.HEEDFUL_HELP_RATE,
        method=method,
        increment=True,
    )


def _too_many(request: HttpRequest) -> HttpResponse:
    return render(request, "portal/help/limited.html", status=429)


def _language(request: HttpRequest) -> tuple[str, str]:
    """The language to show and, when the visitor picked it with ?lang=, that choice
    (links then carry it on)."""
    asked = request.GET.get("lang", "")
    language = helpcenter.choose_language(asked, request.META.get("HTTP_ACCEPT_LANGUAGE", ""))
    return language, (language if asked == language else "")


def _render(
    request: HttpRequest, template: str, context: dict[str, Any], status: int = 200
) -> HttpResponse:
    language, explicit = _language(request)
    context = {"language": language, "explicit_language": explicit, **context}
    response = render(request, template, context, status=status)
    patch_vary_headers(response, ["Accept-Language"])
    return response


@require_safe
@public_page
def home(request: HttpRequest) -> HttpResponse:
    language, _ = _language(request)
    context = {
        "categories": helpcenter.categories_with_counts(),
        "popular": helpcenter.popular_articles(language),
    }
    return _render(request, "portal/help/home.html", context)


@require_safe
@public_page
def category(request: HttpRequest, slug: str) -> HttpResponse:
    found = helpcenter.get_category(slug)
    language, _ = _language(request)
    context = {"category": found, "sections": helpcenter.category_sections(found, language)}
    return _render(request, "portal/help/category.html", context)


@require_safe
@public_page
def section(request: HttpRequest, category_slug: str, section_slug: str) -> HttpResponse:
    found = helpcenter.get_section(category_slug, section_slug)
    language, _ = _language(request)
    context = {"section": found, "entries": helpcenter.section_articles(found, language)}
    return _render(request, "portal/help/section.html", context)


def _canonical(article: Article, translation: ArticleTranslation) -> str:
    return reverse(
        "help:article",
        kwargs={"pk": article.pk, "slug": helpcenter.canonical_slug(translation)},
    )


@require_safe
@public_page
def article_by_id(request: HttpRequest, pk: int) -> HttpResponse:
    return article(request, pk, "")


@require_safe
@public_page
def article(request: HttpRequest, pk: int, slug: str) -> HttpResponse:
    found = helpcenter.get_public_article(pk)
    language, _ = _language(request)
    translation = helpcenter.pick_translation(
        helpcenter.article_translations(found), language, found.default_language
    )
    if translation is None:
        raise Http404("This article has no text yet.")
    if slug != helpcenter.canonical_slug(translation):
        return _to_canonical(request, found, translation, slug)
    if request.method == "GET":  # a HEAD is a link checker, not a reader
        from_suggestion = request.GET.get("from") == "suggestion"
        helpcenter.record_view(request, found, from_suggestion=from_suggestion)
    return _article_page(request, found, translation)


def _to_canonical(
    request: HttpRequest, found: Article, translation: ArticleTranslation, slug: str
) -> HttpResponse:
    """Old addresses (the title changed) move for good: 301, since the id is what
    identifies. Another language's current address is only a choice for this visitor
    (their browser's language): 302, so no cache keeps it for everyone."""
    query = request.META.get("QUERY_STRING", "")
    target = _canonical(found, translation) + (f"?{query}" if query else "")
    current = {helpcenter.canonical_slug(t) for t in found.translations.all()}
    response = redirect(target, permanent=slug not in current)
    patch_vary_headers(response, ["Accept-Language"])
    return response


def _article_page(
    request: HttpRequest,
    found: Article,
    translation: ArticleTranslation,
    *,
    vote_error: str = "",
    comment: str = "",
    status: int = 200,
) -> HttpResponse:
    section = found.section
    context = {
        "article": found,
        "translation": translation,
        "section": section,
        "category": section.category if section else None,
        "others": [t for t in helpcenter.article_translations(found) if t != translation],
        "related": helpcenter.related_articles(found, translation.language),
        "attachments": list(found.attachments.all()),
        "vote": helpcenter.current_vote(request, found),
        "vote_error": vote_error,
        "comment": comment,
        "max_comment": helpcenter.MAX_COMMENT,
    }
    response = _render(request, "portal/help/article.html", context, status=status)
    patch_vary_headers(response, ["Cookie"])
    return response


@require_POST
@public_page
def vote(request: HttpRequest, pk: int) -> HttpResponse:
    found = helpcenter.get_public_article(pk)
    language = helpcenter.choose_language(
        request.POST.get("lang"), request.META.get("HTTP_ACCEPT_LANGUAGE", "")
    )
    translation = helpcenter.pick_translation(
        helpcenter.article_translations(found), language, found.default_language
    )
    if translation is None:
        raise Http404("This article has no text yet.")
    if _limited(request, "help-vote", method="POST"):
        return _too_many(request)
    answer = request.POST.get("helpful", "")
    comment = request.POST.get("comment", "")
    if answer not in ("yes", "no"):
        message = "Please choose Yes or No."
        return _article_page(
            request, found, translation, vote_error=message, comment=comment, status=400
        )
    try:
        helpcenter.record_vote(
            request,
            article=found,
            language=translation.language,
            helpful=answer == "yes",
            comment=comment,
        )
    except helpcenter.VoteError as error:
        return _article_page(
            request, found, translation, vote_error=str(error), comment=comment, status=400
        )
    lang = f"?lang={translation.language}" if request.POST.get("lang") else ""
    return redirect(f"{_canonical(found, translation)}{lang}#feedback", permanent=False)


def _clean_text(raw: str, limit: int) -> str:
    """Typed text as words: no control characters (PostgreSQL refuses NUL), single
    spaces, at most `limit` characters."""
    printable = "".join(ch if ch.isprintable() else " " for ch in raw[: limit * 4])
    return " ".join(printable.split())[:limit]


def _page_number(raw: str) -> int:
    return int(raw) if raw.isdigit() and 0 < int(raw) <= 1000 else 1


@require_safe
@public_page
def search(request: HttpRequest) -> HttpResponse:
    query = _clean_text(request.GET.get("q", ""), MAX_QUERY)
    page = _page_number(request.GET.get("page", ""))
    hits: list[Any] = []
    has_next = False
    if query:
        if _limited(request, "help-search"):
            return _too_many(request)
        language, _ = _language(request)
        hits, has_next = helpcenter.search(
            request, query, language=language, page=page, per_page=PER_PAGE
        )
    context = {
        "query": query,
        "hits": hits,
        "page": page,
        "has_next": has_next,
        "first_number": (page - 1) * PER_PAGE + 1,
    }
    return _render(request, "portal/help/search.html", context)


@require_POST
@public_page
def suggest(request: HttpRequest) -> HttpResponse:
    """An htmx fragment: articles for what the visitor is typing (contact form,
    portal's new request). Takes q or the form's own subject and message fields, by
    POST: a draft request's words must not end up in proxy and server access logs."""
    parts = [request.POST.get(name, "") for name in ("q", "subject", "message")]
    text = _clean_text(" ".join(parts), MAX_SUGGEST_TEXT)
    hits: list[Any] = []
    if len(text) >= 3:
        if _limited(request, "help-suggest"):
            return HttpResponse(status=429)
        language, _ = _language(request)
        hits = helpcenter.suggest(request, text, language=language)
    return _render(request, "portal/help/_suggestions.html", {"hits": hits})


@require_safe
def attachment(request: HttpRequest, pk: int, filename: str) -> FileResponse:
    found = helpcenter.get_public_attachment(pk, filename)
    content_type = found.content_type.split(";")[0].strip().lower()
    inline = content_type in INLINE_TYPES
    try:
        handle = found.file.open("rb")
    except OSError as missing:
        raise Http404("This file is missing.") from missing
    response = FileResponse(
        handle,
        as_attachment=not inline,
        filename=found.filename,
        content_type=content_type if inline else "application/octet-stream",
    )
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_POLICY
    response["Cache-Control"] = "private, max-age=300"
    return response


@require_safe
def logo(request: HttpRequest) -> HttpResponse:
    theme = HelpCenterTheme.current()
    if not theme.logo:
        raise Http404("No logo.")
    try:
        with theme.logo.open("rb") as handle:
            data = handle.read(theme_rules.MAX_LOGO_BYTES + 1)
    except OSError as missing:
        raise Http404("The logo file is missing.") from missing
    content_type = theme_rules.logo_type(data[:16])
    if content_type is None or len(data) > theme_rules.MAX_LOGO_BYTES:
        raise Http404("The logo is not an image we serve.")
    response = HttpResponse(data, content_type=content_type)
    response["X-Content-Type-Options"] = "nosniff"
    response["Content-Security-Policy"] = FILE_POLICY
    # The layout links it with ?v=<last change>, so it may be cached for long.
    response["Cache-Control"] = "public, max-age=86400"
    return response


@require_safe
@public_page
def privacy(request: HttpRequest) -> HttpResponse:
    context = {"visit_minutes": settings.HEEDFUL_HELP_SESSION_MINUTES}
    return _render(request, "portal/help/privacy.html", context)


@require_safe
def sitemap(request: HttpRequest) -> HttpResponse:
    articles, categories = helpcenter.sitemap_entries()
    entries = [
        (
            found,
            [
                (t, request.build_absolute_uri(_canonical(found, t)) + f"?lang={t.language}")
                for t in translations
            ],
        )
        for found, translations in articles
        if translations
    ]
    context = {
        "home": request.build_absolute_uri(reverse("help:home")),
        "articles": entries,
        "categories": [
            (c, request.build_absolute_uri(reverse("help:category", args=[c.slug])))
            for c in categories
        ],
    }
    return render(request, "portal/help/sitemap.xml", context, content_type="application/xml")


@require_safe
def robots(request: HttpRequest) -> HttpResponse:
    # Served at /robots.txt (where crawlers look) and /help/robots.txt: only the help
    # center is for indexing; the workspace, portal and token pages are not.
    lines = [
        "User-agent: *",
        "Disallow: /app/",
        "Disallow: /admin/",
        "Disallow: /portal/",
        "Disallow: /s/",
        "Disallow: /hooks/",
        "Disallow: /help/search/",
        "Disallow: /help/suggest/",
        f"Sitemap: {request.build_absolute_uri(reverse('help:sitemap'))}",
    ]
    return HttpResponse("\n".join(lines) + "\n", content_type="text/plain")
