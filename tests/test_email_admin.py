"""Setting up an email inbox in the admin: the setup form, write-only secrets, connection
tests, webhook instructions, health, suppressions and the quarantine page."""

from typing import Any

import pytest
from cryptography.fernet import Fernet
from django.contrib.messages import get_messages
from django.test import Client

from heedful.accounts.models import User
from heedful.conversations.services import receive
from heedful.inboxes import secrets
from heedful.inboxes.email.autoreply import maybe_acknowledge
from heedful.inboxes.email.config import EmailSettings
from heedful.inboxes.email.outbound import ack_subject
from heedful.inboxes.models import EmailSuppression, Inbox, MailboxState, RawInbound
from tests.email_support import secrets_key  # noqa: F401 (an autouse fixture)

pytestmark = pytest.mark.django_db

ADD = "/admin/inboxes/inbox/add/?kind=email"


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def change_url(inbox: Inbox) -> str:
    return f"/admin/inboxes/inbox/{inbox.pk}/change/"


def setup_form(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "email_setup": "1",
        "name": "Billing",
        "address": "billing@support.test",
        "aliases": "invoices@support.test\nAccounts@Support.test",
        "reply_to": "",
        "is_active": "on",
        "imap_host": "imap.support.test",
        "imap_port": "993",
        "imap_security": "ssl",
        "imap_username": "billing",
        "imap_auth": "password",
        "imap_password": "hunter2-mailbox",
        "imap_folder": "INBOX",
        "imap_after": "move",
        "imap_move_to": "Archive",
        "imap_verify_tls": "on",
        "imap_idle": "on",
        "imap_poll_seconds": "120",
        "outbound": "smtp",
        "smtp_host": "smtp.support.test",
        "smtp_port": "465",
        "smtp_security": "ssl",
        "smtp_username": "billing",
        "smtp_password": "smtp-pass-77",
        "provider": "postmark",
        "auto_ack": "on",
        "auto_ack_subject": "Got it",
        "auto_ack_text": "Thanks! Your reference is #{number}.",
        "quote_history": "on",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def existing_form(inbox: Inbox, **overrides: Any) -> dict[str, Any]:
    return setup_form(name=inbox.name, address=inbox.address, aliases="", **overrides)


def errors(response: Any) -> str:
    return response.content.decode()


# --- the setup form ----------------------------------------------------------------


def test_the_add_page_for_email_shows_the_setup_form(cast):
    response = login(cast.admin).get(ADD)
    assert response.status_code == 200
    page = response.content.decode()
    for label in ("IMAP host", "After import", "Replies leave through", "Webhook secret"):
        assert label in page
    assert 'name="settings"' not in page


def test_admin_creates_an_email_inbox_through_the_setup_form(cast):
    response = login(cast.admin).post(ADD, setup_form(team=cast.team_a.pk))
    assert response.status_code == 302, errors(response)[:3000]
    inbox = Inbox.objects.get(name="Billing")
    config = EmailSettings.of(inbox)
    assert (inbox.kind, inbox.team, inbox.address) == ("email", cast.team_a, "billing@support.test")
    assert config.aliases == ("invoices@support.test", "Accounts@support.test")
    assert (config.imap.host, config.imap.port, config.imap.after) == (
        "imap.support.test",
        993,
        "move",
    )
    assert (config.imap.move_to, config.imap.poll_seconds) == ("Archive", 120)
    assert inbox.settings["imap"]["verify_tls"] is True
    assert (config.outbound, config.smtp.host, config.smtp.port) == (
        "smtp",
        "smtp.support.test",
        465,
    )
    assert (config.provider, config.auto_ack, config.auto_ack_subject) == (
        "postmark",
        True,
        "Got it",
    )
    assert config.quote_history is True


def test_secrets_are_stored_encrypted_never_in_the_settings(cast):
    login(cast.admin).post(ADD, setup_form())
    inbox = Inbox.objects.get(name="Billing")
    assert secrets.get_secret(inbox, "imap_password") == "hunter2-mailbox"
    assert secrets.get_secret(inbox, "smtp_password") == "smtp-pass-77"
    assert "hunter2" not in inbox.secrets_encrypted
    assert "hunter2" not in str(inbox.settings)
    assert "smtp-pass" not in str(inbox.settings)


def test_a_stored_password_is_never_rendered(cast):
    secrets.set_secrets(cast.email, imap_password="hunter2-mailbox")
    page = login(cast.admin).get(change_url(cast.email)).content.decode()
    assert "hunter2" not in page
    assert "Currently set." in page
    assert "Currently not set." in page  # the others


def test_secrets_under_a_lost_key_can_be_typed_again(cast, settings):
    secrets.set_secrets(cast.email, imap_password="under-the-old-key")
    settings.HEEDFUL_SECRETS_KEY = Fernet.generate_key().decode()
    secrets.reset_cache()
    client = login(cast.admin)
    assert (
        "unreadable (the secrets key is missing)"
        in client.get(change_url(cast.email)).content.decode()
    )
    form = existing_form(cast.email, imap_password="typed-again", smtp_password="")
    assert client.post(change_url(cast.email), form).status_code == 302
    cast.email.refresh_from_db()
    assert secrets.get_secret(cast.email, "imap_password") == "typed-again"


def test_a_blank_password_leaves_the_stored_one(cast):
    secrets.set_secrets(cast.email, imap_password="old-password")
    response = login(cast.admin).post(
        change_url(cast.email), existing_form(cast.email, imap_password="")
    )
    assert response.status_code == 302, errors(response)[:3000]
    cast.email.refresh_from_db()
    assert secrets.get_secret(cast.email, "imap_password") == "old-password"


def test_a_typed_password_replaces_the_stored_one(cast):
    secrets.set_secrets(cast.email, imap_password="old-password", smtp_password="keep-me")
    form = existing_form(cast.email, imap_password="new-password", smtp_password="")
    assert login(cast.admin).post(change_url(cast.email), form).status_code == 302
    cast.email.refresh_from_db()
    assert secrets.get_secret(cast.email, "imap_password") == "new-password"
    assert secrets.get_secret(cast.email, "smtp_password") == "keep-me"


def test_clear_removes_a_secret(cast):
    secrets.set_secrets(cast.email, imap_password="old-password", smtp_password="keep-me")
    form = existing_form(cast.email, imap_password="", smtp_password="", imap_password_clear="on")
    assert login(cast.admin).post(change_url(cast.email), form).status_code == 302
    cast.email.refresh_from_db()
    assert secrets.get_secret(cast.email, "imap_password") == ""
    assert secrets.get_secret(cast.email, "smtp_password") == "keep-me"


def test_typing_and_clearing_at_once_is_a_form_error(cast):
    form = existing_form(cast.email, imap_password="x", imap_password_clear="on")
    response = login(cast.admin).post(change_url(cast.email), form)
    assert response.status_code == 200
    assert "Either type a new value or clear it" in errors(response)


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"aliases": "sales@support.test\nnot an address"}, "not an address"),
        ({"address": "nobody"}, "nobody"),
        ({"imap_port": "70000"}, "less than or equal to 65535"),
        ({"imap_after": "move", "imap_move_to": ""}, "Name the folder"),
        ({"outbound": "smtp", "smtp_host": ""}, "need a host"),
        ({"outbound": "provider", "provider": ""}, "need the provider chosen"),
        ({"imap_username": ""}, "A mailbox needs a username"),
        ({"auto_ack_text": "Ref {ticket}"}, "Only {number} is replaced; {ticket} would be"),
        ({"auto_ack_text": "Ref {number.x}"}, "{number.x} would be sent as it is"),
        ({"auto_ack_text": "Ref {number[0]}"}, "{number[0]} would be sent as it is"),
        ({"auto_ack_subject": "Ref {number:>5}"}, "{number:&gt;5} would be sent as it is"),
        ({"auto_ack_subject": "Got it\r\nBcc: all@else.test"}, "must be one line"),
        ({"auto_ack_subject": "x" * 201}, "at most 200 characters"),
        ({"provider": "pigeonpost"}, "Select a valid choice"),
        (
            {"imap_host": "imap.example.com", "imap_security": "none"},
            "imap.example.com needs TLS or STARTTLS",
        ),
        (
            {"outbound": "smtp", "smtp_host": "smtp.example.com", "smtp_security": "none"},
            "smtp.example.com needs TLS or STARTTLS",
        ),
    ],
)
def test_bad_settings_are_form_errors(cast, overrides: dict[str, str], message: str):
    response = login(cast.admin).post(ADD, setup_form(**overrides))
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Inbox.objects.filter(name="Billing").exists()


