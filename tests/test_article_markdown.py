"""Article Markdown renders to safe HTML; saves write revisions and keep text in step."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from heedful.accounts.models import Role
from heedful.core.errors import ServiceError
from heedful.knowledge import services
from heedful.knowledge.markdown import plain_text, render
from heedful.knowledge.models import ArticleRevision, ArticleStatus, Visibility
from tests.factories import UserFactory

HOSTILE = [
    "<script>alert(1)</script>",
    '<img src="x" onerror="alert(1)">',
    "[click](javascript:alert(1))",
    '<a href="javascript:alert(1)">x</a>',
    "<iframe src='https://evil.example'></iframe>",
    "<style>body{display:none}</style>",
    '<svg onload="alert(1)"><circle/></svg>',
    '<div style="background:url(javascript:alert(1))">x</div>',
    "<form action='https://evil.example'><input name=q></form>",
    '<a href="data:text/html,<script>alert(1)</script>">x</a>',
]


@pytest.mark.parametrize("source", HOSTILE)
def test_hostile_markdown_renders_inert(source: str) -> None:
    html = render(f"Intro\n\n{source}\n\nOutro").lower()
    # A refused link may stay as literal text; only markup can run.
    for bad in (
        "<script",
        "onerror=",
        "onload=",
        '="javascript:',
        "<iframe",
        "<style",
        "<form",
        "style=",
        '="data:',
        "<svg",
    ):
        assert bad not in html


def test_markdown_features_articles_need_survive_sanitizing() -> None:
    html = render(
        "## Reset your password\n\n1. Open **Settings**\n2. Press <kbd>Save</kbd>\n\n"
        "| Plan | Price |\n|---|---|\n| Pro | 10 |\n\n![Screen](/help/files/1/a.png)\n\n"
        "[Billing](https://example.com/billing)"
    )
    assert '<h2 id="reset-your-password">' in html
    assert "<ol>" in html and "<strong>Settings</strong>" in html and "<kbd>Save</kbd>" in html
    assert "<table>" in html and '<img src="/help/files/1/a.png" alt="Screen">' in html
    assert 'rel="noopener noreferrer"' in html


def test_plain_text_keeps_the_words_and_drops_the_markup() -> None:
    assert plain_text(render("# Title\n\nSome *very* &amp; <b>bold</b> words")) == (
        "Title\nSome very & bold words"
    )


@settings(max_examples=60, deadline=None)
@given(st.text(max_size=300))
def test_any_text_renders_without_error_or_script(text: str) -> None:
    assert "<script" not in render(text).lower()


@pytest.mark.django_db
def test_every_save_writes_a_revision_with_its_editor() -> None:
    writer, editor = UserFactory(role=Role.AGENT), UserFactory(role=Role.AGENT)
    article = services.create_article(actor=writer, title="Refunds", body_markdown="Old *text*")
    services.save_translation(
        article=article,
        actor=editor,
        language="en",
        title="Refunds   and returns",
        body_markdown="New text",
        status=ArticleStatus.PUBLISHED,
        note="clearer",
    )
    translation = article.translations.get()
    assert translation.title == "Refunds and returns"
    assert translation.slug == "refunds-and-returns"
    assert translation.body_text == "New text"
    revisions = list(ArticleRevision.objects.filter(translation=translation))
    assert [(r.editor, r.status, r.note) for r in revisions] == [
        (editor, ArticleStatus.PUBLISHED, "clearer"),
        (writer, ArticleStatus.DRAFT, ""),
    ]
    article.refresh_from_db()
    assert article.status == ArticleStatus.PUBLISHED and article.published_at is not None


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("title", "   ", "needs a title"),
        ("title", "x" * 201, "at most 200"),
        ("language", "xx", "Unknown language"),
        ("status", "live", "Unknown status"),
        ("visibility", "secret", "Unknown visibility"),
    ],
)
def test_bad_article_input_is_refused_with_a_reason(field: str, value: str, message: str) -> None:
    actor = UserFactory(role=Role.AGENT)
    article = services.create_article(actor=actor, title="Shipping")
    kwargs = {"title": "Shipping", "language": "en", "status": None, "visibility": None}
    kwargs[field] = value
    with pytest.raises(ServiceError, match=message):
        services.save_translation(article=article, actor=actor, body_markdown="", **kwargs)
    assert article.translations.get().title == "Shipping"
    assert article.visibility == Visibility.PUBLIC
