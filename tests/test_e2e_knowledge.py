"""The knowledge base in a real browser: an agent writes and publishes an article in
the workspace editor (with its live preview), then, on a conversation about the same
thing, sees it suggested and inserts its link into the reply."""

from typing import Any

import pytest

from heedful.knowledge.models import Article
from tests.browser_support import CHROMIUM, SHOTS, signed_in_page

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(120),
]


def test_an_agent_publishes_an_article_and_inserts_its_link_into_a_reply(
    migrated_rows: None, cast: Any, server: str, browser: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    conversation = cast.conversation_a(
        subject="Router drops the wifi",
        text="My router keeps dropping the wifi connection every evening. Help!",
    )
    errors: list[str] = []
    page = signed_in_page(browser, server, cast.agent_a, errors)

    page.goto(f"{server}/app/knowledge/new/")
    page.fill("#id_title", "Router keeps dropping wifi")
    page.fill(
        "#id_body_markdown",
        "## Try this first\n\n1. Move the router **away from walls**.\n"
        "2. Change the wifi channel.\n\n<script>alert(1)</script>",
    )
    page.wait_for_selector("#kb-preview h2#try-this-first")
    assert page.locator("#kb-preview strong").inner_text() == "away from walls"
    assert page.locator("#kb-preview script").count() == 0
    page.select_option("#id_status", "published")
    page.screenshot(path=str(SHOTS / "knowledge-editor.png"), full_page=True)
    page.click("#article-form button[type=submit]")
    page.wait_for_url(lambda url: "/edit/" in url)
    article = Article.objects.get()
    assert article.status == "published"

    page.goto(f"{server}/app/knowledge/")
    assert "Router keeps dropping wifi" in page.inner_text("main")
    page.screenshot(path=str(SHOTS / "knowledge-list.png"), full_page=True)

    page.goto(f"{server}/app/conversations/{conversation.pk}/")
    insert = page.locator("#assist-articles [data-assist-insert]")
    insert.wait_for()
    page.screenshot(path=str(SHOTS / "knowledge-assist.png"), full_page=True)
    page.fill("#reply-text", "Hello! This should help:")
    insert.click()
    reply = page.input_value("#reply-text")
    assert reply.startswith("Hello! This should help:\n\nRouter keeps dropping wifi: http")
    assert f"/help/articles/{article.pk}-router-keeps-dropping-wifi/" in reply
    page.screenshot(path=str(SHOTS / "knowledge-assist-inserted.png"), full_page=True)
    # When the conversation changes (live updates), the panel asks again.
    with page.expect_response(lambda r: r.url.endswith(f"/{conversation.pk}/assist/")):
        page.evaluate(
            "document.dispatchEvent(new CustomEvent('heedful:conversation-changed',"
            " {detail: {conversation_id: null}}))"
        )
    page.locator("#assist-articles [data-assist-insert]").wait_for()
    assert page.input_value("#reply-text") == reply
    assert errors == []
