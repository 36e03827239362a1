# ruff: noqa: F811  (pytest fixtures imported from tests.help_support are arguments here)
"""The help center in a real browser: a visitor searches, reads, votes; on a phone the
pages fit, and the contact form suggests articles while the visitor types."""

from typing import Any

import pytest

from heedful.knowledge.models import ArticleFeedback, HelpEvent, HelpEventKind
from tests.browser_support import CHROMIUM, SHOTS
from tests.help_support import CHROME, Kb, kb  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(120),
]


def open_page(browser: Any, width: int, height: int, errors: list[str]) -> Any:
    # An ordinary Chrome user agent: "HeadlessChrome" counts as a bot and is not tracked.
    context = browser.new_context(viewport={"width": width, "height": height}, user_agent=CHROME)
    page = context.new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    return page


def test_a_visitor_searches_reads_and_votes(
    kb: Kb, webform: object, server: str, browser: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    errors: list[str] = []
    page = open_page(browser, 1280, 900, errors)
    page.goto(f"{server}/help/")
    page.screenshot(path=str(SHOTS / "help-home-desktop.png"), full_page=True)
    page.get_by_label("Search the help center").fill("refunds")
    page.keyboard.press("Enter")
    page.wait_for_selector(".hc-results")
    assert page.locator(".hc-snippet mark").count() >= 1
    page.screenshot(path=str(SHOTS / "help-search-desktop.png"), full_page=True)
    page.get_by_role("link", name="How refunds work").click()
    page.wait_for_selector("h1#article-title")
    page.get_by_label("Tell us more").fill("It does not say which card.")
    page.get_by_role("button", name="No").click()
    page.wait_for_selector("text=Thanks for your feedback")
    page.screenshot(path=str(SHOTS / "help-article-voted-desktop.png"), full_page=True)

    kinds = set(HelpEvent.objects.values_list("kind", flat=True))
    assert {HelpEventKind.SEARCH, HelpEventKind.VIEW, HelpEventKind.VOTE} <= kinds
    assert HelpEvent.objects.get(kind=HelpEventKind.SEARCH).query == "refunds"
    feedback = ArticleFeedback.objects.get()
    assert (feedback.article_id, feedback.helpful) == (kb.refunds.pk, False)
    assert feedback.comment == "It does not say which card."

    phone = open_page(browser, 390, 844, errors)
    phone.goto(f"{server}/help/")
    phone.screenshot(path=str(SHOTS / "help-home-phone.png"), full_page=True)
    # Nothing wider than the screen: no sideways scrolling on a phone.
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.goto(page.url.split("#")[0])
    phone.screenshot(path=str(SHOTS / "help-article-phone.png"), full_page=True)
    assert phone.evaluate("document.documentElement.scrollWidth") <= 390
    phone.goto(f"{server}/contact/")
    phone.fill("#id_subject", "When do refunds arrive")
    phone.wait_for_selector("#contact-suggestions >> text=How refunds work")
    phone.screenshot(path=str(SHOTS / "help-contact-suggestions-phone.png"), full_page=True)
    assert HelpEvent.objects.filter(kind=HelpEventKind.SUGGESTIONS_SHOWN).exists()
    assert errors == []
