"""The public layout's theme, loaded by the layout itself so that every page that
extends portal/public_base.html (help center, contact form, portal) looks the same
without each view passing it."""

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from django import template
from django.urls import reverse

from heedful.knowledge.helpcenter import canonical_slug
from heedful.knowledge.models import ArticleTranslation
from heedful.portal import theme as theme_rules
from heedful.portal.models import HelpCenterTheme

register = template.Library()


@dataclass
class PublicTheme:
    name: str
    tagline: str
    footer_text: str
    logo_url: str
    colors: dict[str, str]


@register.simple_tag(takes_context=True)
def help_theme(context: Any) -> PublicTheme:
    request = context.get("request")
    cached = getattr(request, "_help_theme", None)
    if cached is not None:
        return cached
    theme = HelpCenterTheme.current()
    logo_url = ""
    if theme.logo:
        logo_url = f"{reverse('help:logo')}?v={int(theme.updated_at.timestamp())}"
    public = PublicTheme(
        name=theme.name or "Help center",
        tagline=theme.tagline,
        footer_text=theme.footer_text,
        logo_url=logo_url,
        colors=theme_rules.css_variables(theme),
    )
    if request is not None:
        request._help_theme = public
    return public


@register.simple_tag(takes_context=True)
def article_url(
    context: Any, translation: ArticleTranslation, source: str = "", lang: str = ""
) -> str:
    """An article's readable address; carries on a language the visitor picked with
    ?lang=, and marks links from suggestions so the click is counted."""
    url = reverse(
        "help:article",
        kwargs={"pk": translation.article_id, "slug": canonical_slug(translation)},
    )
    params = {}
    if lang or context.get("explicit_language"):
        params["lang"] = lang or context["explicit_language"]
    if source:
        params["from"] = source
    return f"{url}?{urlencode(params)}" if params else url


@register.simple_tag(takes_context=True)
def lang_query(context: Any) -> str:
    """ "?lang=xx" when the visitor picked a language, for links between list pages."""
    chosen = context.get("explicit_language")
    return f"?{urlencode({'lang': chosen})}" if chosen else ""
