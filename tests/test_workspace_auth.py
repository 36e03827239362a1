"""Sign-in, sign-out, throttling and password reset for agents."""

import re

import django_ratelimit.core
import pytest
from django.core import mail

from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

PASSWORD = "correct horse battery"  # the factories' password
LOGIN = "/app/login/"


def sign_in(client, email, password=PASSWORD, ip="10.0.0.1", **extra):
    return client.post(LOGIN, {"username": email, "password": password, **extra}, REMOTE_ADDR=ip)


def signed_in_as(client):
    return client.session.get("_auth_user_id")


class FrozenTime:
    """Stands in for the `time` module inside django-ratelimit, so windows can pass."""

    def __init__(self, now: float) -> None:
        self.now = now

    def time(self) -> float:
        return self.now


@pytest.fixture
def rate_clock(monkeypatch):
    clock = FrozenTime(1_750_000_000.0)
    monkeypatch.setattr(django_ratelimit.core, "time", clock)
    return clock


# --- signing in ---------------------------------------------------------------------


def test_the_sign_in_page_names_the_product_and_asks_for_email_and_password(client):
    response = client.get(LOGIN)

    assert response.status_code == 200
    page = response.content.decode()
    assert "Heedful" in page
    assert 'type="email"' in page and 'name="username"' in page
    assert 'type="password"' in page
    assert "/app/password-reset/" in page


def test_an_agent_signs_in_with_email_and_password(cast, client):
    response = sign_in(client, "agent.a@heedful.test")

    assert response.status_code == 302
    assert response["Location"] == "/app/"
    assert signed_in_as(client) == str(cast.agent_a.pk)


def test_the_email_is_matched_whatever_its_case(cast, client):
    response = sign_in(client, "  Agent.A@Heedful.TEST ")

    assert response.status_code == 302
    assert signed_in_as(client) == str(cast.agent_a.pk)


def test_a_wrong_password_shows_a_clear_error_and_signs_nobody_in(cast, client):
    response = sign_in(client, "agent.a@heedful.test", password="wrong")

    assert response.status_code == 200
    assert "don&#x27;t match an active account" in response.content.decode()
    assert signed_in_as(client) is None


def test_an_inactive_agent_cannot_sign_in(cast, client):
    cast.agent_a.is_active = False
    cast.agent_a.save()

    response = sign_in(client, "agent.a@heedful.test")

    assert response.status_code == 200
    assert "match an active account" in response.content.decode()
    assert signed_in_as(client) is None


def test_a_signed_in_agent_visiting_sign_in_goes_to_the_workspace(cast, client):
    client.force_login(cast.agent_a)

    response = client.get(LOGIN)

    assert response.status_code == 302
    assert response["Location"] == "/app/"


def test_next_is_honoured_for_a_workspace_address(cast, client):
    response = sign_in(client, "agent.a@heedful.test", next="/app/customers/")

    assert response.status_code == 302
    assert response["Location"] == "/app/customers/"


@pytest.mark.parametrize(
    "target",
    ["https://evil.example/steal", "//evil.example/", "http://evil.example", "///evil.example"],
)
def test_next_to_another_site_is_refused(cast, client, target):
    response = sign_in(client, "agent.a@heedful.test", next=target)

    assert response.status_code == 302
    assert response["Location"] == "/app/"


def test_the_sign_in_page_carries_next_through_the_form(client):
    page = client.get(LOGIN + "?next=/app/customers/").content.decode()

    assert 'name="next" value="/app/customers/"' in page


# --- signing out --------------------------------------------------------------------


def test_signing_out_is_a_post_and_lands_on_sign_in(cast, client):
    client.force_login(cast.agent_a)

    response = client.post("/app/logout/")

    assert response.status_code == 302
    assert response["Location"] == LOGIN
    assert signed_in_as(client) is None
    assert client.get("/app/notifications/")["Location"].startswith(LOGIN)


def test_a_get_to_sign_out_only_asks_for_confirmation(cast, client):
    client.force_login(cast.agent_a)

    response = client.get("/app/logout/")

    assert response.status_code == 200
    assert 'method="post"' in response.content.decode()
    assert signed_in_as(client) == str(cast.agent_a.pk)


def test_sign_out_for_an_anonymous_visitor_goes_to_sign_in(client):
    response = client.get("/app/logout/")

    assert response.status_code == 302
    assert response["Location"] == LOGIN


# --- throttling ---------------------------------------------------------------------


def test_repeated_guesses_for_one_account_are_throttled_with_429(
    cast, client, settings, rate_clock
):
    settings.HEEDFUL_LOGIN_RATE = "3/m"
    for _ in range(3):
        assert sign_in(client, "agent.a@heedful.test", password="guess").status_code == 200

    response = sign_in(client, "agent.a@heedful.test")  # even the right password waits

    assert response.status_code == 429
    assert "Too many sign-in attempts" in response.content.decode()
    assert signed_in_as(client) is None


def test_the_throttle_lifts_after_the_window(cast, client, settings, rate_clock):
    settings.HEEDFUL_LOGIN_RATE = "3/m"
    for _ in range(4):
        sign_in(client, "agent.a@heedful.test", password="guess")
    assert sign_in(client, "agent.a@heedful.test").status_code == 429

    rate_clock.now += 120  # two windows later

    response = sign_in(client, "agent.a@heedful.test")
    assert response.status_code == 302
    assert signed_in_as(client) == str(cast.agent_a.pk)


