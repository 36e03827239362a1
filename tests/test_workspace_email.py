"""How email messages show in the agent's conversation page (workspace.views.conversation,
workspace.fragments): folded quotes, the sandboxed formatted view, sender flags, failed
deliveries and retry, bounces, CC participants."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.urls import reverse
from django.utils import timezone

from heedful.conversations.inbound import InboundAttachment, Sender
from heedful.conversations.models import (
    Conversation,
    DeliveryStatus,
    EventType,
    Message,
)
from heedful.conversations.services import delivery, merge_conversations, note, receive, reply
from heedful.conversations.services.events import record_event
from heedful.core.errors import ServiceError
from heedful.inboxes.email.adapter import EmailAdapter
from heedful.inboxes.registry import DeliveryResult
from heedful.workspace.fragments import is_remote

pytestmark = pytest.mark.django_db

HTMX = {"HTTP_HX_REQUEST": "true"}
UNVERIFIED = "dmarc=fail spf=fail"
REMOTE = '<p>Hello <b>there</b></p><p><img src="https://tracker.test/pixel.png" alt="pixel"></p>'


def page(conversation: Conversation) -> str:
    return reverse("workspace:conversation", args=[conversation.pk])


def timeline(conversation: Conversation) -> str:
    return reverse("workspace:timeline", args=[conversation.pk])


def html_url(message: Message) -> str:
    return reverse("workspace:message_html", args=[message.conversation_id, message.pk])


def retry_url(message: Message) -> str:
    return reverse("workspace:message_retry", args=[message.conversation_id, message.pk])


@pytest.fixture
def agent(client: Any, cast: Any) -> Any:
    client.force_login(cast.agent_a)
    return client


def body(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


def email(cast: Any, **kw: Any) -> Message:
    """An inbound email into team A's inbox, through the receive service."""
    return receive(cast.inbound(**kw)).message


def failed_reply(
    cast: Any, monkeypatch: Any, conversation: Conversation, error: str, *, permanent: bool = True
) -> Message:
    """A reply whose delivery the mail server refused, through the delivery service."""
    message = reply(conversation=conversation, author=cast.agent_a, text="Here is your refund.")
    monkeypatch.setattr(
        EmailAdapter,
        "deliver",
        lambda self, m: DeliveryResult(ok=False, error=error, permanent=permanent),
    )
    delivery.deliver_message(message.pk)
    message.refresh_from_db()
    return message


# --- text first, quoted history folded -------------------------------------------------


def test_quoted_text_is_folded_under_the_message_and_escaped(agent, cast):
    message = email(
        cast,
        text="Thanks, one more thing.",
        quoted_text="On Monday you wrote:\n> <b>old</b> & older",
    )
    html = body(agent.get(timeline(message.conversation)))
    folded = re.search(r'<details class="msg-quoted"[^>]*>(.*?)</details>', html, re.S)
    assert folded is not None
    assert "<summary>Show quoted text</summary>" in folded.group(1)
    assert "On Monday you wrote:\n&gt; &lt;b&gt;old&lt;/b&gt; &amp; older" in folded.group(1)
    assert f'<details class="msg-quoted" id="quoted-{message.pk}">' in html  # closed


def test_text_is_shown_and_html_only_behind_show_formatted(agent, cast):
    message = email(cast, text="<script>alert(1)</script>\nline two", html=REMOTE)
    html = body(agent.get(timeline(message.conversation)))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>line two" in html
    assert "<script>alert(1)" not in html
    assert "<b>there</b>" not in html  # the HTML never joins the page itself
    assert "<summary>Show formatted</summary>" in html
    frame = re.search(r"<iframe[^>]*>", html, re.S)
    assert frame is not None
    assert 'sandbox="allow-popups allow-popups-to-escape-sandbox"' in frame.group(0)
    assert "allow-scripts" not in frame.group(0) and "allow-same-origin" not in frame.group(0)
    # Fetched only when opened: a thread of HTML mail does not load every frame.
    assert f'data-src="{html_url(message)}"' in frame.group(0)


