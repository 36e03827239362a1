"""workspace.views.conversation: the page, its timeline, composers, controls and panel."""

import json
import os
import shutil
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.core.files.base import ContentFile
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from heedful.accounts.models import Notification
from heedful.automation.models import Macro
from heedful.conversations.models import (
    Attachment,
    Conversation,
    DeliveryStatus,
    EventType,
    Message,
    Status,
)
from heedful.conversations.services import assign, note, receive, reply, set_status
from heedful.customers.models import Identity
from heedful.inboxes.models import Inbox
from tests.factories import MessageFactory

pytestmark = pytest.mark.django_db

JSON = {"HTTP_ACCEPT": "application/json"}
HTMX = {"HTTP_HX_REQUEST": "true"}


def page(conversation: Conversation) -> str:
    return reverse("workspace:conversation", args=[conversation.pk])


def url(name: str, conversation: Conversation, *args: object) -> str:
    return reverse(f"workspace:{name}", args=[conversation.pk, *args])


@pytest.fixture
def conversation(cast) -> Conversation:
    return cast.conversation_a(name="Ann Lee", text="My order has not arrived.")


@pytest.fixture
def agent(client, cast):
    client.force_login(cast.agent_a)
    return client


def html(response) -> str:
    return response.content.decode()


# --- access ------------------------------------------------------------------------------


def test_an_agent_of_the_team_sees_the_page(agent, conversation):
    response = agent.get(page(conversation))
    assert response.status_code == 200
    body = html(response)
    assert f'data-conversation-id="{conversation.pk}"' in body
    assert '<div id="presence" aria-live="polite"></div>' in body
    assert 'data-composer="reply"' in body
    assert 'data-composer="note"' in body


def test_an_agent_of_another_team_gets_404(client, cast, conversation):
    client.force_login(cast.agent_b)
    assert client.get(page(conversation)).status_code == 404
    assert client.get(url("timeline", conversation)).status_code == 404
    assert client.get(url("conversation_summary", conversation)).status_code == 404


def test_an_agent_of_another_team_can_post_nothing(client, cast, conversation):
    client.force_login(cast.agent_b)
    for name, data in [
        ("conversation_reply", {"text": "hi"}),
        ("conversation_note", {"text": "hi"}),
        ("conversation_assign", {"agent": "me"}),
        ("conversation_status", {"status": "solved"}),
        ("conversation_priority", {"priority": "3"}),
        ("conversation_tags", {"add": "x"}),
        ("conversation_spam", {"spam": "1"}),
        ("conversation_merge", {"number": "1"}),
    ]:
        assert client.post(url(name, conversation), data, **HTMX).status_code == 404, name
    assert not conversation.messages.filter(direction="out").exists()
    conversation.refresh_from_db()
    assert conversation.status == Status.NEW and conversation.assignee_id is None


def test_anonymous_visitors_are_sent_to_sign_in(client, conversation):
    response = client.get(page(conversation))
    assert response.status_code == 302
    assert response["Location"].startswith("/app/login/?next=")
    assert client.post(url("conversation_reply", conversation), {"text": "x"}).status_code == 302
    assert not conversation.messages.filter(direction="out").exists()


def test_an_admin_sees_every_conversation(client, cast, conversation):
    client.force_login(cast.admin)
    assert client.get(page(conversation)).status_code == 200


def test_a_missing_conversation_is_404(agent):
    assert agent.get("/app/conversations/999999/").status_code == 404


def test_a_merged_conversation_redirects_to_where_it_went(agent, cast, conversation):
    from heedful.conversations.services import merge_conversations

    other = cast.conversation_a(text="Second thread", conversation_hint=None, subject="Another")
    assert other.pk != conversation.pk
    merge_conversations(source=other, target=conversation, actor=cast.agent_a)

    response = agent.get(page(other))

    assert response.status_code == 302
    assert response["Location"] == page(conversation)


