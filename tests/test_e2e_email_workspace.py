"""An email message in the agent's conversation page, in a real browser (Debian's
chromium through Playwright, served by uvicorn): folded quotes, the sandboxed
formatted view with its inline and remote images, the unverified-sender warning,
and retrying a reply the mail server refused. Screenshots: var/screenshots/email-*.png."""

import base64
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from heedful.conversations.inbound import InboundAttachment, Sender
from heedful.conversations.models import (
    ConversationParticipant,
    DeliveryStatus,
    Direction,
    Message,
    ParticipantRole,
)
from heedful.conversations.services import delivery, receive, reply
from heedful.conversations.services.receive import resolve_identity
from heedful.inboxes.email.adapter import EmailAdapter
from heedful.inboxes.registry import DeliveryResult
from tests.browser_support import CHROMIUM
from tests.test_e2e_workspace import SHOTS, sign_in, with_password

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(120),
]

# A 1x1 PNG: the inline logo and the "remote" tracking pixel.
PNG = base64.b64decode(
    "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mNk+M9QDwADhgGAWjR9awAAAABJRU5ErkJggg=="
)


class _Pixel(BaseHTTPRequestHandler):
    hits: list[str] = []

    def do_GET(self) -> None:
        type(self).hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.send_header("Content-Length", str(len(PNG)))
        self.end_headers()
        self.wfile.write(PNG)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def remote_server() -> Iterator[str]:
    """Another origin standing in for a sender's tracking server; records each fetch."""
    _Pixel.hits = []
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Pixel)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://localhost:{httpd.server_address[1]}"
    httpd.shutdown()


def _deliveries(monkeypatch: pytest.MonkeyPatch, result: DeliveryResult) -> None:
    monkeypatch.setattr(EmailAdapter, "deliver", lambda self, message: result)


def _email_thread(cast: Any, remote: str, monkeypatch: pytest.MonkeyPatch) -> Message:
    """A customer's email with every flag, and our reply the server refused."""
    logo = InboundAttachment(
        filename="logo.png",
        content_type="image/png",
        content=PNG,
        content_id="logo@shop",
        inline=True,
    )
    inbound = cast.inbound(
        name="Ann Lee",
        subject="Change of bank details",
        text="Hello,\n\nplease send the refund to my new account.\n\nAnn",
        html=(
            '<p><img src="cid:logo@shop" alt="Shop logo" width="40" height="40"></p>'
            "<p>Hello,</p><p>please send the refund to my <b>new account</b>.</p>"
            f'<p><img src="{remote}/pixel.png" alt="tracking pixel" width="1" height="1"></p>'
        ),
        quoted_text=(
            "On Mon, 3 Mar 2025, Support wrote:\n> Your refund is on its way.\n> -- \n> Support"
        ),
        sender_unverified="dmarc=fail (p=reject) spf=softfail",
        notice="1 attachment over the 25 MB limit was not kept: statement.zip",
        attachments=(logo,),
    )
    message = receive(inbound).message
    # An unverified sender brings nobody in (receive refuses it), so the copied
    # colleague stands for one an earlier, verified message added.
    ConversationParticipant.objects.create(
        conversation=message.conversation,
        identity=resolve_identity(Sender(kind="email", address="accounts@customer.test")),
        role=ParticipantRole.CC,
    )
    _deliveries(
        monkeypatch,
        DeliveryResult(
            ok=False, error="550 5.1.1 <one@customer.test>: user unknown", permanent=True
        ),
    )
    reply(conversation=message.conversation, author=cast.agent_a, text="We will check.")
    return message


def _retry_delivery_or_stand_in(monkeypatch: pytest.MonkeyPatch) -> None:
    """The delivery service's retry when it exists; until then, what it promises."""
    if hasattr(delivery, "retry_delivery"):
        return

    def retry_delivery(*, message: Message, actor: Any) -> Message:
        Message.objects.filter(pk=message.pk, delivery_status=DeliveryStatus.FAILED).update(
            delivery_status=DeliveryStatus.PENDING, delivery_error=""
        )
        return message

    monkeypatch.setattr(delivery, "retry_delivery", retry_delivery, raising=False)


