# ruff: noqa: F811  (pytest fixtures imported from tests.help_support are arguments here)
"""The public help center's pages: home, lists, articles, addresses, languages,
files, sitemap, and the rule that only published public articles are ever shown."""

import re

import pytest
from django.core.files.base import ContentFile
from django.test import Client

from heedful.knowledge.models import Article, ArticleAttachment, HelpEvent, HelpEventKind
from heedful.knowledge.services import save_translation
from tests.help_support import CHROME, Kb, kb, url, visitor, write  # noqa: F401

pytestmark = pytest.mark.django_db

HIDDEN = ["draft", "archived", "internal"]


def hidden(kb: Kb) -> list[Article]:
    return [kb.draft, kb.archived, kb.internal]


def test_home_lists_categories_with_counts_and_links_to_contact_and_requests(
    visitor: Client, kb: Kb
) -> None:
    page = visitor.get("/help/").content.decode()
    assert "Orders" in page and "Returns" in page
    # Two public articles; the draft, archived and internal ones are not counted.
    assert "2 articles" in page
    assert 'href="/contact/"' in page and 'href="/portal/"' in page
    assert 'href="/help/privacy/"' in page
    assert 'role="search"' in page and 'for="home-q"' in page
    # Landmarks and a skip link for keyboard and screen-reader users.
    assert 'class="skip-link" href="#main"' in page and '<main id="main"' in page
    assert 'aria-label="Main"' in page and "<footer" in page


def test_popular_is_by_recent_views_then_promoted(visitor: Client, kb: Kb) -> None:
    assert "Popular articles" not in visitor.get("/help/").content.decode()
    Article.objects.filter(pk=kb.shipping.pk).update(promoted=True)
    Article.objects.filter(pk=kb.draft.pk).update(promoted=True)
    page = visitor.get("/help/").content.decode()
    assert "Popular articles" in page and "Shipping times" in page
    assert "How refunds work" not in page.split("Popular articles")[1].split("Browse")[0]
    visitor.get(url(kb.refunds))
    visitor.get(url(kb.refunds))
    popular = visitor.get("/help/").content.decode().split("Popular articles")[1]
    popular = popular.split("Browse by topic")[0]
    assert popular.index("How refunds work") < popular.index("Shipping times")
    assert "Secret draft" not in popular


def test_category_and_section_pages_list_public_articles_only(visitor: Client, kb: Kb) -> None:
    for path in ("/help/categories/orders/", "/help/categories/orders/returns/"):
        page = visitor.get(path).content.decode()
        assert "How refunds work" in page and "Shipping times" in page
        for title in ("Secret draft", "Old refunds", "Internal refunds"):
            assert title not in page
    assert visitor.get("/help/categories/nope/").status_code == 404
    assert visitor.get("/help/categories/orders/nope/").status_code == 404
    assert visitor.get("/help/categories/%00/").status_code == 404
    assert visitor.get("/help/categories/orders/%00x/").status_code == 404


def test_article_page_shows_title_body_breadcrumbs_and_public_related(
    visitor: Client, kb: Kb
) -> None:
    response = visitor.get(url(kb.refunds))
    page = response.content.decode()
    assert response.status_code == 200
    assert "<h1" in page and "How refunds work" in page
    assert "<strong>five</strong>" in page
    assert 'aria-label="Breadcrumb"' in page and "Returns" in page
    assert "Related articles" in page and "Shipping times" in page
    assert "Secret draft" not in page and "Internal refunds" not in page
    assert "Still need help?" in page and "Was this helpful?" in page


@pytest.mark.parametrize("which", HIDDEN)
def test_hidden_articles_are_404_by_url(visitor: Client, kb: Kb, which: str) -> None:
    article = getattr(kb, which)
    assert visitor.get(url(article)).status_code == 404
    assert visitor.get(f"/help/articles/{article.pk}/").status_code == 404
    assert visitor.post(f"/help/articles/{article.pk}/vote/", {"helpful": "yes"}).status_code == 404


def test_a_changed_title_keeps_the_old_address_working(visitor: Client, kb: Kb, cast) -> None:  # type: ignore[no-untyped-def]
    old = url(kb.refunds)
    save_translation(
        article=kb.refunds,
        actor=cast.agent_a,
        language="en",
        title="Getting your money back",
        body_markdown="New text.",
    )
    response = visitor.get(old + "?from=suggestion")
    assert response.status_code == 301
    assert response["Location"] == (
        f"/help/articles/{kb.refunds.pk}-getting-your-money-back/?from=suggestion"
    )
    assert visitor.get(f"/help/articles/{kb.refunds.pk}/").status_code == 301
    assert visitor.get(response["Location"]).status_code == 200
    # A redirect is not a view; only the page it leads to counts.
    assert HelpEvent.objects.filter(kind=HelpEventKind.VIEW).count() == 1