# --- the timeline ----------------------------------------------------------------------


def test_the_timeline_labels_messages_notes_and_events(agent, cast, conversation, settings):
    settings.HEEDFUL_UNDO_SECONDS = 0
    assign(conversation=conversation, agent=cast.agent_a, actor=cast.lead_a)
    reply(conversation=conversation, author=cast.agent_a, text="We are on it.")
    note(conversation=conversation, author=cast.agent_a, text="Checked the warehouse.")
    set_status(conversation=conversation, status="solved", actor=cast.agent_a)

    body = html(agent.get(url("timeline", conversation)))

    assert "Customer via Email · one@customer.test" in body
    assert "My order has not arrived." in body
    assert "Reply via Email to one@customer.test" in body
    assert "Internal note" in body and 'class="msg msg-note"' in body
    assert f"{cast.lead_a.display_name} assigned this to {cast.agent_a.display_name}" in body
    assert "changed the status from Open to Solved" in body
    assert "Pending" in body  # the reply's delivery status
    order = [body.index(s) for s in ("has not arrived", "assigned this", "We are on it", "Checked")]
    assert order == sorted(order)


def test_a_failed_delivery_shows_the_error(agent, cast, conversation):
    message = reply(conversation=conversation, author=cast.agent_a, text="Hello")
    Message.objects.filter(pk=message.pk).update(
        delivery_status=DeliveryStatus.FAILED, delivery_error="550 no such user"
    )
    body = html(agent.get(page(conversation)))
    assert "Not delivered: 550 no such user" in body


def test_a_withdrawn_reply_is_not_shown(agent, cast, conversation):
    message = reply(conversation=conversation, author=cast.agent_a, text="Wrong customer text")
    Message.objects.filter(pk=message.pk).update(delivery_status=DeliveryStatus.CANCELLED)
    from heedful.conversations.services.events import record_event

    record_event(
        conversation=conversation,
        type=EventType.REPLY_UNDONE,
        actor=cast.agent_a,
        data={"message_id": message.pk},
    )
    body = html(agent.get(page(conversation)))
    assert "Wrong customer text" not in body
    assert "withdrew a reply" in body


def test_text_is_shown_inline_and_plain_text_is_escaped(agent, cast, conversation):
    # Stored HTML is shown only in the sealed formatted view (test_workspace_email).
    MessageFactory(conversation=conversation, body_text="x", body_html="<p><b>bold</b> words</p>")
    MessageFactory(conversation=conversation, body_text="<script>alert(1)</script>\nline two")
    body = html(agent.get(url("timeline", conversation)))
    assert "<p><b>bold</b> words</p>" not in body
    assert "&lt;script&gt;alert(1)&lt;/script&gt;<br>line two" in body


def test_times_are_shown_in_the_viewers_time_zone(client, cast, clock):
    cast.agent_a.time_zone = "America/New_York"
    cast.agent_a.save()
    conversation = cast.conversation_a()  # 09:00 UTC = 04:00 in New York
    client.force_login(cast.agent_a)
    body = html(client.get(url("timeline", conversation)))
    assert "Mar 3, 04:00" in body


def test_attachments_link_to_the_guarded_download(agent, cast, conversation):
    message = conversation.messages.get()
    attachment = Attachment.objects.create(
        message=message,
        file=ContentFile(b"%PDF-1.4", name="invoice.pdf"),
        filename="invoice.pdf",
        size=2048,
        sha256="0" * 64,
    )
    body = html(agent.get(page(conversation)))
    assert reverse("workspace:attachment", args=[attachment.pk]) in body
    assert "invoice.pdf" in body and "2.0\xa0KB" in body