def test_a_guesser_elsewhere_does_not_lock_out_the_real_agent(cast, client, settings, rate_clock):
    settings.HEEDFUL_LOGIN_RATE = "3/m"
    for _ in range(5):
        sign_in(client, "agent.a@heedful.test", password="guess", ip="203.0.113.9")
    assert sign_in(client, "agent.a@heedful.test", ip="203.0.113.9").status_code == 429

    response = sign_in(client, "agent.a@heedful.test", ip="10.0.0.1")

    assert response.status_code == 302
    assert signed_in_as(client) == str(cast.agent_a.pk)


def test_one_address_trying_many_accounts_is_throttled(cast, client, settings, rate_clock):
    settings.HEEDFUL_LOGIN_IP_RATE = "4/m"
    for n in range(4):
        sign_in(client, f"someone{n}@heedful.test", password="guess", ip="203.0.113.9")

    assert sign_in(client, "agent.b@heedful.test", ip="203.0.113.9").status_code == 429
    assert sign_in(client, "agent.b@heedful.test", ip="10.0.0.2").status_code == 302


def test_showing_the_sign_in_page_is_never_throttled(client, settings, rate_clock):
    settings.HEEDFUL_LOGIN_IP_RATE = "1/m"
    for _ in range(5):
        assert client.get(LOGIN).status_code == 200


# --- password reset -----------------------------------------------------------------------


def reset_link(message) -> str:
    match = re.search(r"https?://\S+/app/reset/\S+/", message.body)
    assert match, message.body
    return match.group(0)


def test_a_password_reset_works_end_to_end(cast, client, settings):
    settings.BASE_URL = "https://help.example.com"

    response = client.post("/app/password-reset/", {"email": "Agent.A@heedful.test"})

    assert response.status_code == 302
    assert response["Location"] == "/app/password-reset/sent/"
    assert client.get(response["Location"]).status_code == 200
    (message,) = mail.outbox
    assert message.to == ["agent.a@heedful.test"]
    assert "Heedful" in message.subject
    assert "Heedful" in message.body
    assert not message.alternatives  # plain text only
    link = reset_link(message)
    assert link.startswith("https://help.example.com/app/reset/")

    confirm = client.get(link.removeprefix("https://help.example.com"))
    assert confirm.status_code == 302  # Django moves the token into the session
    form_page = client.get(confirm["Location"])
    assert form_page.status_code == 200
    assert "Choose a new password" in form_page.content.decode()

    done = client.post(
        confirm["Location"],
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )
    assert done.status_code == 302
    assert done["Location"] == "/app/reset/done/"
    assert client.get(done["Location"]).status_code == 200

    assert sign_in(client, "agent.a@heedful.test").status_code == 200  # the old one is gone
    assert sign_in(client, "agent.a@heedful.test", "a brand new passphrase").status_code == 302


def test_a_reset_link_works_only_once(cast, client):
    client.post("/app/password-reset/", {"email": "agent.a@heedful.test"})
    path = "/app/reset/" + reset_link(mail.outbox[0]).split("/app/reset/")[1]
    step = client.get(path)
    client.post(
        step["Location"],
        {"new_password1": "a brand new passphrase", "new_password2": "a brand new passphrase"},
    )

    again = client.get(path)

    assert again.status_code == 200
    assert "no longer works" in again.content.decode()


def test_a_reset_for_an_unknown_or_inactive_address_sends_nothing_and_says_the_same(cast, client):
    cast.agent_b.is_active = False
    cast.agent_b.save()

    unknown = client.post("/app/password-reset/", {"email": "nobody@heedful.test"})
    inactive = client.post("/app/password-reset/", {"email": "agent.b@heedful.test"})

    assert unknown["Location"] == inactive["Location"] == "/app/password-reset/sent/"
    assert mail.outbox == []


def test_reset_requests_are_throttled(cast, client, settings, rate_clock):
    settings.HEEDFUL_PASSWORD_RESET_RATE = "2/h"
    for _ in range(2):
        client.post("/app/password-reset/", {"email": "agent.a@heedful.test"})

    response = client.post("/app/password-reset/", {"email": "agent.a@heedful.test"})

    assert response.status_code == 429
    assert "Too many reset requests" in response.content.decode()
    assert len(mail.outbox) == 2


# --- who reaches what ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/app/notifications/", "/app/notifications/1/", "/app/notifications/read/"]
)
def test_an_anonymous_visitor_is_sent_to_sign_in(client, path):
    response = client.get(path)

    assert response.status_code == 302
    assert response["Location"].startswith(f"{LOGIN}?next=")


def test_the_frame_shows_the_signed_in_agent_and_a_sign_out_button(cast, client):
    agent = UserFactory(email="carol@heedful.test", name="Carol Jones")
    client.force_login(agent)

    page = client.get("/app/notifications/").content.decode()

    assert "Carol Jones" in page
    assert 'action="/app/logout/"' in page
    for element in ("live-state", "unread-count", "theme-toggle", "keys-toggle", "keys-help"):
        assert f'id="{element}"' in page
