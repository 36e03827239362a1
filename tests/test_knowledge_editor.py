"""The knowledge-base editor in the workspace: list, create, edit, translate, publish,
archive, history with diffs and restore, the optimistic lock, previews and files."""

import hashlib
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from heedful.knowledge import services
from heedful.knowledge.models import (
    Article,
    ArticleAttachment,
    ArticleRevision,
    ArticleTranslation,
    Category,
    Section,
)

pytestmark = pytest.mark.django_db

HOSTILE = (
    "# Hi\n\n<script>alert(1)</script>\n\n"
    '<img src="x" onerror="alert(2)">\n\n'
    "[click](javascript:alert(3))\n\n"
    '<a href="https://ok.test" onclick="alert(4)">ok</a>\n\n'
    "<iframe src='https://evil.test'></iframe>\n\n"
    '<a href="javascript:alert(5)">raw</a>'
)


@pytest.fixture
def agent(client: Any, cast: Any) -> Any:
    client.force_login(cast.agent_a)
    return client


@pytest.fixture
def languages(settings: Any) -> list[str]:
    settings.HEEDFUL_HELP_LANGUAGES = ["en", "de"]
    return settings.HEEDFUL_HELP_LANGUAGES


@pytest.fixture
def section(db: None) -> Section:
    category = Category.objects.create(name="Orders", slug="orders")
    return Section.objects.create(category=category, name="Shipping", slug="shipping")


def article_of(cast: Any, title: str = "Track your parcel", **kw: Any) -> Article:
    kw.setdefault("body_markdown", "Open **Orders** and click Track.")
    return services.create_article(actor=cast.lead_a, title=title, **kw)


def edit_url(article: Article, lang: str = "en") -> str:
    return reverse("workspace:knowledge_edit", args=[article.pk]) + f"?lang={lang}"


def form(article: Article | None = None, lang: str = "en", **kw: Any) -> dict[str, Any]:
    data = {
        "title": "Track your parcel",
        "body_markdown": "Open **Orders**.",
        "status": "draft",
        "visibility": "public",
        "section": "",
        "note": "",
        "lang": lang,
    }
    if article is not None:
        data["base_revision"] = services.latest_revision_id(article, lang) or ""
    data.update(kw)
    return data


# --- create and edit -------------------------------------------------------------------


def test_an_agent_creates_a_draft_in_a_section(agent: Any, cast: Any, section: Section) -> None:
    response = agent.post(
        reverse("workspace:knowledge_new"), form(section=section.pk, note="first")
    )
    article = Article.objects.get()
    assert response.status_code == 302 and response["Location"] == edit_url(article)
    assert (article.status, article.section, article.author) == ("draft", section, cast.agent_a)
    translation = article.translations.get()
    assert translation.body_html == "<p>Open <strong>Orders</strong>.</p>\n"
    assert translation.revisions.get().editor == cast.agent_a


def test_an_empty_title_is_a_form_error(agent: Any) -> None:
    response = agent.post(reverse("workspace:knowledge_new"), form(title="   "))
    assert response.status_code == 400
    assert "This field is required." in response.content.decode()
    assert not Article.objects.exists()


@pytest.mark.parametrize(
    "field,value", [("status", "deleted"), ("visibility", "secret"), ("lang", "xx")]
)
def test_unknown_status_visibility_or_language_is_a_400(
    agent: Any, cast: Any, field: str, value: str
) -> None:
    article = article_of(cast)
    data = form(article, **{field: value})
    response = agent.post(edit_url(article).split("?")[0], data)
    assert response.status_code == 400
    assert value in response.content.decode()
    assert agent.get(edit_url(article, "xx")).status_code == 400
    assert agent.get(reverse("workspace:knowledge") + "?status=gone").status_code == 400