def _fill(conversation: Conversation, cast, count: int) -> None:
    identity = Identity.objects.get(address="one@customer.test")
    for i in range(count):
        kind = i % 3
        message = MessageFactory(
            conversation=conversation,
            direction="in" if kind == 0 else "out",
            is_note=kind == 2,
            author_type="customer" if kind == 0 else "agent",
            author_agent=None if kind == 0 else cast.agent_a,
            sender_identity=identity if kind == 0 else None,
            recipient_identity=identity if kind == 1 else None,
            delivery_status="sent" if kind == 1 else "",
            body_text=f"message {i}",
        )
        if i % 5 == 0:
            Attachment.objects.create(
                message=message,
                file=ContentFile(b"x", name=f"f{i}.txt"),
                filename=f"f{i}.txt",
                size=1,
                sha256="0" * 64,
            )


def _count_queries(client, path: str) -> int:
    with CaptureQueriesContext(connection) as queries:
        assert client.get(path).status_code == 200
    return len(queries)


def test_the_page_costs_the_same_queries_for_3_or_50_messages(agent, cast):
    small = cast.conversation_a(subject="Small")
    large = cast.conversation_a(subject="Large", address="big@customer.test")
    _fill(small, cast, 3)
    _fill(large, cast, 50)
    assign(conversation=large, agent=cast.agent_a, actor=cast.lead_a)
    assign(conversation=small, agent=cast.agent_a, actor=cast.lead_a)

    small_count = _count_queries(agent, page(small))
    large_count = _count_queries(agent, page(large))

    assert small_count == large_count
    assert large_count <= 30
    assert _count_queries(agent, url("timeline", small)) == _count_queries(
        agent, url("timeline", large)
    )


# --- reply ---------------------------------------------------------------------------------


def test_replying_by_json_answers_with_the_undo_url(agent, cast, conversation, settings):
    settings.HEEDFUL_UNDO_SECONDS = 5
    response = agent.post(url("conversation_reply", conversation), {"text": "On its way."}, **JSON)

    assert response.status_code == 201
    data = response.json()
    message = Message.objects.get(pk=data["message_id"])
    assert message.body_text == "On its way." and message.author_agent == cast.agent_a
    assert data["undo_seconds"] == 5
    assert data["undo_url"] == url("undo_reply", conversation, message.pk)


def test_replying_by_a_plain_form_redirects_with_a_message(agent, conversation):
    response = agent.post(url("conversation_reply", conversation), {"text": "On its way."})
    assert response.status_code == 302 and response["Location"] == page(conversation)
    assert "Reply sent." in html(agent.get(page(conversation)))


def test_an_empty_reply_is_a_400_with_the_reason(agent, conversation):
    response = agent.post(url("conversation_reply", conversation), {"text": "  "}, **JSON)
    assert response.status_code == 400
    assert response.json()["error"] == "A reply needs some text."


def test_an_empty_reply_by_form_shows_the_reason(agent, conversation):
    response = agent.post(url("conversation_reply", conversation), {"text": ""}, follow=True)
    assert response.status_code == 200
    assert "A reply needs some text." in html(response)


def test_a_closed_conversation_refuses_a_reply_without_a_500(agent, cast, conversation):
    set_status(conversation=conversation, status="closed", actor=cast.agent_a)
    response = agent.post(url("conversation_reply", conversation), {"text": "Hi"}, **HTMX)
    assert response.status_code == 400
    assert "closed" in response.json()["error"]


def test_a_reply_can_go_out_on_another_identity(agent, cast, conversation):
    Inbox.objects.create(kind="sms", name="SMS line", address="+14155550000")
    phone = Identity.objects.create(
        customer=conversation.customer, kind="phone", address="+14155550100"
    )

    body = html(agent.get(page(conversation)))
    assert "Reply via" in body and "+14155550100" in body
    email = Identity.objects.get(address="one@customer.test")
    assert f'<option value="{email.pk}" selected>' in body  # the default recipient

    response = agent.post(
        url("conversation_reply", conversation),
        {"text": "Texting you", "via_identity": str(phone.pk)},
        **JSON,
    )
    assert response.status_code == 201
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.recipient_identity == phone
    assert message.inbox.kind == "sms"
    assert "Reply via SMS to +14155550100" in html(agent.get(url("timeline", conversation)))


