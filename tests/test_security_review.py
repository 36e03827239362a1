"""Security review of the agent workspace (issue 3): regression tests.

The first groups are the review's findings, fixed; the guards pin properties the
review checked and found sound.
"""

import django_ratelimit.core
import pytest
from django.test import Client
from django.urls import reverse

from heedful.automation.models import Macro
from heedful.conversations.models import Conversation
from heedful.conversations.services import reply
from heedful.customers.models import Identity

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the factories' password
# "²".isdigit() is True but int("²") raises ValueError: every `x.isdigit()` guard
# followed by `int(x)` turns this into a 500.
SUPERSCRIPT_TWO = "\u00b2"


@pytest.fixture
def agent(cast) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(cast.agent_a)
    return client


@pytest.fixture
def lead(cast) -> Client:
    client = Client(raise_request_exception=False)
    client.force_login(cast.lead_a)
    return client


# --- ids in parameters: Unicode digits were 500s (core.parsing.parse_id) -----------------


def test_customer_list_before_cursor_with_a_unicode_digit_is_not_a_500(agent):
    response = agent.get(reverse("workspace:customers"), {"before": SUPERSCRIPT_TWO})
    assert response.status_code < 500


def test_notification_list_before_cursor_with_a_unicode_digit_is_not_a_500(agent):
    response = agent.get(reverse("workspace:notifications"), {"before": SUPERSCRIPT_TWO})
    assert response.status_code < 500


def test_merge_number_with_a_unicode_digit_is_not_a_500(cast, agent):
    conversation = cast.conversation_a()
    url = reverse("workspace:conversation_merge", args=[conversation.pk])
    response = agent.post(url, {"number": SUPERSCRIPT_TWO}, HTTP_HX_REQUEST="true")
    assert response.status_code < 500