def test_a_message_with_only_html_opens_its_formatted_view(agent, cast):
    message = email(cast, text="", html="<p>Only formatted</p>")
    html = body(agent.get(timeline(message.conversation)))
    assert f'<details class="msg-formatted" id="formatted-{message.pk}" open>' in html
    assert f'src="{html_url(message)}"' in html


def test_a_plain_message_offers_no_formatted_view(agent, cast):
    message = email(cast, text="Plain words")
    html = body(agent.get(timeline(message.conversation)))
    assert "Show formatted" not in html and "<iframe" not in html


# --- the formatted view --------------------------------------------------------------------


def test_the_formatted_view_serves_the_sanitized_html_with_a_strict_policy(agent, cast):
    message = email(cast, html=REMOTE)
    response = agent.get(html_url(message))
    assert "<p>Hello <b>there</b></p>" in body(response)
    policy = response["Content-Security-Policy"]
    assert "default-src 'none'" in policy
    assert "style-src 'unsafe-inline'" in policy
    assert "img-src 'self' data:;" in policy  # remote images blocked
    assert "https:" not in policy and "script" not in policy
    assert response["Referrer-Policy"] == "no-referrer"
    assert response["X-Frame-Options"] == "SAMEORIGIN"
    assert response["Content-Type"].startswith("text/html")


def test_remote_images_load_only_when_the_agent_asks(agent, cast):
    message = email(cast, html=REMOTE)
    policy = agent.get(html_url(message) + "?images=1")["Content-Security-Policy"]
    assert "img-src 'self' data: http: https:;" in policy
    assert "default-src 'none'" in policy


def test_the_rest_of_the_workspace_still_refuses_framing(agent, cast):
    message = email(cast, html=REMOTE)
    response = agent.get(page(message.conversation))
    assert response["X-Frame-Options"] == "DENY"
    assert "img-src 'self' data:" in response["Content-Security-Policy"]


def test_remote_images_offer_a_load_button_with_the_privacy_reason(agent, cast):
    message = email(cast, html=REMOTE)
    html = body(agent.get(timeline(message.conversation)))
    assert "Load remote images" in html
    assert "Remote images are blocked to protect your privacy" in html
    assert f'href="{html_url(message)}?images=1"' in html


def test_no_load_button_without_remote_images(agent, cast):
    message = email(cast, html='<p>Hi <img src="cid:logo@x" alt="logo"></p>')
    html = body(agent.get(timeline(message.conversation)))
    assert "Show formatted" in html
    assert "Load remote images" not in html


def test_protocol_relative_images_count_as_remote(agent, cast):
    message = email(cast, html='<p><img src="//tracker.test/p.gif" alt=""></p>')
    assert "Load remote images" in body(agent.get(timeline(message.conversation)))


def test_cid_images_are_embedded_in_the_formatted_view(agent, cast):
    # The frame is an opaque origin without the session cookie: its images come inline.
    logo = InboundAttachment(
        filename="logo.png",
        content_type="image/png",
        content=b"\x89PNG\r\n",
        content_id="logo@x",
        inline=True,
    )
    report = InboundAttachment(filename="report.pdf", content_type="application/pdf", content=b"%")
    message = email(
        cast,
        html='<p><img src="cid:logo@x" alt="logo"><img src="cid:missing@x" alt="gone"></p>',
        attachments=(logo, report),
    )
    html = body(agent.get(html_url(message)))
    assert '<img src="data:image/png;base64,iVBORw0K" alt="logo">' in html
    assert 'src="cid:missing@x"' in html  # nothing to embed: the policy blocks it
    # The inline image shows in place, so the attachment list names only the report.
    page_html = body(agent.get(timeline(message.conversation)))
    assert "report.pdf" in page_html and "logo.png" not in page_html