def test_a_reply_to_someone_elses_identity_is_refused(agent, cast, conversation):
    stranger = cast.conversation_b()
    identity = Identity.objects.get(customer=stranger.customer)
    response = agent.post(
        url("conversation_reply", conversation),
        {"text": "Hi", "via_identity": str(identity.pk)},
        **JSON,
    )
    assert response.status_code == 400
    assert "does not take part" in response.json()["error"]


# --- undo ------------------------------------------------------------------------------------


def test_undo_gives_the_text_back(agent, cast, conversation, settings):
    settings.HEEDFUL_UNDO_SECONDS = 5
    sent = agent.post(url("conversation_reply", conversation), {"text": "Oops"}, **JSON).json()

    response = agent.post(sent["undo_url"], **JSON)

    assert response.status_code == 200
    assert response.json() == {"ok": True, "text": "Oops"}
    message = Message.objects.get(pk=sent["message_id"])
    assert message.delivery_status == DeliveryStatus.CANCELLED
    assert "Oops" not in html(agent.get(url("timeline", conversation)))


def test_undo_by_another_agent_is_refused(client, cast, conversation, settings):
    settings.HEEDFUL_UNDO_SECONDS = 5
    message = reply(conversation=conversation, author=cast.agent_a, text="Mine")
    client.force_login(cast.lead_a)

    response = client.post(url("undo_reply", conversation, message.pk), **JSON)

    assert response.status_code == 403
    assert "Only the agent who wrote" in response.json()["error"]
    message.refresh_from_db()
    assert message.delivery_status == DeliveryStatus.PENDING


def test_undo_after_the_window_is_a_409(agent, cast, conversation, settings, clock):
    settings.HEEDFUL_UNDO_SECONDS = 5
    message = reply(conversation=conversation, author=cast.agent_a, text="Mine")
    clock.advance(seconds=6)

    response = agent.post(url("undo_reply", conversation, message.pk), **JSON)

    assert response.status_code == 409
    assert "Too late" in response.json()["error"]


def test_undo_of_a_message_of_another_conversation_is_404(agent, cast, conversation, settings):
    settings.HEEDFUL_UNDO_SECONDS = 5
    other = cast.conversation_a(subject="Other", address="three@customer.test")
    message = reply(conversation=other, author=cast.agent_a, text="Mine")
    response = agent.post(url("undo_reply", conversation, message.pk), **JSON)
    assert response.status_code == 404


def test_undo_by_a_plain_form_redirects_to_the_composer(agent, cast, conversation, settings):
    settings.HEEDFUL_UNDO_SECONDS = 5
    message = reply(conversation=conversation, author=cast.agent_a, text="Mine")
    response = agent.post(url("undo_reply", conversation, message.pk))
    assert response.status_code == 302 and response["Location"].endswith("#reply")


# --- notes and mentions ------------------------------------------------------------------


def test_a_note_with_a_mention_notifies_only_who_can_see(agent, cast, conversation):
    body = html(agent.get(page(conversation)))
    agents = json.loads(body.split('id="mention-agents" type="application/json">')[1].split("<")[0])
    assert {"id": cast.lead_a.pk, "name": cast.lead_a.display_name, "handle": "lead.a"} in agents
    assert cast.agent_b.pk not in [a["id"] for a in agents]

    response = agent.post(
        url("conversation_note", conversation), {"text": "@lead.a and @agent.b: look"}, **JSON
    )

    assert response.status_code == 201
    assert Notification.objects.filter(user=cast.lead_a, kind="mention").count() == 1
    assert not Notification.objects.filter(user=cast.agent_b).exists()
    message = Message.objects.get(pk=response.json()["message_id"])
    assert message.is_note


def test_an_empty_note_is_refused(agent, conversation):
    response = agent.post(url("conversation_note", conversation), {"text": ""}, **JSON)
    assert response.status_code == 400
    assert response.json()["error"] == "A note needs some text."