def test_reply_via_identity_with_a_unicode_digit_is_not_a_500(cast, agent):
    conversation = cast.conversation_a()
    url = reverse("workspace:conversation_reply", args=[conversation.pk])
    response = agent.post(
        url, {"text": "hi", "via_identity": SUPERSCRIPT_TWO}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code < 500


def test_bulk_ids_with_a_unicode_digit_are_not_a_500(cast, agent):
    cast.conversation_a()
    response = agent.post(
        reverse("workspace:bulk"),
        {"action": "assign_me", "ids": SUPERSCRIPT_TWO},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code < 500


def test_bulk_agent_with_a_unicode_digit_is_not_a_500(cast, lead):
    conversation = cast.conversation_a()
    response = lead.post(
        reverse("workspace:bulk"),
        {"action": "assign", "ids": str(conversation.pk), "agent": SUPERSCRIPT_TWO},
        HTTP_ACCEPT="application/json",
    )
    assert response.status_code < 500


# --- the sign-in throttle keys on the spelling that is authenticated ---------------------
# AuthenticationForm's UsernameField NFKC-normalizes; the throttle key must too, or
# full-width letters give fresh windows for the same account.


def test_unicode_spellings_of_one_email_share_one_sign_in_throttle(cast, settings, monkeypatch):
    class Frozen:
        now = 1_750_000_000.0

        def time(self) -> float:
            return self.now

    monkeypatch.setattr(django_ratelimit.core, "time", Frozen())
    settings.HEEDFUL_LOGIN_RATE = "3/m"
    settings.HEEDFUL_LOGIN_IP_RATE = "1000/m"
    client = Client()
    email = "agent.a@heedful.test"
    # Each spelling NFKC-normalizes to the same account: replace one letter by its
    # full-width form (U+FF41.. for a..z).
    spellings = [
        email[:i] + chr(ord(email[i]) - ord("a") + 0xFF41) + email[i + 1 :] for i in (0, 1, 2, 3, 4)
    ]
    for spelling in spellings[:3]:
        client.post(
            "/app/login/", {"username": spelling, "password": "guess"}, REMOTE_ADDR="10.9.9.9"
        )

    # The fourth guess against the same account from the same address must wait,
    # however the email is spelled.
    response = client.post(
        "/app/login/", {"username": spellings[3], "password": PASSWORD}, REMOTE_ADDR="10.9.9.9"
    )
    assert response.status_code == 429
    assert client.session.get("_auth_user_id") is None


# --- remote images in customer HTML do not load when an agent opens the page ------------
# A tracking pixel would tell its sender each agent's IP, browser and reading time; the
# workspace's Content-Security-Policy (core.headers) refuses remote images.


def test_remote_images_in_customer_html_do_not_load_when_the_page_opens(cast, agent):
    pixel = "https://tracker.evil.test/p.gif?c=1"
    conversation = cast.conversation_a(html=f'<p>Hello</p><img src="{pixel}" alt="">')
    response = agent.get(reverse("workspace:conversation", args=[conversation.pk]))
    assert response.status_code == 200
    body = response.content.decode()
    csp = response.get("Content-Security-Policy", "")
    blocked_by_csp = (
        "img-src" in csp
        and "tracker.evil.test" not in csp
        and "https:" not in csp.split("img-src", 1)[1].split(";")[0]
    )
    assert blocked_by_csp or f'src="{pixel}"' not in body.replace("&amp;", "&")


# --- guards: properties verified sound --------------------------------------------------


def test_guard_script_in_customer_html_is_removed(cast, agent):
    conversation = cast.conversation_a(
        html='<p onclick="x()">Hi</p><script>alert(1)</script><a href="javascript:alert(2)">l</a>'
        '<img src=x onerror=alert(3)><div hx-get="/app/" hx-trigger="load">h</div>'
    )
    body = agent.get(reverse("workspace:conversation", args=[conversation.pk])).content.decode()
    for bad in ("<script>alert", "onclick", "javascript:", "onerror", 'hx-get="/app/"'):
        assert bad not in body


def test_guard_customer_name_and_subject_are_escaped(cast, agent):
    conversation = cast.conversation_a(name="<img src=x onerror=alert(1)>", subject="<b>s</b>")
    body = agent.get(reverse("workspace:conversation", args=[conversation.pk])).content.decode()
    assert "<img src=x onerror" not in body and "<b>s</b>" not in body
    listing = agent.get(reverse("workspace:conversations")).content.decode()
    assert "<img src=x onerror" not in listing and "<b>s</b>" not in listing


def test_guard_team_b_cannot_reach_a_team_a_conversation_by_any_endpoint(cast):
    conversation = cast.conversation_a()
    client = Client()
    client.force_login(cast.agent_b)
    pk = conversation.pk
    for name in ("conversation", "timeline", "conversation_summary"):
        assert client.get(reverse(f"workspace:{name}", args=[pk])).status_code == 404
    for name, data in (
        ("conversation_reply", {"text": "x"}),
        ("conversation_note", {"text": "x"}),
        ("conversation_assign", {"agent": "me"}),
        ("conversation_status", {"status": "solved"}),
        ("conversation_priority", {"priority": "3"}),
        ("conversation_tags", {"add": "x"}),
        ("conversation_spam", {"spam": "1"}),
        ("conversation_merge", {"number": "1"}),
    ):
        assert client.post(reverse(f"workspace:{name}", args=[pk]), data).status_code == 404
    answer = client.post(
        reverse("workspace:bulk"),
        {"action": "assign_me", "ids": str(pk)},
        HTTP_ACCEPT="application/json",
    ).json()
    assert answer["updated"] == 0
    conversation.refresh_from_db()
    assert conversation.assignee_id is None and conversation.message_count == 1


def test_guard_merge_into_a_hidden_conversation_says_nothing_about_it(cast):
    mine = cast.conversation_b()
    hidden = cast.conversation_a(subject="Secret subject")
    client = Client()
    client.force_login(cast.agent_b)
    url = reverse("workspace:conversation_merge", args=[mine.pk])
    response = client.post(url, {"number": str(hidden.number)}, HTTP_HX_REQUEST="true")
    assert response.status_code == 404
    assert "Secret subject" not in response.content.decode()
    missing = client.post(url, {"number": "987654"}, HTTP_HX_REQUEST="true")
    assert response.json()["error"].replace(str(hidden.number), "N") == missing.json()[
        "error"
    ].replace("987654", "N")


def test_guard_undo_of_a_message_from_another_conversation_is_refused(cast, agent, settings):
    settings.HEEDFUL_UNDO_SECONDS = 30
    first = cast.conversation_a()
    other = cast.conversation_a(address="three@customer.test")
    message = reply(conversation=other, author=cast.agent_a, text="hello")
    url = reverse("workspace:undo_reply", args=[first.pk, message.pk])
    assert agent.post(url, HTTP_ACCEPT="application/json").status_code == 404


def test_guard_another_teams_macro_is_not_usable(cast, agent):
    conversation = cast.conversation_a()
    macro = Macro.objects.create(name="B only", body="secret {{ customer.name }}", team=cast.team_b)
    url = reverse("workspace:conversation_macro", args=[conversation.pk, macro.pk])
    assert agent.get(url).status_code == 404


def test_guard_reply_via_another_customers_identity_is_refused(cast, agent):
    conversation = cast.conversation_a()
    cast.conversation_b()
    foreign = Identity.objects.get(address="two@customer.test")
    url = reverse("workspace:conversation_reply", args=[conversation.pk])
    response = agent.post(
        url, {"text": "hi", "via_identity": str(foreign.pk)}, HTTP_HX_REQUEST="true"
    )
    assert response.status_code == 400
    assert (
        not Conversation.objects.get(pk=conversation.pk)
        .messages.filter(recipient_identity=foreign)
        .exists()
    )


def test_guard_customer_panel_and_profile_hide_other_teams_conversations(cast, agent):
    mine = cast.conversation_a(subject="Mine here")
    theirs = cast.conversation_a(inbox=cast.inbox_b, subject="Team B secret")
    assert theirs.customer_id == mine.customer_id
    page = agent.get(reverse("workspace:conversation", args=[mine.pk])).content.decode()
    profile = agent.get(reverse("workspace:customer", args=[mine.customer_id])).content.decode()
    assert "Team B secret" not in page and "Team B secret" not in profile