def test_non_english_titles_make_readable_addresses(visitor: Client, kb: Kb, cast) -> None:  # type: ignore[no-untyped-def]
    article = write(cast.agent_a, "Rückerstattung für Bestellungen")
    moved = visitor.get(f"/help/articles/{article.pk}/")
    slug = "r%C3%BCckerstattung-f%C3%BCr-bestellungen"
    assert moved["Location"] == f"/help/articles/{article.pk}-{slug}/"
    assert visitor.get(moved["Location"]).status_code == 200


@pytest.fixture
def two_languages(settings, kb: Kb, cast):  # type: ignore[no-untyped-def]
    settings.HEEDFUL_HELP_LANGUAGES = ["en", "de"]
    save_translation(
        article=kb.refunds,
        actor=cast.agent_a,
        language="de",
        title="So funktionieren Erstattungen",
        body_markdown="Erstattungen kommen in fünf Tagen.",
    )
    return kb


def test_language_by_query_or_accept_language_with_links_to_the_others(
    visitor: Client, two_languages: Kb
) -> None:
    kb = two_languages
    german = visitor.get(f"/help/articles/{kb.refunds.pk}-so-funktionieren-erstattungen/?lang=de")
    assert "Erstattungen kommen" in german.content.decode()
    assert 'hreflang="en"' in german.content.decode()
    by_browser = visitor.get(url(kb.refunds), HTTP_ACCEPT_LANGUAGE="de-AT,de;q=0.9,en;q=0.5")
    # The German address is this browser's choice, not a move: a temporary redirect.
    assert by_browser.status_code == 302 and "Accept-Language" in by_browser["Vary"]
    assert "so-funktionieren-erstattungen" in by_browser["Location"]
    page = visitor.get(by_browser["Location"], HTTP_ACCEPT_LANGUAGE="de-AT").content.decode()
    assert "Erstattungen kommen" in page and 'hreflang="en"' in page
    assert visitor.head(url(kb.refunds)).status_code == 200


def test_an_untranslated_article_falls_back_to_its_default_language(
    visitor: Client, two_languages: Kb
) -> None:
    kb = two_languages
    page = visitor.get(url(kb.shipping) + "?lang=de").content.decode()
    assert "Parcels travel" in page
    assert "not available in your language" in page
    assert visitor.get(url(kb.shipping) + "?lang=xx").status_code == 200


def attach(article: Article, name: str, content_type: str, data: bytes) -> ArticleAttachment:
    found = ArticleAttachment(
        article=article, filename=name, content_type=content_type, size=len(data), sha256="ab" * 32
    )
    found.file.save(name, ContentFile(data), save=False)
    found.save()
    return found


def test_attachments_of_public_articles_are_served_safely(visitor: Client, kb: Kb) -> None:
    image = attach(kb.refunds, "steps.png", "image/png", b"\x89PNG\r\n\x1a\nfake")
    page_html = attach(kb.refunds, "evil.html", "text/html", b"<script>alert(1)</script>")
    shown = visitor.get(f"/help/files/{image.pk}/steps.png")
    assert shown.status_code == 200 and shown["Content-Type"] == "image/png"
    assert shown["X-Content-Type-Options"] == "nosniff"
    assert "attachment" not in shown.get("Content-Disposition", "")
    download = visitor.get(f"/help/files/{page_html.pk}/evil.html")
    assert download["Content-Type"] == "application/octet-stream"
    assert download["Content-Disposition"].startswith("attachment")
    assert "sandbox" in download["Content-Security-Policy"]
    assert visitor.get(f"/help/files/{image.pk}/other.png").status_code == 404
    assert "steps.png" in visitor.get(url(kb.refunds)).content.decode()


@pytest.mark.parametrize("which", HIDDEN)
def test_attachments_of_hidden_articles_are_404(visitor: Client, kb: Kb, which: str) -> None:
    found = attach(getattr(kb, which), "plan.pdf", "application/pdf", b"%PDF-1.4")
    assert visitor.get(f"/help/files/{found.pk}/plan.pdf").status_code == 404


def test_sitemap_lists_public_articles_in_each_language_and_categories(
    visitor: Client, two_languages: Kb
) -> None:
    kb = two_languages
    response = visitor.get("/help/sitemap.xml")
    xml = response.content.decode()
    assert response["Content-Type"].startswith("application/xml")
    assert f"/help/articles/{kb.refunds.pk}-how-refunds-work/?lang=en" in xml
    assert f"/help/articles/{kb.refunds.pk}-so-funktionieren-erstattungen/?lang=de" in xml
    assert f"/help/articles/{kb.shipping.pk}-" in xml
    assert "/help/categories/orders/" in xml
    for article in hidden(kb):
        assert f"/help/articles/{article.pk}-" not in xml
    robots = visitor.get("/help/robots.txt").content.decode()
    assert "Sitemap: http://testserver/help/sitemap.xml" in robots


