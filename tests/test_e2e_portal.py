"""The customer portal in a real browser (Debian's chromium via Playwright): a customer
with requests on two channels asks for a sign-in link, opens it, presses "Sign in",
sees both requests, opens one and replies; on a phone, the emailed code signs in."""

import re
from typing import Any
from urllib.parse import urlsplit

import pytest
from django.core import mail

from heedful.conversations.inbound import Sender
from heedful.conversations.models import DeliveryStatus, Message
from heedful.conversations.services import merge_customers, receive, reply
from heedful.inboxes.models import Inbox
from tests.browser_support import CHROMIUM, SHOTS
from tests.help_support import CHROME, write

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(120),
]
ONE = "one@customer.test"


def customer_with_two_channels(cast: Any) -> tuple[Any, Any]:
    by_email = cast.conversation_a(subject="Parcel arrived damaged", name="Ann Lee")
    sms = Inbox.objects.create(kind="sms", name="SMS")
    by_sms = receive(
        cast.inbound(
            inbox=sms,
            sender=Sender(kind="phone", address="+14155550100"),
            subject="",
            text="Can I change my delivery address?",
        )
    ).conversation
    merge_customers(source=by_sms.customer, target=by_email.customer, actor=cast.admin)
    cast.agent_a.name = "Maria Lopez"
    cast.agent_a.save()
    answer = reply(
        conversation=by_email, author=cast.agent_a, text="Sorry!\nCould you send a photo?"
    )
    Message.objects.filter(pk=answer.pk).update(delivery_status=DeliveryStatus.SENT)
    return by_email, by_sms


def request_email(page: Any, server: str) -> None:
    page.goto(f"{server}/portal/sign-in/")
    page.fill("#id_email", ONE)
    page.click("button[type=submit]")
    page.wait_for_selector("h1:has-text('Check your email')")


def emailed_path_and_code() -> tuple[str, str]:
    body = mail.outbox[-1].body
    link = re.search(r"https?://\S+/portal/sign-in/[\w-]+/", body)
    code = re.search(r"code on the sign-in page: (\d{6})", body)
    assert link and code
    return urlsplit(link.group(0)).path, code.group(1)


def test_a_customer_signs_in_by_link_sees_every_request_and_replies(
    cast: Any, server: str, browser: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    by_email, _ = customer_with_two_channels(cast)
    errors: list[str] = []
    page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    request_email(page, server)
    page.screenshot(path=str(SHOTS / "portal-check-email.png"), full_page=True)
    path, _ = emailed_path_and_code()

    page.goto(f"{server}{path}")
    page.wait_for_selector("h1:has-text('Sign in')")
    page.screenshot(path=str(SHOTS / "portal-confirm.png"), full_page=True)
    page.click("main button[type=submit]:has-text('Sign in')")
    page.wait_for_url(f"{server}/portal/")
    listed = page.inner_text("main")
    assert "Parcel arrived damaged" in listed and "Can I change my delivery address?" in listed
    assert "Email" in listed and "SMS" in listed
    assert listed.index("Parcel arrived damaged") < listed.index("Can I change")  # newest first
    page.screenshot(path=str(SHOTS / "portal-requests.png"), full_page=True)

    page.click("text=Parcel arrived damaged")
    page.wait_for_selector("h2:has-text('Reply')")
    page.fill("#id_message", "The box was crushed; photos follow.")
    page.click("button:has-text('Send reply')")
    page.wait_for_selector("text=Your reply was sent")
    thread = page.inner_text("main")
    assert "Maria" in thread and "Lopez" not in thread and "Could you send a photo?" in thread
    page.screenshot(path=str(SHOTS / "portal-thread.png"), full_page=True)
    landed = Message.objects.get(body_text="The box was crushed; photos follow.")
    assert landed.conversation_id == by_email.pk
    assert landed.sender_identity is not None and landed.sender_identity.address == ONE
    assert errors == []


def test_on_a_phone_the_emailed_code_signs_in(cast: Any, server: str, browser: Any) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    by_email, _ = customer_with_two_channels(cast)
    write(cast.agent_a, "How refunds work", "Refunds reach your card within five days.")
    phone = browser.new_context(
        viewport={"width": 390, "height": 844}, is_mobile=True, user_agent=CHROME
    )
    page = phone.new_page()
    request_email(page, server)
    _, code = emailed_path_and_code()
    page.fill("#id_code", code)
    page.click("main button[type=submit]")
    page.wait_for_url(f"{server}/portal/")
    page.screenshot(path=str(SHOTS / "portal-requests-phone.png"), full_page=True)
    page.goto(f"{server}/portal/requests/{by_email.number}/")
    page.wait_for_selector("h2:has-text('Reply')")
    page.screenshot(path=str(SHOTS / "portal-thread-phone.png"), full_page=True)
    page.goto(f"{server}/portal/requests/new/")
    page.type("#id_subject", "When do refunds arrive", delay=20)
    # Suggested articles appear while typing, in the polite live region.
    page.wait_for_selector("#suggestions[aria-live=polite] a:has-text('How refunds work')")
    page.screenshot(path=str(SHOTS / "portal-new-phone.png"), full_page=True)