# --- macros ------------------------------------------------------------------------------


def test_a_macro_is_rendered_for_this_customer_and_agent(agent, cast, conversation):
    macro = Macro.objects.create(
        name="Shipping", body="Hi {{ customer.first_name }}, {{ agent.name }} here."
    )
    body = html(agent.get(page(conversation)))
    assert "Shipping" in body and url("conversation_macro", conversation, macro.pk) in body

    response = agent.get(url("conversation_macro", conversation, macro.pk))

    assert response.status_code == 200
    assert response.json()["text"] == f"Hi Ann, {cast.agent_a.display_name} here."


def test_another_teams_macro_is_not_offered(agent, cast, conversation):
    macro = Macro.objects.create(name="B only", body="secret", team=cast.team_b)
    assert "B only" not in html(agent.get(page(conversation)))
    assert agent.get(url("conversation_macro", conversation, macro.pk)).status_code == 404


def test_an_inactive_macro_is_not_offered(agent, conversation):
    macro = Macro.objects.create(name="Old", body="old", is_active=False)
    assert agent.get(url("conversation_macro", conversation, macro.pk)).status_code == 404


# --- controls ----------------------------------------------------------------------------


def test_assign_to_me(agent, cast, conversation):
    response = agent.post(
        url("conversation_assign", conversation), {"agent": "me", "expected": ""}, **HTMX
    )
    assert response.status_code == 204
    trigger = json.loads(response["HX-Trigger"])
    assert trigger == {"heedful:conversation-changed": {"conversation_id": conversation.pk}}
    conversation.refresh_from_db()
    assert conversation.assignee == cast.agent_a


def test_an_agent_cannot_assign_to_a_colleague(agent, cast, conversation):
    response = agent.post(
        url("conversation_assign", conversation), {"agent": str(cast.lead_a.pk)}, **HTMX
    )
    assert response.status_code == 403
    assert response.json()["error"] == "Your role does not allow this."


def test_a_refused_assignment_by_form_shows_the_message(agent, cast, conversation):
    response = agent.post(
        url("conversation_assign", conversation), {"agent": str(cast.lead_a.pk)}, follow=True
    )
    assert response.status_code == 200
    assert "Your role does not allow this." in html(response)


def test_a_stale_assignment_is_a_conflict_naming_the_holder(client, cast, conversation):
    assign(conversation=conversation, agent=cast.lead_a, actor=cast.lead_a)
    client.force_login(cast.admin)
    response = client.post(
        url("conversation_assign", conversation),
        {"agent": str(cast.agent_a.pk), "expected": ""},
        **HTMX,
    )
    assert response.status_code == 409
    assert cast.lead_a.display_name in response.json()["error"]


def test_a_lead_assigns_to_an_agent_who_is_notified(client, cast, conversation):
    client.force_login(cast.lead_a)
    body = html(client.get(page(conversation)))
    assert 'id="assign-agent"' in body
    response = client.post(
        url("conversation_assign", conversation), {"agent": str(cast.agent_a.pk)}, **HTMX
    )
    assert response.status_code == 204
    assert Notification.objects.filter(user=cast.agent_a, kind="assigned").count() == 1


def test_unassign(agent, cast, conversation):
    assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    response = agent.post(url("conversation_assign", conversation), {"agent": ""})
    assert response.status_code == 302
    conversation.refresh_from_db()
    assert conversation.assignee is None


def test_set_status(agent, conversation):
    response = agent.post(url("conversation_status", conversation), {"status": "solved"}, **HTMX)
    assert response.status_code == 204
    conversation.refresh_from_db()
    assert conversation.status == Status.SOLVED