def test_a_cid_reference_to_a_non_image_stays_a_listed_attachment(agent, cast):
    script = InboundAttachment(
        filename="run.html",
        content_type="text/html",
        content=b"<script>",
        content_id="s@x",
        inline=True,
    )
    message = email(cast, html='<p><img src="cid:s@x" alt="s"></p>', attachments=(script,))
    assert 'src="cid:s@x"' in body(agent.get(html_url(message)))
    assert "run.html" in body(agent.get(timeline(message.conversation)))


def test_percent_encoded_cid_urls_find_their_image(agent, cast):
    logo = InboundAttachment(
        filename="a.gif",
        content_type="image/gif",
        content=b"GIF89a",
        content_id="a b@x",
        inline=True,
    )
    message = email(cast, html='<p><img src="cid:a%20b@x" alt="a"></p>', attachments=(logo,))
    assert 'src="data:image/gif;base64,R0lGODlh"' in body(agent.get(html_url(message)))


def test_an_inline_attachment_the_html_does_not_use_stays_listed(agent, cast):
    orphan = InboundAttachment(
        filename="orphan.png", content_type="image/png", content=b"x", content_id="o@x", inline=True
    )
    message = email(cast, html="<p>No image here</p>", attachments=(orphan,))
    assert "orphan.png" in body(agent.get(timeline(message.conversation)))


def test_hostile_html_is_sanitized_again_when_served(agent, cast):
    message = email(cast, html="<p>ok</p>")
    # A row stored before a sanitizer fix (or written by hand) is cleaned on the way out.
    Message.objects.filter(pk=message.pk).update(
        body_html='<p onclick="x()">hi</p><script>alert(1)</script><a href="javascript:x()">l</a>'
    )
    html = body(agent.get(html_url(message)))
    assert "<script" not in html and "onclick" not in html and "javascript:" not in html
    assert "hi</p>" in html


def test_what_nh3_keeps_is_never_on_the_page_itself(agent, cast):
    kept = '<a href="https://evil.test/" title="x">click</a><img src="https://evil.test/i.png">'
    message = email(cast, text="<img src=x onerror=alert(1)>", html=kept)
    html = body(agent.get(page(message.conversation)))
    assert "evil.test" not in html
    assert "<img src=x onerror" not in html
    assert "&lt;img src=x onerror=alert(1)&gt;" in html


def test_the_formatted_view_follows_the_access_rule(client, cast):
    message = email(cast, html=REMOTE)
    client.force_login(cast.agent_b)
    assert client.get(html_url(message)).status_code == 404


def test_the_formatted_view_needs_a_signed_in_agent(client, cast):
    message = email(cast, html=REMOTE)
    response = client.get(html_url(message))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("workspace:login"))


def test_the_formatted_view_refuses_a_message_of_another_conversation(agent, cast):
    mine = email(cast, html=REMOTE)
    other = email(cast, address="someone@customer.test", subject="Other", html=REMOTE)
    assert other.conversation_id != mine.conversation_id
    url = reverse("workspace:message_html", args=[mine.conversation_id, other.pk])
    assert agent.get(url).status_code == 404


def test_the_formatted_view_of_a_message_without_html_is_404(agent, cast):
    message = email(cast, text="plain")
    assert agent.get(html_url(message)).status_code == 404


# --- flags ---------------------------------------------------------------------------------


def test_an_unverified_sender_is_flagged_with_the_reason(agent, cast):
    message = email(cast, sender_unverified='dmarc=fail <b>"x"</b>')
    html = body(agent.get(timeline(message.conversation)))
    assert "⚠ Unverified sender" in html
    assert 'title="Unverified sender: dmarc=fail &lt;b&gt;&quot;x&quot;&lt;/b&gt;"' in html
    assert "could not confirm this sender (SPF/DKIM/DMARC)" in html
    assert "be careful with requests to change accounts or payments" in html
    assert '<b>"x"</b>' not in html


def test_a_verified_sender_has_no_flag(agent, cast):
    message = email(cast)
    html = body(agent.get(timeline(message.conversation)))
    assert "Unverified sender" not in html and "Automatic message" not in html