def test_acknowledgment_texts_are_sent_as_the_form_says(cast):
    text = "Open {Mon-Fri}, braces {} too. Ref #{number}."
    response = login(cast.admin).post(
        ADD, setup_form(auto_ack_subject="Got it {number}", auto_ack_text=text)
    )
    assert response.status_code == 302, errors(response)[:3000]
    inbox = Inbox.objects.get(name="Billing")
    conversation = receive(cast.inbound(inbox=inbox, text="Hello")).conversation

    ack = maybe_acknowledge(conversation=conversation, message=conversation.messages.get())

    assert ack is not None
    number = conversation.number
    assert ack.body_text == f"Open {{Mon-Fri}}, braces {{}} too. Ref #{number}."
    config = EmailSettings.of(inbox)
    assert ack_subject(config, number) == f"Got it {number} [#{number}]"


def test_the_help_text_says_what_sending_does(cast):
    page = login(cast.admin).get(ADD).content.decode()
    assert "{number} becomes the conversation's reference number; nothing else" in page
    assert "{{" not in page


def test_settings_the_form_does_not_manage_are_kept(cast):
    Inbox.objects.filter(pk=cast.email.pk).update(settings={"sns_subscribe_url": "https://x"})
    cast.email.refresh_from_db()
    assert (
        login(cast.admin).post(change_url(cast.email), existing_form(cast.email)).status_code == 302
    )
    cast.email.refresh_from_db()
    assert cast.email.settings["sns_subscribe_url"] == "https://x"
    assert cast.email.settings["imap"]["host"] == "imap.support.test"