def test_an_email_message_in_the_conversation_page(
    cast: Any, server: str, browser: Any, remote_server: str, monkeypatch: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    agent = with_password(cast.agent_a)
    message = _email_thread(cast, remote_server, monkeypatch)
    conversation = message.conversation
    failed = conversation.messages.get(direction=Direction.OUTBOUND)
    assert failed.delivery_status == DeliveryStatus.FAILED

    page = sign_in(browser, server, agent)
    page.goto(f"{server}/app/conversations/{conversation.pk}/")
    card = page.locator(f"#message-{message.pk}")
    card.wait_for()
    assert "Unverified sender" in card.inner_text()
    assert "accounts@customer.test" in page.inner_text(".conv-cc")
    assert not page.is_visible(f"#quoted-{message.pk} .quoted-text")
    _shots(page, "email-conversation")

    page.click(f"#quoted-{message.pk} summary")
    assert "Your refund is on its way." in page.inner_text(f"#quoted-{message.pk} .quoted-text")

    page.click(f"#formatted-{message.pk} summary")
    frame = page.frame_locator(f"#formatted-{message.pk} iframe")
    frame.locator("text=new account").wait_for()
    _wait_for_image(page, message.pk, "Shop logo")  # the cid: image, embedded
    assert _Pixel.hits == []  # the tracking pixel stayed blocked
    _shots(page, "email-formatted")

    page.click(f"#message-{message.pk} [data-load-images]")
    page.wait_for_function(
        f"() => document.querySelector('#formatted-{message.pk} iframe').src.includes('images=1')"
    )
    _wait_for(lambda: _Pixel.hits == ["/pixel.png"])
    assert not page.is_visible(f"#formatted-{message.pk} [data-images-blocked]")

    retry_card = page.locator(f"#message-{failed.pk}")
    assert "Not delivered: 550 5.1.1" in retry_card.inner_text()
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        retry_card.screenshot(path=str(SHOTS / f"email-failed-{scheme}.png"))
    page.emulate_media(color_scheme="light")
    _deliveries(monkeypatch, DeliveryResult(ok=True, external_id="<ok@support.test>"))
    _retry_delivery_or_stand_in(monkeypatch)
    page.evaluate("window.timelineBefore = document.getElementById('timeline')")
    retry_card.locator("button", has_text="Retry").click()
    page.wait_for_function(
        "(id) => !document.getElementById(id).textContent.includes('Not delivered')",
        arg=f"message-{failed.pk}",
    )
    failed.refresh_from_db()
    assert failed.delivery_status != DeliveryStatus.FAILED
    # The retry refreshed the timeline; what the agent had opened stays open.
    page.wait_for_function("() => document.getElementById('timeline') !== window.timelineBefore")
    assert page.locator(f"#formatted-{message.pk}").get_attribute("open") is not None
    src = page.locator(f"#formatted-{message.pk} iframe").get_attribute("src")
    assert src is not None and src.endswith("?images=1")
    _shots(page, "email-retried")


def _shots(page: Any, name: str) -> None:
    """The whole page, light and dark, in one window each: a full-page capture would
    leave the sticky composer in the middle of the picture."""
    size = page.viewport_size
    height = page.evaluate("document.documentElement.scrollHeight")
    page.set_viewport_size({"width": size["width"], "height": max(size["height"], height)})
    for scheme in ("light", "dark"):
        page.emulate_media(color_scheme=scheme)
        page.screenshot(path=str(SHOTS / f"{name}-{scheme}.png"))
    page.emulate_media(color_scheme="light")
    page.set_viewport_size(size)


def _wait_for_image(page: Any, pk: int, alt: str) -> None:
    frame = page.frame(name=f"frame-{pk}")
    assert frame is not None
    frame.wait_for_function(
        "(alt) => { const i = [...document.images].find((img) => img.alt === alt);"
        " return Boolean(i && i.complete && i.naturalWidth > 0); }",
        arg=alt,
    )


def _wait_for(condition: Any, timeout: float = 10.0) -> None:
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("condition not met in time")
        time.sleep(0.1)