def test_an_automatic_message_gets_a_quiet_badge(agent, cast):
    message = email(cast, auto_submitted="Auto-Submitted: auto-replied <x>")
    html = body(agent.get(timeline(message.conversation)))
    assert 'title="Automatic message: Auto-Submitted: auto-replied &lt;x&gt;"' in html
    assert ">Automatic message</span>" in html


def test_a_notice_shows_under_the_message(agent, cast):
    message = email(cast, notice="2 attachments over 25 MB were not kept: <big>.iso")
    html = body(agent.get(timeline(message.conversation)))
    assert "2 attachments over 25 MB were not kept: &lt;big&gt;.iso" in html


# --- failed deliveries and retry ---------------------------------------------------------


def test_a_failed_reply_shows_the_servers_answer_and_a_retry_button(agent, cast, monkeypatch):
    conversation = email(cast).conversation
    message = failed_reply(cast, monkeypatch, conversation, "550 5.1.1 <user> unknown")
    html = body(agent.get(timeline(conversation)))
    assert "Not delivered: 550 5.1.1 &lt;user&gt; unknown" in html
    assert f'hx-post="{retry_url(message)}"' in html
    assert ">Retry</button>" in html


def test_a_transient_failure_shows_when_it_is_retried(client, cast, monkeypatch):
    cast.agent_a.time_zone = "America/New_York"
    cast.agent_a.save()
    client.force_login(cast.agent_a)
    conversation = email(cast).conversation
    message = failed_reply(cast, monkeypatch, conversation, "421 try later", permanent=False)
    assert message.delivery_status == DeliveryStatus.PENDING
    retry_at = timezone.now().replace(hour=15, minute=40) + timedelta(days=1)
    Message.objects.filter(pk=message.pk).update(send_after=retry_at)  # the backoff
    html = body(client.get(timeline(conversation)))
    local = timezone.localtime(retry_at, timezone=cast.agent_a.zone).strftime("%H:%M")
    assert f"{local}</time>" in html
    assert "Retrying at" in html and "Last error: 421 try later" in html
    assert "Retry</button>" not in html


def test_the_cached_message_changes_when_its_retry_time_does(agent, cast, monkeypatch):
    conversation = email(cast).conversation
    message = failed_reply(cast, monkeypatch, conversation, "421 later", permanent=False)
    first = timezone.now() + timedelta(hours=1)
    Message.objects.filter(pk=message.pk).update(send_after=first.replace(minute=11))
    assert ":11</time>" in body(agent.get(timeline(conversation)))
    Message.objects.filter(pk=message.pk).update(send_after=first.replace(minute=47))
    assert ":47</time>" in body(agent.get(timeline(conversation)))


def test_retry_calls_the_delivery_service_and_rerenders_the_message(agent, cast, monkeypatch):
    conversation = email(cast).conversation
    message = failed_reply(cast, monkeypatch, conversation, "550 no such user")
    calls: list[tuple[int, int]] = []

    def retry_delivery(*, message: Message, actor: Any) -> Message:
        calls.append((message.pk, actor.pk))
        Message.objects.filter(pk=message.pk).update(
            delivery_status=DeliveryStatus.PENDING, delivery_error=""
        )
        return message

    monkeypatch.setattr(delivery, "retry_delivery", retry_delivery, raising=False)
    response = agent.post(retry_url(message), **HTMX)
    html = body(response)
    assert calls == [(message.pk, cast.agent_a.pk)]
    assert html.strip().startswith(f'<li class="msg msg-out" id="message-{message.pk}"')
    assert "Pending" in html and "Not delivered" not in html
    assert "heedful:conversation-changed" in response["HX-Trigger"]


def test_retry_refused_by_the_service_answers_its_reason(agent, cast, monkeypatch):
    conversation = email(cast).conversation
    message = failed_reply(cast, monkeypatch, conversation, "550 no such user")

    def retry_delivery(*, message: Message, actor: Any) -> Message:
        raise ServiceError("The address is suppressed.")

    monkeypatch.setattr(delivery, "retry_delivery", retry_delivery, raising=False)
    response = agent.post(retry_url(message), **HTMX)
    assert response.status_code == 400
    assert response.json()["error"] == "The address is suppressed."