def test_an_impossible_status_is_a_400(agent, cast, conversation):
    set_status(conversation=conversation, status="closed", actor=cast.agent_a)
    response = agent.post(url("conversation_status", conversation), {"status": "open"}, **HTMX)
    assert response.status_code == 400
    assert "cannot become" in response.json()["error"]
    response = agent.post(url("conversation_status", conversation), {"status": "bogus"}, **HTMX)
    assert response.status_code == 400


def test_set_priority(agent, conversation):
    response = agent.post(url("conversation_priority", conversation), {"priority": "3"}, **HTMX)
    assert response.status_code == 204
    conversation.refresh_from_db()
    assert conversation.priority == 3


def test_a_bad_priority_is_a_400(agent, conversation):
    for value in ("9", "high", ""):
        response = agent.post(
            url("conversation_priority", conversation), {"priority": value}, **HTMX
        )
        assert response.status_code == 400, value


def test_tags_are_added_and_removed(agent, conversation):
    agent.post(url("conversation_tags", conversation), {"add": "Refund, vip"}, **HTMX)
    assert sorted(conversation.tags.values_list("name", flat=True)) == ["refund", "vip"]
    body = html(agent.get(url("conversation_summary", conversation)))
    assert 'value="refund"' in body

    response = agent.post(url("conversation_tags", conversation), {"remove": "vip"}, **HTMX)

    assert response.status_code == 204
    assert list(conversation.tags.values_list("name", flat=True)) == ["refund"]


def test_a_too_long_tag_or_nothing_is_a_400(agent, conversation):
    response = agent.post(url("conversation_tags", conversation), {"add": "x" * 60}, **HTMX)
    assert response.status_code == 400
    response = agent.post(url("conversation_tags", conversation), {"add": " "}, **HTMX)
    assert response.status_code == 400


def test_mark_spam_and_back(agent, conversation):
    agent.post(url("conversation_spam", conversation), {"spam": "1"}, **HTMX)
    conversation.refresh_from_db()
    assert conversation.is_spam
    assert "Not spam" in html(agent.get(page(conversation)))
    agent.post(url("conversation_spam", conversation), {"spam": "0"}, **HTMX)
    conversation.refresh_from_db()
    assert not conversation.is_spam


def test_a_deactivated_agent_cannot_mark_spam(client, cast, conversation):
    client.force_login(cast.agent_a)
    cast.agent_a.is_active = False
    cast.agent_a.save()
    response = client.post(url("conversation_spam", conversation), {"spam": "1"}, **HTMX)
    assert response.status_code in (302, 403, 404)
    conversation.refresh_from_db()
    assert not conversation.is_spam


# --- merge -------------------------------------------------------------------------------


@pytest.fixture
def target(cast, conversation) -> Conversation:
    return cast.conversation_a(subject="Older thread", address="one@customer.test", text="Earlier")


def test_merge_asks_for_confirmation_naming_both(agent, conversation, target):
    assert target.pk != conversation.pk
    response = agent.post(
        url("conversation_merge", conversation), {"number": f"#{target.number}"}, **HTMX
    )
    assert response.status_code == 200
    body = html(response)
    assert f"#{conversation.number}" in body and f"#{target.number}" in body
    assert "Older thread" in body and 'name="confirm" value="yes"' in body
    conversation.refresh_from_db()
    assert conversation.merged_into_id is None


def test_merge_confirmed_moves_everything_and_goes_there(agent, conversation, target):
    response = agent.post(
        url("conversation_merge", conversation),
        {"number": str(target.number), "confirm": "yes"},
        **HTMX,
    )
    assert response.status_code == 204
    assert response["HX-Redirect"] == page(target)
    conversation.refresh_from_db()
    assert conversation.merged_into == target
    assert target.messages.count() == 2


def test_merge_by_plain_form_shows_a_confirmation_page(agent, conversation, target):
    response = agent.post(url("conversation_merge", conversation), {"number": str(target.number)})
    assert response.status_code == 200
    assert "Merge #" in html(response)
    response = agent.post(
        url("conversation_merge", conversation), {"number": str(target.number), "confirm": "yes"}
    )
    assert response.status_code == 302 and response["Location"] == page(target)