def test_editing_saves_a_revision_with_the_note_and_publishes(
    agent: Any, cast: Any, section: Section
) -> None:
    article = article_of(cast)
    data = form(article, title="Track a parcel", status="published", section=section.pk)
    data["note"] = "clearer title"
    response = agent.post(edit_url(article), data)
    assert response.status_code == 302
    article.refresh_from_db()
    assert (article.status, article.section_id) == ("published", section.pk)
    assert article.published_at is not None
    newest = ArticleRevision.objects.filter(translation__article=article).first()
    assert newest is not None
    assert (newest.title, newest.note, newest.editor) == (
        "Track a parcel",
        "clearer title",
        cast.agent_a,
    )


def test_archive_and_back_to_draft_from_the_article_page(agent: Any, cast: Any) -> None:
    article = article_of(cast, status="published")
    url = reverse("workspace:knowledge_status", args=[article.pk])
    agent.post(url, {"status": "archived"})
    article.refresh_from_db()
    assert article.status == "archived"
    assert agent.post(url, {"status": "gone"}).status_code == 400
    response = agent.post(url, {"status": "draft", "next": "https://evil.test/"})
    assert response["Location"] == reverse("workspace:knowledge_article", args=[article.pk])


def test_a_translation_is_its_own_tab_with_the_source_to_translate(
    agent: Any, cast: Any, languages: list[str]
) -> None:
    article = article_of(cast)
    page = agent.get(edit_url(article, "de")).content.decode()
    assert "(not translated)" in page and "Open **Orders** and click Track." in page
    response = agent.post(edit_url(article, "de"), form(article, "de", title="Paket verfolgen"))
    assert response.status_code == 302
    assert set(article.translations.values_list("language", "title")) == {
        ("en", "Track your parcel"),
        ("de", "Paket verfolgen"),
    }
    assert "(not translated)" not in agent.get(edit_url(article, "de")).content.decode()


def test_related_articles_are_picked_by_title_and_saved(agent: Any, cast: Any) -> None:
    article, other = article_of(cast), article_of(cast, title="Returns and refunds")
    found = agent.get(reverse("workspace:knowledge_related", args=[article.pk]) + "?q=refund")
    assert f'value="{other.pk}"' in found.content.decode()
    agent.post(edit_url(article), form(article, related=[other.pk, article.pk]))
    assert list(article.related.all()) == [other]
    assert list(other.related.all()) == [article]  # symmetrical
    assert agent.post(edit_url(article), form(article, related=["x"])).status_code == 400


# --- the list ------------------------------------------------------------------------


def test_the_list_filters_and_finds_drafts_by_title(agent: Any, cast: Any) -> None:
    article_of(cast, title="Draft about refunds")
    article_of(cast, title="Old refunds policy", status="archived")
    article_of(cast, title="Escalation ladder", visibility="internal")
    url = reverse("workspace:knowledge")
    page = agent.get(url + "?q=refunds").content.decode()
    assert "Draft about refunds" in page and "Old refunds policy" in page
    assert "Escalation ladder" not in page
    page = agent.get(url + "?status=archived").content.decode()
    assert "Old refunds policy" in page and "Draft about refunds" not in page
    page = agent.get(url + "?visibility=internal").content.decode()
    assert "Escalation ladder" in page and "Old refunds policy" not in page
    assert f"by {cast.lead_a.display_name}" in page  # the last editor


def test_the_list_counts_articles_by_status(agent: Any, cast: Any) -> None:
    article_of(cast)
    article_of(cast, status="published")
    article_of(cast, status="published")
    page = agent.get(reverse("workspace:knowledge")).content.decode()
    assert 'All <span class="chip">3</span>' in page
    assert 'Published <span class="chip">2</span>' in page


# --- concurrency -----------------------------------------------------------------------


