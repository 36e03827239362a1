"""Searching from the top bar in a real browser: an agent types a word, sees the
conversation with the matching message highlighted, filters, and opens it."""

import os
from pathlib import Path
from typing import Any

import pytest

from heedful.core import outbox
from tests.browser_support import CHROMIUM, PASSWORD, SHOTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(120),
]
OWN_SHOTS = Path(os.environ.get("HEEDFUL_SEARCH_SHOTS", str(SHOTS)))


def test_agent_searches_filters_and_opens_a_result(
    cast: Any, server: str, browser: Any, settings: Any
) -> None:
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 0
    OWN_SHOTS.mkdir(parents=True, exist_ok=True)
    mine = cast.conversation_a(
        subject="Coffee machine", text="Hello, the espresso machine leaks water every morning."
    )
    cast.conversation_b(subject="Other team", text="Our espresso order is late.")
    outbox.run_all()
    agent = cast.agent_a
    agent.set_password(PASSWORD)
    agent.save()
    errors: list[str] = []
    page = browser.new_context(viewport={"width": 1280, "height": 860}).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/app/login/")
    page.fill("input[name=username]", agent.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)

    page.fill("#top-search", "espresso leaks")
    page.press("#top-search", "Enter")
    page.wait_for_url("**/app/search/?q=espresso+leaks*")
    results = page.locator("[data-testid=conversation-results] li")
    assert results.count() == 1  # team B's conversation is not there
    assert page.inner_text("[data-testid=conversation-results] mark") == "espresso"
    assert "Customer wrote" in results.first.inner_text()
    page.screenshot(path=str(OWN_SHOTS / "search-results.png"), full_page=True)

    page.select_option("select[name=status]", "solved")
    page.click("#search-form button[type=submit]")
    page.wait_for_url("**status=solved*")
    assert page.locator("[data-testid=conversation-results]").count() == 0
    assert "No conversation you can see matches with these filters" in page.inner_text("main")

    page.select_option("select[name=status]", "new")
    page.click("#search-form button[type=submit]")
    page.wait_for_url("**status=new*")
    page.click("[data-testid=conversation-results] a.se-title")
    message = mine.messages.get()
    page.wait_for_url(f"**/app/conversations/{mine.pk}/#message-{message.pk}")
    assert page.locator(f"#message-{message.pk}").is_visible()
    page.screenshot(path=str(OWN_SHOTS / "search-opened.png"))
    assert errors == []
