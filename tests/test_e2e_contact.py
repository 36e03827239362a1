"""The contact form in a real browser (Debian's chromium, driven by Playwright)."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from heedful.conversations.models import Conversation

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
]
SHOTS = Path(os.environ.get("HEEDFUL_SCREENSHOTS", "var/screenshots"))


@pytest.fixture
def page(monkeypatch: pytest.MonkeyPatch, webform: object) -> Iterator[object]:
    from playwright.sync_api import sync_playwright

    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM reads happen between browser steps, never concurrently.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        yield page
        browser.close()


def test_customer_files_a_request_and_gets_a_reference(page, live_server) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/contact/")
    page.fill("#id_name", "Ann Lee")
    page.fill("#id_email", "ann@example.com")
    page.fill("#id_subject", "Parcel late")
    page.fill("#id_message", "Order 1234 has not arrived.")
    page.screenshot(path=str(SHOTS / "contact-form.png"), full_page=True)
    page.click("button[type=submit]")
    page.wait_for_selector("text=Your reference number is")
    page.screenshot(path=str(SHOTS / "contact-thanks.png"), full_page=True)
    conversation = Conversation.objects.get()
    assert f"#{conversation.number}" in page.inner_text("main")


def test_empty_form_shows_errors_beside_the_fields(page, live_server) -> None:  # type: ignore[no-untyped-def]
    SHOTS.mkdir(parents=True, exist_ok=True)
    page.goto(f"{live_server.url}/contact/")
    page.fill("#id_email", "not-an-email")
    page.click("button[type=submit]")
    page.wait_for_selector(".error")
    page.screenshot(path=str(SHOTS / "contact-errors.png"), full_page=True)
    errors = page.locator(".error").all_inner_texts()
    assert any("valid email address" in e for e in errors)
    assert sum("required" in e for e in errors) == 3
    assert not Conversation.objects.exists()