def test_a_second_save_from_a_stale_editor_is_a_conflict_showing_both(
    client: Any, cast: Any
) -> None:
    article = article_of(cast)
    stale = form(article, body_markdown="Agent B's words")
    client.force_login(cast.agent_a)
    assert client.post(edit_url(article), form(article, body_markdown="A's words")).status_code
    client.force_login(cast.agent_b)
    response = client.post(edit_url(article), stale)
    page = response.content.decode()
    assert response.status_code == 409
    assert "Someone else saved this translation" in page
    assert "A&#x27;s words" in page and "Agent B&#x27;s words" in page
    translation = article.translations.get()
    assert translation.body_markdown == "A's words"
    # The conflict form carries the newest revision: saving again is deliberate.
    latest = services.latest_revision_id(article, "en")
    assert f'name="base_revision" value="{latest}"' in page
    client.post(edit_url(article), {**stale, "base_revision": latest})
    translation.refresh_from_db()
    assert translation.body_markdown == "Agent B's words"


def test_a_new_translation_saved_twice_from_scratch_conflicts(
    agent: Any, cast: Any, languages: list[str]
) -> None:
    article = article_of(cast)
    first = form(article, "de", title="Erste")
    second = form(article, "de", title="Zweite")
    assert agent.post(edit_url(article, "de"), first).status_code == 302
    assert agent.post(edit_url(article, "de"), second).status_code == 409
    assert ArticleTranslation.objects.get(article=article, language="de").title == "Erste"


# --- history -------------------------------------------------------------------------


def test_history_lists_revisions_and_the_diff_is_escaped(agent: Any, cast: Any) -> None:
    article = article_of(cast, body_markdown="line one\nline two")
    agent.post(edit_url(article), form(article, body_markdown="line one\n<b>line 2</b>"))
    revisions = list(ArticleRevision.objects.filter(translation__article=article))
    page = agent.get(reverse("workspace:knowledge_history", args=[article.pk])).content.decode()
    assert all(f"/history/{r.pk}/" in page for r in revisions)
    diff = agent.get(reverse("workspace:knowledge_revision", args=[article.pk, revisions[0].pk]))
    text = diff.content.decode()
    assert 'kb-diff-removed"><span class="sr">Removed: </span>' in text
    assert "line two" in text and "&lt;b&gt;line 2&lt;/b&gt;" in text and "<b>line 2" not in text


def test_restoring_a_revision_writes_a_new_one(agent: Any, cast: Any) -> None:
    article = article_of(cast, body_markdown="original words")
    agent.post(edit_url(article), form(article, body_markdown="vandalised"))
    first = ArticleRevision.objects.filter(translation__article=article).last()
    assert first is not None
    url = reverse("workspace:knowledge_restore", args=[article.pk, first.pk])
    response = agent.post(url, {"base_revision": services.latest_revision_id(article, "en")})
    assert response.status_code == 302
    translation = article.translations.get()
    assert translation.body_markdown == "original words"
    newest = translation.revisions.first()
    assert newest is not None and newest.note.startswith("Restored the revision of")
    assert translation.revisions.count() == 3


def test_restoring_from_a_stale_page_is_refused(agent: Any, cast: Any) -> None:
    article = article_of(cast, body_markdown="original words")
    first = services.latest_revision_id(article, "en")
    agent.post(edit_url(article), form(article, body_markdown="newer"))
    url = reverse("workspace:knowledge_restore", args=[article.pk, first])
    response = agent.post(url, {"base_revision": first}, follow=True)
    assert "Someone else saved this translation" in response.content.decode()
    assert article.translations.get().body_markdown == "newer"


def test_a_revision_of_another_article_is_a_404(agent: Any, cast: Any) -> None:
    mine, other = article_of(cast), article_of(cast, title="Other")
    theirs = services.latest_revision_id(other, "en")
    assert agent.get(reverse("workspace:knowledge_revision", args=[mine.pk, theirs])).status_code
    assert (
        agent.get(reverse("workspace:knowledge_revision", args=[mine.pk, theirs])).status_code
        == 404
    )
    restore = reverse("workspace:knowledge_restore", args=[mine.pk, theirs])
    assert agent.post(restore, {"base_revision": ""}).status_code == 404
    assert mine.translations.get().title == "Track your parcel"


