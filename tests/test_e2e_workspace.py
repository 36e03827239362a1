"""The agent workspace in a real browser (Debian's chromium, driven by Playwright),
served by uvicorn so WebSockets work: sign in, take the first unassigned
conversation, answer it with a macro, and watch a second agent see it live."""

from typing import Any

import pytest

from heedful.accounts.models import User
from heedful.automation.models import Macro
from heedful.conversations.models import Conversation, Direction
from tests.browser_support import CHROMIUM, PASSWORD, SHOTS

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(120),
]


def sign_in(browser: Any, server: str, user: User, **options: Any) -> Any:
    context = browser.new_context(viewport={"width": 1366, "height": 900}, **options)
    page = context.new_page()
    page.goto(f"{server}/app/login/")
    page.fill("input[name=username]", user.email)
    page.fill("input[name=password]", PASSWORD)
    page.click("button[type=submit]")
    page.wait_for_url(lambda url: "/login/" not in url)
    return page


def with_password(user: User) -> User:
    user.set_password(PASSWORD)
    user.save()
    return user


def test_an_agent_takes_and_answers_a_conversation_and_a_colleague_sees_it_live(
    cast: Any, server: str, browser: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    agent = with_password(cast.agent_a)
    colleague = with_password(cast.lead_a)
    Macro.objects.create(
        name="Shipping delay", body="Hi {{ customer.first_name }}, your parcel left today."
    )
    cast.conversation_a(address="other@customer.test", subject="An older question")
    first = cast.conversation_a(name="Ann Lee", subject="Parcel late")  # the newest

    # The colleague has the conversation open before anything happens.
    watcher = sign_in(browser, server, colleague)
    watcher.goto(f"{server}/app/conversations/{first.pk}/")
    watcher.wait_for_selector("#live-state[data-state=on]")

    page = sign_in(browser, server, agent)
    page.goto(f"{server}/app/conversations/?view=unassigned")
    page.wait_for_selector(".conv-row")
    page.screenshot(path=str(SHOTS / "workspace-list.png"), full_page=True)
    page.locator(".conv-row .row-link").first.click()
    page.wait_for_url(f"**/app/conversations/{first.pk}/**")
    page.wait_for_selector("#live-state[data-state=on]")

    page.click("button[data-assign-me]")
    _wait_for(lambda: Conversation.objects.get(pk=first.pk).assignee_id == agent.pk)

    page.select_option("#macro-picker", label="Shipping delay")
    page.wait_for_function(
        "() => document.querySelector('#reply-text').value.includes('your parcel left today')"
    )
    assert page.input_value("#reply-text").startswith("Hi Ann,")
    page.click("#reply-form button[type=submit]")
    page.wait_for_selector("#timeline >> text=your parcel left today")
    page.screenshot(path=str(SHOTS / "workspace-conversation.png"), full_page=True)

    reply = first.messages.get(direction=Direction.OUTBOUND, is_note=False)
    assert "your parcel left today" in reply.body_text
    assert reply.author_agent_id == agent.pk

    # The colleague's page shows the reply without a reload.
    watcher.wait_for_selector("#timeline >> text=your parcel left today", timeout=5_000)

    page.goto(f"{server}/app/customers/{first.customer_id}/")
    page.wait_for_selector("main")
    page.screenshot(path=str(SHOTS / "workspace-customer.png"), full_page=True)
    assert first.subject in page.inner_text("main")


def test_the_workspace_reads_well_in_dark_mode(cast: Any, server: str, browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    agent = with_password(cast.agent_a)
    conversation = cast.conversation_a(subject="Dark mode check")
    page = sign_in(browser, server, agent, color_scheme="dark")
    page.goto(f"{server}/app/conversations/?view=all_open")
    page.wait_for_selector(".conv-row")
    page.screenshot(path=str(SHOTS / "workspace-list-dark.png"), full_page=True)
    page.goto(f"{server}/app/conversations/{conversation.pk}/")
    page.wait_for_selector("#timeline")
    page.screenshot(path=str(SHOTS / "workspace-conversation-dark.png"), full_page=True)
    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background != "rgb(255, 255, 255)"


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