def test_the_generic_add_form_leads_on_to_the_email_setup(cast):
    response = login(cast.admin).post(
        "/admin/inboxes/inbox/add/",
        {"kind": "email", "name": "Sales", "address": "sales@support.test", "settings": "{}"},
    )
    inbox = Inbox.objects.get(name="Sales")
    assert response.status_code == 302
    assert response["Location"] == change_url(inbox)


# --- webhook instructions and secret -------------------------------------------------


def test_the_change_page_shows_the_webhook_url_and_how_to_use_it(cast, settings):
    settings.BASE_URL = "https://desk.example.com"
    Inbox.objects.filter(pk=cast.email.pk).update(settings={"provider": "sendgrid"})
    page = login(cast.admin).get(change_url(cast.email)).content.decode()
    shape = f"https://heedful:WEBHOOK-SECRET@desk.example.com/hooks/email/{cast.email.pk}/sendgrid/"
    assert shape in page
    assert "does not sign its posts" in page
    assert "Generate webhook secret" in page


def test_mailgun_instructions_name_the_signing_key(cast, settings):
    settings.BASE_URL = "https://desk.example.com"
    Inbox.objects.filter(pk=cast.email.pk).update(settings={"provider": "mailgun"})
    page = login(cast.admin).get(change_url(cast.email)).content.decode()
    assert f"https://desk.example.com/hooks/email/{cast.email.pk}/mailgun/mime" in page
    assert "Mailgun signs every post" in page


def test_a_pending_sns_subscription_link_is_shown(cast):
    link = "https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&Token=abc"
    Inbox.objects.filter(pk=cast.email.pk).update(
        settings={"provider": "amazon_ses", "sns_subscribe_url": link}
    )
    page = login(cast.admin).get(change_url(cast.email)).content.decode()
    assert (
        'href="https://sns.eu-west-1.amazonaws.com/?Action=ConfirmSubscription&amp;Token=abc"'
        in page
    )


def generate_secret(client: Client, inbox: Inbox) -> Any:
    response = client.post(f"/admin/inboxes/inbox/{inbox.pk}/webhook-secret/")
    inbox.refresh_from_db()
    return response


def test_generate_webhook_secret_stores_one_and_shows_the_url_once(cast, settings):
    settings.BASE_URL = "https://desk.example.com"
    Inbox.objects.filter(pk=cast.email.pk).update(settings={"provider": "postmark"})
    client = login(cast.admin)
    response = generate_secret(client, cast.email)
    assert response.status_code == 200
    secret = secrets.get_secret(cast.email, "webhook_secret")
    assert len(secret) >= 24
    url = f"https://heedful:{secret}@desk.example.com/hooks/email/{cast.email.pk}/postmark/"
    assert url in response.content.decode()
    assert "no-store" in response["Cache-Control"]
    assert secret not in client.get(change_url(cast.email)).content.decode()