def test_privacy_note_says_what_is_kept(visitor: Client, db: None) -> None:
    page = visitor.get("/help/privacy/").content.decode()
    for words in ("hd_visitor", "hd_visit", "No IP address", "third-party", "bots"):
        assert words in page


HOSTILE = """# Hi

<script>alert('s')</script>
<img src="x" onerror="alert('i')">
[click](javascript:alert('j'))
<a href="JaVaScRiPt:alert('k')">k</a>
<style>body { display: none }</style>
<iframe src="https://evil.test/"></iframe>
<svg onload="alert('v')"><circle r="5"/></svg>
<p style="background:url(javascript:alert('p'))">styled</p>
<form action="https://evil.test/"><input name="card"></form>
"""


def test_hostile_article_bodies_render_inert(visitor: Client, kb: Kb, cast) -> None:  # type: ignore[no-untyped-def]
    article = write(cast.agent_a, "Hostile", HOSTILE)
    page = visitor.get(url(article)).content.decode()
    body = page.split('class="hc-body">')[1].split("</div>")[0]
    for bad in (
        "<script",
        "onerror",
        "onload",
        "<style",
        "<iframe",
        "<svg",
        "style=",
        "<form",
        "<input",
    ):
        assert bad not in body.lower(), bad
    # A javascript: URL may survive as visible text, never as an attribute.
    assert not re.search(r"=\s*[\"']?\s*javascript:", body, re.IGNORECASE)
    assert "<script>alert" not in page and "display: none" not in page
    assert "styled" in body


def test_public_pages_refuse_framing_and_set_a_content_policy(visitor: Client, kb: Kb) -> None:
    for path in ("/help/", url(kb.refunds), "/help/search/?q=x", "/contact/"):
        response = visitor.get(path)
        assert response["X-Frame-Options"] == "DENY", path
        assert "frame-ancestors 'none'" in response["Content-Security-Policy"], path
        assert response["Referrer-Policy"] == "same-origin", path


def test_pages_take_few_queries(
    visitor: Client, kb: Kb, cast, django_assert_max_num_queries
) -> None:  # type: ignore[no-untyped-def]
    for n in range(12):
        more = write(cast.agent_a, f"Extra article {n}", section=kb.section)
        kb.refunds.related.add(more)
    Article.objects.update(promoted=True)
    visitor.get("/help/")  # starts nothing, but warms the session cookie path
    with django_assert_max_num_queries(8):
        assert visitor.get("/help/").status_code == 200
    with django_assert_max_num_queries(6):
        assert visitor.get("/help/categories/orders/").status_code == 200
    visitor.get(url(kb.refunds))
    with django_assert_max_num_queries(11):
        assert visitor.get(url(kb.refunds)).status_code == 200


def test_article_links_are_readable_with_the_stable_id(visitor: Client, kb: Kb) -> None:
    page = visitor.get("/help/categories/orders/returns/").content.decode()
    assert re.search(rf'href="/help/articles/{kb.refunds.pk}-how-refunds-work/"', page)


def test_chrome_constant_is_not_a_bot() -> None:
    from heedful.knowledge.tracking import _crawler

    assert not _crawler(CHROME)


def test_the_site_root_opens_the_help_center_and_robots_keeps_private_pages_out(
    visitor: Client,
) -> None:
    assert visitor.get("/")["Location"] == "/help/"
    robots = visitor.get("/robots.txt").content.decode()
    for private in ("/app/", "/portal/", "/admin/", "/s/"):
        assert f"Disallow: {private}\n" in robots
    assert "Sitemap: http://testserver/help/sitemap.xml" in robots


def test_a_category_or_section_without_public_articles_is_not_there(
    visitor: Client,
    kb: Kb,
    cast,  # type: ignore[no-untyped-def]
) -> None:
    from heedful.knowledge.models import Category, Section, Visibility

    hidden = Category.objects.create(name="Fraud playbook", slug="fraud", description="Chargebacks")
    section = Section.objects.create(category=hidden, name="Ops", slug="ops")
    write(cast.agent_a, "Catching fraud", section=section, visibility=Visibility.INTERNAL)
    assert visitor.get("/help/categories/fraud/").status_code == 404
    assert visitor.get("/help/categories/fraud/ops/").status_code == 404
    assert visitor.get("/help/categories/orders/returns/").status_code == 200
