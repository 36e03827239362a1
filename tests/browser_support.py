"""Shared by the browser tests: Debian's chromium driven by Playwright, against a real
uvicorn serving the test database (tests.asgi_server), so WebSockets work too."""

import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.asgi_server import serve

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("HEEDFUL_SCREENSHOTS", "var/screenshots"))
PASSWORD = "correct horse battery staple"


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    # Playwright's sync API runs an event loop in this thread; the test's own
    # ORM reads happen between browser steps, never concurrently.
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    with serve() as url:
        yield url


@pytest.fixture
def browser() -> Iterator[Any]:
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM,
            args=["--no-sandbox", "--disable-gpu", "--disable-background-networking"],
        )
        yield browser
        browser.close()


def signed_in_page(browser: Any, server: str, user: Any, errors: list[str]) -> Any:
    """A new browser page signed in to the workspace as `user`; script errors and
    console errors are collected into `errors`."""
    user.set_password(PASSWORD)
    user.save()
    page = browser.new_context(viewport={"width": 1366, "height": 900}).new_page()
    page.on("console", lambda msg: errors.append(msg.text) if msg.type == "error" else None)
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.goto(f"{server}/app/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page