@pytest.mark.parametrize("provider", ["postmark", "mailgun", ""])
def test_a_new_webhook_secret_never_goes_through_the_messages_cookie(cast, provider):
    # That cookie is signed, not encrypted: the browser (and anyone reading it) sees it.
    Inbox.objects.filter(pk=cast.email.pk).update(settings={"provider": provider})
    client = login(cast.admin)
    response = generate_secret(client, cast.email)
    secret = secrets.get_secret(cast.email, "webhook_secret")
    assert secret in response.content.decode()
    assert [str(m) for m in get_messages(response.wsgi_request) if secret in str(m)] == []
    assert secret not in client.get(change_url(cast.email)).content.decode()


# --- connection tests ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("module", "button", "label"),
    [("imap", "test-imap", "IMAP"), ("transport", "test-smtp", "SMTP")],
)
def test_connection_buttons_show_the_result(cast, monkeypatch, module, button, label):
    seen: list[Inbox] = []

    def fake(inbox: Inbox) -> tuple[bool, str]:
        seen.append(inbox)
        return False, "authentication failed: AUTHENTICATIONFAILED"

    monkeypatch.setattr(f"heedful.inboxes.email.{module}.test_connection", fake)
    url = f"/admin/inboxes/inbox/{cast.email.pk}/{button}/"
    response = login(cast.admin).post(url, follow=True)
    assert seen == [cast.email]
    assert f"{label} connection failed: authentication failed" in response.content.decode()


def test_a_working_connection_says_so(cast, monkeypatch):
    monkeypatch.setattr(
        "heedful.inboxes.email.imap.test_connection", lambda inbox: (True, "3 messages in INBOX")
    )
    url = f"/admin/inboxes/inbox/{cast.email.pk}/test-imap/"
    response = login(cast.admin).post(url, follow=True)
    assert "IMAP connection works: 3 messages in INBOX" in response.content.decode()


def test_a_crashing_connection_test_is_reported_not_a_500(cast, monkeypatch):
    def boom(inbox: Inbox) -> tuple[bool, str]:
        raise OSError("connection refused")

    monkeypatch.setattr("heedful.inboxes.email.transport.test_connection", boom)
    url = f"/admin/inboxes/inbox/{cast.email.pk}/test-smtp/"
    response = login(cast.admin).post(url, follow=True)
    assert response.status_code == 200
    assert "SMTP connection failed: OSError: connection refused" in response.content.decode()


def test_connection_tests_need_post(cast):
    response = login(cast.admin).get(f"/admin/inboxes/inbox/{cast.email.pk}/test-imap/")
    assert response.status_code == 405


def test_connection_tests_are_csrf_protected(cast):
    client = Client(enforce_csrf_checks=True)
    client.force_login(cast.admin)
    response = client.post(f"/admin/inboxes/inbox/{cast.email.pk}/test-imap/")
    assert response.status_code == 403


def test_a_non_email_inbox_has_no_connection_test(cast):
    response = login(cast.admin).post(f"/admin/inboxes/inbox/{cast.webform.pk}/test-imap/")
    assert response.status_code == 404