# --- sanitizing ------------------------------------------------------------------------


def test_the_preview_sanitizes_hostile_markdown(agent: Any) -> None:
    response = agent.post(reverse("workspace:knowledge_preview"), {"body_markdown": HOSTILE})
    html = response.content.decode()
    assert response.status_code == 200 and "<h1>Hi</h1>" in html
    for bad in ("<script", "onerror", 'href="javascript', "onclick", "<iframe", "alert(1)"):
        assert bad not in html
    assert 'href="https://ok.test"' in html


def test_the_article_page_shows_sanitized_html_and_escaped_title(agent: Any, cast: Any) -> None:
    article = article_of(cast, title="<script>alert('t')</script>", body_markdown=HOSTILE)
    page = agent.get(reverse("workspace:knowledge_article", args=[article.pk])).content.decode()
    assert "&lt;script&gt;alert(&#x27;t&#x27;)&lt;/script&gt;" in page
    for bad in ("<script>alert", "onerror=", 'href="javascript', "onclick=", "<iframe"):
        assert bad not in page


# --- files ---------------------------------------------------------------------------

PNG = (
    b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR\x00\x00\x00\x01\x00\x00\x00\x01\x08\x06\x00\x00\x00"
    b"\x1f\x15\xc4\x89\x00\x00\x00\rIDATx\x9cc\xf8\xcf\xc0\xf0\x1f\x00\x05\x00\x01\xff\x89\x99"
    b"=\x1d\x00\x00\x00\x00IEND\xaeB`\x82"
)


def upload(client: Any, article: Article, name: str, data: bytes, htmx: bool = True) -> Any:
    headers = {"HX-Request": "true"} if htmx else {}
    return client.post(
        reverse("workspace:knowledge_upload", args=[article.pk]),
        {"file": SimpleUploadedFile(name, data), "lang": "en"},
        headers=headers,
    )


def test_an_image_upload_stores_its_hash_and_offers_its_markdown(agent: Any, cast: Any) -> None:
    article = article_of(cast, visibility="internal")
    response = upload(agent, article, "../../screen shot<1>.png", PNG)
    attachment = ArticleAttachment.objects.get()
    assert response.status_code == 200
    assert attachment.sha256 == hashlib.sha256(PNG).hexdigest()
    assert (attachment.filename, attachment.size) == ("screen-shot-1-.png", len(PNG))
    snippet = f"![screen-shot-1-.png](/help/files/{attachment.pk}/screen-shot-1-.png)"
    assert f'data-fresh-snippet="{snippet}"' in response.content.decode()
    # Internal and draft: the editor's preview and the workspace page use the agents' copy.
    body = f"See {snippet}"
    preview = agent.post(reverse("workspace:knowledge_preview"), {"body_markdown": body})
    assert (
        f'src="/app/knowledge/files/{attachment.pk}/screen-shot-1-.png"' in preview.content.decode()
    )
    fetched = agent.get(reverse("workspace:knowledge_file", args=[attachment.pk]))
    assert fetched["Content-Type"] == "image/png"
    assert b"".join(fetched.streaming_content) == PNG
    assert fetched["X-Content-Type-Options"] == "nosniff"


def test_other_files_download_and_never_render(agent: Any, cast: Any) -> None:
    article = article_of(cast)
    upload(agent, article, "evil.html", b"<script>alert(1)</script>")
    attachment = ArticleAttachment.objects.get()
    assert services.attachment_snippet(attachment).startswith("[evil.html](")
    fetched = agent.get(reverse("workspace:knowledge_file", args=[attachment.pk]))
    assert fetched["Content-Type"] == "application/octet-stream"
    assert fetched["Content-Disposition"].startswith("attachment")