def test_merge_into_an_unknown_or_invisible_number_is_refused(agent, cast, conversation):
    hidden = cast.conversation_b()
    for number in ("999999", str(hidden.number)):
        response = agent.post(url("conversation_merge", conversation), {"number": number}, **HTMX)
        assert response.status_code == 404
        assert "no conversation" in response.json()["error"]


def test_merge_into_itself_or_nonsense_is_a_400(agent, conversation):
    for number in (str(conversation.number), "abc", ""):
        response = agent.post(url("conversation_merge", conversation), {"number": number}, **HTMX)
        assert response.status_code == 400, number


# --- the customer panel --------------------------------------------------------------------


def test_the_panel_shows_the_customer_and_their_other_conversations(agent, cast, conversation):
    customer = conversation.customer
    customer.notes = "Prefers short answers."
    customer.language = "en"
    customer.time_zone = "Europe/Paris"
    customer.preferred_channel = "email"
    customer.save()
    Identity.objects.create(customer=customer, kind="phone", address="+14155550100", verified=True)
    older = cast.conversation_a(subject="Old question", text="Old", conversation_hint=None)
    hidden = receive(cast.inbound(inbox=cast.inbox_b, subject="Team B secret")).conversation
    assert hidden.customer_id == customer.pk

    body = html(agent.get(page(conversation)))

    assert "Ann Lee" in body and "+14155550100" in body and "✓ verified" in body
    assert "Prefers short answers." in body and "Europe/Paris" in body
    assert reverse("workspace:customer", args=[customer.pk]) in body
    assert f"#{older.number} Old question" in body
    assert "Team B secret" not in body
    assert "See all on the profile" in body


def test_recent_messages_on_other_channels_are_at_the_top(agent, cast, conversation):
    other = receive(
        cast.inbound(inbox=cast.webform, text="I also filled in the form about this")
    ).conversation
    assert other.customer_id == conversation.customer_id

    body = html(agent.get(page(conversation)))

    assert "Recently on other channels" in body
    assert "I also filled in the form about this" in body
    assert body.index("Recently on other channels") < body.index("customer-card")
    assert reverse("workspace:conversation", args=[other.pk]) in body


def test_nothing_recent_elsewhere_shows_no_box(agent, conversation):
    assert "Recently on other channels" not in html(agent.get(page(conversation)))


def test_old_messages_elsewhere_are_not_recent(clock, agent, cast):
    receive(cast.inbound(inbox=cast.webform, text="Long ago"))
    clock.advance(days=8)
    fresh = cast.conversation_a(subject="Now", text="Now")
    body = html(agent.get(page(fresh)))
    assert "Long ago" not in body.split("customer-card")[0]
    assert "Recently on other channels" not in body