def test_retry_is_post_only(agent, cast, monkeypatch):
    conversation = email(cast).conversation
    message = failed_reply(cast, monkeypatch, conversation, "550 no such user")
    assert agent.get(retry_url(message)).status_code == 405


def test_retry_follows_the_access_rule(client, cast, monkeypatch):
    conversation = email(cast).conversation
    message = failed_reply(cast, monkeypatch, conversation, "550 no such user")
    monkeypatch.setattr(delivery, "retry_delivery", _never, raising=False)
    client.force_login(cast.agent_b)
    assert client.post(retry_url(message), **HTMX).status_code == 404
    client.logout()
    assert client.post(retry_url(message)).status_code == 302


def test_retry_refuses_what_is_not_a_failed_reply(agent, cast, monkeypatch):
    inbound = email(cast)
    conversation = inbound.conversation
    monkeypatch.setattr(delivery, "retry_delivery", _never, raising=False)
    internal = note(conversation=conversation, author=cast.agent_a, text="a note")
    sent = reply(conversation=conversation, author=cast.agent_a, text="sent fine")
    assert agent.post(retry_url(inbound), **HTMX).status_code == 404
    assert agent.post(retry_url(internal), **HTMX).status_code == 404
    response = agent.post(retry_url(sent), **HTMX)
    assert response.status_code == 400
    assert "not delivered" in response.json()["error"]


def _never(**kw: Any) -> None:
    raise AssertionError("retry_delivery must not be called")


def test_a_bounce_shows_as_a_quiet_timeline_line(agent, cast):
    conversation = email(cast).conversation
    record_event(
        conversation=conversation,
        type=EventType.DELIVERY_FAILED,
        data={"bounce": True, "status": "5.1.1", "diagnostic": "550 <user> unknown"},
    )
    html = body(agent.get(timeline(conversation)))
    line = re.search(r'<li class="ev">\s*Bounced: 5.1.1 550 &lt;user&gt; unknown', html)
    assert line is not None


# --- CC participants -----------------------------------------------------------------------


def test_cc_participants_are_listed_in_the_header(agent, cast):
    cc = (Sender(kind="email", address="boss@customer.test"),)
    conversation = email(cast, cc=cc).conversation
    html = body(agent.get(page(conversation)))
    cc_block = re.search(r'<div class="conv-cc".*?</div>', html, re.S)
    assert cc_block is not None
    assert "boss@customer.test" in cc_block.group(0)
    assert "one@customer.test" not in cc_block.group(0)  # the customer is not a CC


def test_no_cc_line_without_cc_participants(agent, cast):
    conversation = email(cast).conversation
    assert 'class="conv-cc"' not in body(agent.get(page(conversation)))


def test_links_follow_a_message_merged_into_another_conversation(agent, cast):
    message = email(cast, html=REMOTE)
    source = message.conversation
    target = email(cast, subject="Another question", text="Second").conversation
    assert target.pk != source.pk
    agent.get(timeline(source))  # the message's HTML is cached under the source
    merge_conversations(source=source, target=target, actor=cast.agent_a)
    message.refresh_from_db()
    html = body(agent.get(timeline(target)))
    assert f'data-src="{html_url(message)}"' in html
    assert f"/app/conversations/{source.pk}/messages/" not in html
    assert agent.get(html_url(message)).status_code == 200


@pytest.mark.parametrize(
    "src", ["HTTPS://t.test/p", "//t.test/p", "/\\t.test/p", "ht\ttp://t.test/"]
)
def test_remote_image_sources_are_recognized_as_a_browser_reads_them(src):
    assert is_remote(src)


@pytest.mark.parametrize(
    "src", ["cid:logo@x", "data:image/png;base64,AA", "/app/x.png", "logo.png"]
)
def test_local_image_sources_are_not_remote(src):
    assert not is_remote(src)