def test_a_file_over_the_limit_is_a_clear_error(agent: Any, cast: Any, settings: Any) -> None:
    settings.HEEDFUL_MAX_ATTACHMENT_BYTES = 1000
    article = article_of(cast)
    response = upload(agent, article, "big.pdf", b"x" * 2000)
    assert response.status_code == 400
    assert "files may be at most" in response.content.decode()
    response = upload(agent, article, "big.pdf", b"x" * 2000, htmx=False)
    assert response.status_code == 302
    assert not ArticleAttachment.objects.exists()


def test_anonymous_visitors_cannot_fetch_agent_files(client: Any, cast: Any) -> None:
    article = article_of(cast)
    client.force_login(cast.agent_a)
    upload(client, article, "plan.png", PNG)
    attachment = ArticleAttachment.objects.get()
    client.logout()
    url = reverse("workspace:knowledge_file", args=[attachment.pk])
    response = client.get(url)
    assert response.status_code == 302 and "/login/" in response["Location"]
    # A signed-in portal customer is not an agent either.
    session = client.session
    session["portal_customer_id"] = 1
    session.save()
    assert client.get(url).status_code == 302
    assert (
        client.post(reverse("workspace:knowledge_preview"), {"body_markdown": "x"}).status_code
        == 302
    )


def test_odd_input_gets_a_4xx_never_a_500(agent: Any, cast: Any, settings: Any) -> None:
    article = article_of(cast)
    listing = reverse("workspace:knowledge")
    assert agent.get(listing + "?section=abc").status_code == 400
    assert agent.get(listing + "?page=zz&q=" + "x" * 5000).status_code == 200
    assert agent.get(reverse("workspace:knowledge_edit", args=[999999])).status_code == 404
    assert agent.get(reverse("workspace:knowledge_file", args=[999999])).status_code == 404
    too_long = "x" * (services.MAX_BODY + 1)
    preview = reverse("workspace:knowledge_preview")
    assert agent.post(preview, {"body_markdown": too_long}).status_code == 400
    no_file = agent.post(
        reverse("workspace:knowledge_upload", args=[article.pk]), headers={"HX-Request": "true"}
    )
    assert no_file.status_code == 400 and "Choose a file" in no_file.content.decode()
    assert agent.post(edit_url(article), form(article, body_markdown=too_long)).status_code == 400
    assert (
        agent.get(
            reverse("workspace:knowledge_history", args=[article.pk]) + "?lang=zz"
        ).status_code
        == 400
    )


def test_status_changes_return_only_to_knowledge_pages(agent: Any, cast: Any) -> None:
    article = article_of(cast)
    url = reverse("workspace:knowledge_status", args=[article.pk])
    back = agent.post(url, {"status": "published", "next": "/app/knowledge/?status=draft"})
    assert back["Location"] == "/app/knowledge/?status=draft"
    for hostile in ("//evil.test/app/knowledge/", "/app/knowledge/\r\nSet-Cookie: x=1"):
        response = agent.post(url, {"status": "draft", "next": hostile})
        assert response["Location"] == reverse("workspace:knowledge_article", args=[article.pk])
    upload = reverse("workspace:knowledge_upload", args=[article.pk])
    assert agent.post(upload, {"lang": "zz\r\n"}).status_code == 400


@pytest.mark.django_db(transaction=True)
def test_two_saves_at_the_same_moment_from_one_base_keep_one(
    migrated_rows: None, cast: Any, run_at_once: Any
) -> None:
    from heedful.core.errors import Conflict

    article = article_of(cast)
    base = services.latest_revision_id(article, "en")

    def save(words: str) -> Any:
        return lambda: services.save_translation(
            article=article,
            actor=cast.agent_a,
            language="en",
            title="Track your parcel",
            body_markdown=words,
            base_revision_id=base,
        )

    outcomes = run_at_once(save("first"), save("second"))
    assert sum(isinstance(o, Conflict) for o in outcomes) == 1, outcomes
    saved = article.translations.get().body_markdown
    assert saved in ("first", "second")
    assert ArticleRevision.objects.filter(translation__article=article).count() == 2