# --- in a real browser -------------------------------------------------------------------

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(os.environ.get("HEEDFUL_SCREENSHOTS", "var/screenshots"))


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")
def test_macro_reply_undo_and_mention_in_the_browser(
    migrated_rows, cast, live_server, client, monkeypatch, settings
):
    from playwright.sync_api import sync_playwright

    settings.HEEDFUL_UNDO_SECONDS = 60  # generous: the browser must not race the window
    monkeypatch.setenv("DJANGO_ALLOW_ASYNC_UNSAFE", "true")
    conversation = cast.conversation_a(name="Ann Lee", text="My parcel is late.")
    receive(cast.inbound(inbox=cast.webform, text="Also asked on the form"))
    Macro.objects.create(name="Delay", body="Hi {{ customer.first_name }}, sorry for the wait.")
    client.force_login(cast.agent_a)
    cookie = client.cookies[django_settings.SESSION_COOKIE_NAME].value
    SHOTS.mkdir(parents=True, exist_ok=True)
    with sync_playwright() as p:
        browser = p.chromium.launch(
            executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"]
        )
        context = browser.new_context(viewport={"width": 1280, "height": 850})
        context.add_cookies(
            [{"name": django_settings.SESSION_COOKIE_NAME, "value": cookie, "url": live_server.url}]
        )
        tab = context.new_page()
        errors: list[str] = []
        tab.on("pageerror", lambda e: errors.append(str(e)))
        tab.goto(f"{live_server.url}{page(conversation)}#reply")
        assert tab.evaluate("document.activeElement.id") == "reply-text"
        assert "Recently on other channels" in tab.inner_text("#customer-panel")
        tab.screenshot(path=str(SHOTS / "conversation.png"))

        tab.select_option("#macro-picker", label="Delay")
        tab.wait_for_function("document.getElementById('reply-text').value.includes('Hi Ann')")
        tab.keyboard.press("Control+Enter")
        tab.wait_for_selector("[data-undo-bar]:not([hidden])")
        tab.wait_for_function("document.getElementById('timeline').innerText.includes('Hi Ann')")
        tab.click("[data-undo]")
        tab.wait_for_function("document.getElementById('reply-text').value.includes('Hi Ann')")
        tab.wait_for_function("!document.getElementById('timeline').innerText.includes('Hi Ann')")
        assert conversation.messages.get(direction="out").delivery_status == "cancelled"

        tab.keyboard.press("Escape")  # leave the composer so the page's keys work
        tab.keyboard.press("n")
        assert tab.evaluate("document.activeElement.id") == "note-text"
        tab.keyboard.type("Please look @lead")
        tab.wait_for_selector("#mention-list:not([hidden])")
        tab.keyboard.press("Enter")
        assert tab.input_value("#note-text") == "Please look @lead.a "
        tab.keyboard.press("Control+Enter")
        tab.wait_for_function("document.getElementById('timeline').innerText.includes('@lead.a')")
        browser.close()
    assert errors == []
    assert Notification.objects.filter(user=cast.lead_a, kind="mention").count() == 1


def test_a_busy_thread_elsewhere_does_not_hide_a_quieter_one(clock, cast, conversation):
    from heedful.conversations.models import Message
    from heedful.customers.history import recent_elsewhere

    quiet = receive(cast.inbound(inbox=cast.webform, text="Form: about my refund")).conversation
    clock.advance(seconds=60)
    busy = receive(cast.inbound(inbox=cast.webform, text="Form: second thing")).conversation
    first = busy.messages.get()
    for n in range(25):
        clock.advance(seconds=1)
        Message.objects.create(
            conversation=busy,
            inbox=busy.inbox,
            direction=first.direction,
            author_type=first.author_type,
            sender_identity=first.sender_identity,
            body_text=f"and another thing {n}",
            created_at=clock.now,
        )

    shown = recent_elsewhere(conversation, cast.admin)

    assert [m.conversation_id for m in shown] == [busy.pk, quiet.pk]
    assert shown[0].body_text == "and another thing 24"


def test_a_long_thread_shows_its_latest_messages_and_offers_the_rest(
    clock, agent, cast, conversation, monkeypatch
):
    from heedful.conversations.services import note
    from heedful.workspace.views import conversation as view

    monkeypatch.setattr(view, "TIMELINE_LIMIT", 3)
    for n in range(4):
        clock.advance(seconds=1)
        note(conversation=conversation, author=cast.agent_a, text=f"Step {n}")

    body = html(agent.get(page(conversation)))
    assert "Show 2 earlier messages" in body
    assert "Step 3" in body and "Step 1" in body
    assert "Step 0" not in body and "My order has not arrived." not in body

    everything = html(agent.get(page(conversation), {"all": "1"}))
    assert "earlier message" not in everything
    assert "Step 0" in everything and "My order has not arrived." in everything
    assert (
        'data-timeline-url="' + reverse("workspace:timeline", args=[conversation.pk]) + '?all=1"'
        in everything
    )