@pytest.mark.parametrize(
    ("who", "button"),
    [
        ("lead_a", "test-imap"),
        ("lead_a", "test-smtp"),
        ("lead_a", "webhook-secret"),
        ("agent_a", "test-imap"),
    ],
)
def test_only_admins_reach_the_buttons(cast, monkeypatch, who, button):
    called: list[Inbox] = []
    monkeypatch.setattr("heedful.inboxes.email.imap.test_connection", called.append)
    monkeypatch.setattr("heedful.inboxes.email.transport.test_connection", called.append)
    response = login(getattr(cast, who)).post(f"/admin/inboxes/inbox/{cast.email.pk}/{button}/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    assert called == []
    cast.email.refresh_from_db()
    assert cast.email.secrets_encrypted == ""


# --- health --------------------------------------------------------------------------


def quarantine(inbox: Inbox, reason: str, payload: bytes = b"Subject: x\n\nbody") -> RawInbound:
    return RawInbound.objects.create(
        inbox=inbox,
        payload=payload,
        content_type="message/rfc822",
        sha256="0" * 64,
        status=RawInbound.Status.QUARANTINED,
        reason=reason,
    )


def test_health_shows_in_the_inbox_list(cast, clock):
    MailboxState.objects.create(
        inbox=cast.email,
        last_fetch_at=clock.now,
        last_success_at=clock.now,
        last_error="LOGIN failed",
        last_error_at=clock.now,
    )
    quarantine(cast.email, "no sender address")
    quarantine(cast.email, "parser failed")
    page = login(cast.admin).get("/admin/inboxes/inbox/").content.decode()
    assert "2025-03-03 09:00 UTC: LOGIN failed" in page  # the admin's zone is UTC
    link = f"?inbox__id__exact={cast.email.pk}&amp;status__exact=quarantined"
    assert f'{link}">2</a>' in page


def test_health_shows_on_the_change_page(cast, clock):
    MailboxState.objects.create(inbox=cast.email, last_error="TLS handshake failed")
    quarantine(cast.email, "no sender address")
    page = login(cast.admin).get(change_url(cast.email)).content.decode()
    assert "TLS handshake failed" in page
    assert f"?inbox__id__exact={cast.email.pk}&amp;status__exact=quarantined" in page
    assert "Test IMAP connection" in page
    assert "Test SMTP connection" in page


def test_the_quarantine_page_shows_the_reason_and_escaped_headers(cast):
    raw = quarantine(
        cast.email,
        "no sender address (From, Sender and Reply-To are all unusable)",
        b"Subject: <script>alert(1)</script>\nX-Odd: \xff\xfe\n\nBODY-NOT-SHOWN",
    )
    page = login(cast.admin).get(f"/admin/inboxes/rawinbound/{raw.pk}/change/").content.decode()
    assert "From, Sender and Reply-To are all unusable" in page
    assert "Subject: &lt;script&gt;alert(1)&lt;/script&gt;" in page
    assert "<script>alert(1)" not in page
    assert "\ufffd" in page
    assert "BODY-NOT-SHOWN" not in page


# --- suppressions ------------------------------------------------------------------


def suppressed(address: str) -> EmailSuppression:
    from django.utils import timezone

    return EmailSuppression.objects.create(
        address=address, hard_bounces=3, suppressed_at=timezone.now(), last_reason="550 no user"
    )


def test_lift_suppression_calls_the_service(cast, monkeypatch):
    row = suppressed("gone@customer.test")
    calls: list[tuple[str, User]] = []

    def lift(*, address: str, actor: User) -> EmailSuppression:
        calls.append((address, actor))
        return row

    monkeypatch.setattr("heedful.inboxes.email.bounces.lift_suppression", lift)
    response = login(cast.admin).post(
        "/admin/inboxes/emailsuppression/",
        {"action": "lift", "_selected_action": [row.pk]},
        follow=True,
    )
    assert calls == [("gone@customer.test", cast.admin)]
    assert "Lifted: gone@customer.test." in response.content.decode()


def test_a_refused_lift_is_reported(cast, monkeypatch):
    from heedful.core.errors import NotFound

    row = suppressed("gone@customer.test")

    def lift(*, address: str, actor: User) -> EmailSuppression:
        raise NotFound(f"{address} is not suppressed.")

    monkeypatch.setattr("heedful.inboxes.email.bounces.lift_suppression", lift)
    response = login(cast.admin).post(
        "/admin/inboxes/emailsuppression/",
        {"action": "lift", "_selected_action": [row.pk]},
        follow=True,
    )
    assert "Not lifted: gone@customer.test: gone@customer.test is not suppressed." in (
        response.content.decode()
    )


def test_the_suppression_filter_shows_only_current_suppressions(cast):
    suppressed("gone@customer.test")
    EmailSuppression.objects.create(address="flaky@customer.test", hard_bounces=1)
    client = login(cast.admin)
    page = client.get("/admin/inboxes/emailsuppression/?state=suppressed").content.decode()
    assert "gone@customer.test" in page
    assert "flaky@customer.test" not in page
    page = client.get("/admin/inboxes/emailsuppression/?state=counting").content.decode()
    assert "flaky@customer.test" in page
    assert "gone@customer.test" not in page


@pytest.mark.parametrize("who", ["lead_a", "agent_a"])
def test_agents_and_leads_get_no_suppression_admin(cast, who):
    response = login(getattr(cast, who)).get("/admin/inboxes/emailsuppression/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
