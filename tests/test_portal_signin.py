"""Portal sign-in by emailed link or code: single use, expiring, unguessable, rate limited,
the same answer for unknown addresses, and no bridge to the agents' sign-in."""

import re
from datetime import timedelta
from typing import Any

import pytest
from django.core import mail
from django.test import Client

from heedful.customers.models import Identity
from heedful.knowledge.models import HelpSession
from heedful.portal.auth import MAX_CODE_TRIES, SESSION_CUSTOMER, digest
from heedful.portal.models import PortalSignIn

pytestmark = pytest.mark.django_db
ONE = "one@customer.test"
BROWSER = "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 Chrome/126.0 Safari/537.36"


def ask(client: Client, email: str = ONE, **extra: Any) -> Any:
    return client.post("/portal/sign-in/", {"email": email}, **extra)


def link_and_code() -> tuple[str, str]:
    body = mail.outbox[-1].body
    token = re.search(r"/portal/sign-in/([\w-]+)/", body)
    code = re.search(r"code on the sign-in page: (\d{6})", body)
    assert token and code
    return token.group(1), code.group(1)


@pytest.fixture
def one(cast: Any) -> Any:
    cast.conversation_a()
    return cast.customer(ONE)


def test_a_known_address_gets_a_link_and_a_code_by_email(one: Any, client: Client) -> None:
    response = ask(client, "  One@Customer.TEST ")
    assert response.status_code == 302 and response["Location"] == "/portal/sign-in/check/"
    assert len(mail.outbox) == 1
    email = mail.outbox[0]
    assert email.to == [ONE]
    assert email.extra_headers["Auto-Submitted"] == "auto-generated"
    token, code = link_and_code()
    assert email.alternatives and token in str(email.alternatives[0][0])
    assert email.body.count("http://testserver") == 0  # built from HEEDFUL_BASE_URL
    row = PortalSignIn.objects.get()
    # Only digests are stored: neither the token nor the code is in the row.
    assert row.token_hash == digest(token)
    assert token not in str(row.__dict__) and code not in row.code_hash


def test_an_unknown_address_gets_the_same_answer_and_no_email(one: Any, client: Client) -> None:
    known = ask(client, ONE)
    other = Client()
    unknown = ask(other, "nobody@customer.test")
    assert (known.status_code, known["Location"]) == (unknown.status_code, unknown["Location"])
    page_known = client.get("/portal/sign-in/check/").content.decode()
    page_unknown = other.get("/portal/sign-in/check/").content.decode()
    assert (
        page_known.replace(ONE, "X").split("csrfmiddlewaretoken")[0]
        == page_unknown.replace("nobody@customer.test", "X").split("csrfmiddlewaretoken")[0]
    )
    assert len(mail.outbox) == 1 and PortalSignIn.objects.count() == 1


def test_a_bad_address_is_a_form_error(client: Client, db: None) -> None:
    response = ask(client, "not an address")
    assert response.status_code == 400
    assert "valid email address" in response.content.decode()
    assert mail.outbox == []


def test_opening_the_link_does_not_use_it_up(one: Any, client: Client) -> None:
    ask(client)
    token, _ = link_and_code()
    scanner = Client()
    for _ in range(3):
        page = scanner.get(f"/portal/sign-in/{token}/")
        assert page.status_code == 200 and "Sign in" in page.content.decode()
    assert page["Referrer-Policy"] == "same-origin"
    assert "no-store" in page["Cache-Control"]
    assert "script-src 'self'" in page["Content-Security-Policy"]
    assert page["X-Frame-Options"] == "DENY"
    assert PortalSignIn.objects.get().used_at is None
    assert SESSION_CUSTOMER not in scanner.session


def test_the_button_signs_in_rotates_the_session_and_verifies_the_address(
    one: Any, client: Client
) -> None:
    Identity.objects.filter(address=ONE).update(verified=False)
    ask(client)
    token, _ = link_and_code()
    browser = Client(HTTP_USER_AGENT=BROWSER)
    browser.get("/help/")  # a help-center visit, to be linked to the customer
    browser.get(f"/portal/sign-in/{token}/")
    before = browser.session.session_key
    response = browser.post(f"/portal/sign-in/{token}/")
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert browser.session.session_key != before
    assert browser.session[SESSION_CUSTOMER] == one.pk
    assert Identity.objects.get(address=ONE).verified
    assert browser.get("/portal/").status_code == 200
    visit = HelpSession.objects.order_by("-pk").first()
    assert visit is not None and visit.customer_id == one.pk


def test_a_used_link_is_dead(one: Any, client: Client) -> None:
    ask(client)
    token, _ = link_and_code()
    assert client.post(f"/portal/sign-in/{token}/").status_code == 302
    other = Client()
    assert other.get(f"/portal/sign-in/{token}/").status_code == 410
    again = other.post(f"/portal/sign-in/{token}/")
    assert again.status_code == 410 and "already used" in again.content.decode()
    assert SESSION_CUSTOMER not in other.session


def test_an_expired_link_is_dead(one: Any, client: Client, clock: Any, settings: Any) -> None:
    ask(client)
    token, code = link_and_code()
    clock.advance(minutes=settings.HEEDFUL_PORTAL_LINK_MINUTES, seconds=1)
    response = client.post(f"/portal/sign-in/{token}/")
    assert response.status_code == 410 and "expired" in response.content.decode()
    assert client.post("/portal/sign-in/check/", {"code": code}).status_code == 410
    assert SESSION_CUSTOMER not in client.session


@pytest.mark.parametrize(
    "token",
    ["A" * 43, "x", "A" * 200, "%00", "..", "<script>alert(1)</script>"],
)
def test_guessed_and_malformed_tokens_are_not_found(one: Any, client: Client, token: str) -> None:
    ask(client)
    response = client.post(f"/portal/sign-in/{token}/")
    assert response.status_code == 404
    assert "<script>alert" not in response.content.decode()
    assert SESSION_CUSTOMER not in client.session


def test_a_tampered_token_is_not_found(one: Any, client: Client) -> None:
    ask(client)
    token, _ = link_and_code()
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")
    assert client.get(f"/portal/sign-in/{tampered}/").status_code == 404
    assert client.post(f"/portal/sign-in/{tampered}/").status_code == 404
    assert PortalSignIn.objects.get().used_at is None


def test_a_newer_link_leaves_the_older_one_working(one: Any, client: Client) -> None:
    ask(client)
    first, _ = link_and_code()
    ask(client)
    second, _ = link_and_code()
    assert first != second
    assert Client().post(f"/portal/sign-in/{first}/").status_code == 302


def test_the_code_signs_in_on_the_check_page(one: Any, client: Client) -> None:
    ask(client)
    _, code = link_and_code()
    response = client.post("/portal/sign-in/check/", {"code": f"{code[:3]} {code[3:]}"})
    assert response.status_code == 302 and response["Location"] == "/portal/"
    assert client.session[SESSION_CUSTOMER] == one.pk
    # The code is spent with its sign-in: the link is dead too.
    token, _ = link_and_code()
    assert Client().post(f"/portal/sign-in/{token}/").status_code == 410


def test_the_code_works_only_in_the_browser_that_asked(one: Any, client: Client) -> None:
    ask(client)
    _, code = link_and_code()
    stranger = Client()
    response = stranger.post("/portal/sign-in/check/", {"code": code})
    assert response.status_code == 302 and response["Location"] == "/portal/sign-in/"
    assert SESSION_CUSTOMER not in stranger.session


def test_code_guessing_stops_after_five_wrong_tries(one: Any, client: Client) -> None:
    ask(client)
    _, code = link_and_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for attempt in range(1, MAX_CODE_TRIES):
        response = client.post("/portal/sign-in/check/", {"code": wrong})
        assert response.status_code == 400, attempt
        assert "not right" in response.content.decode()
    assert client.post("/portal/sign-in/check/", {"code": wrong}).status_code == 429
    # Even the right code, and the link, are dead now.
    assert client.post("/portal/sign-in/check/", {"code": code}).status_code == 429
    assert PortalSignIn.objects.get().failed_attempts == MAX_CODE_TRIES
    token, _ = link_and_code()
    assert Client().post(f"/portal/sign-in/{token}/").status_code == 410
    assert SESSION_CUSTOMER not in client.session


def test_an_unknown_address_locks_out_after_as_many_tries(db: None, client: Client) -> None:
    ask(client, "nobody@customer.test")
    statuses = [
        client.post("/portal/sign-in/check/", {"code": "123456"}).status_code
        for _ in range(MAX_CODE_TRIES)
    ]
    assert statuses == [400] * (MAX_CODE_TRIES - 1) + [429]


def test_a_malformed_code_is_a_form_error(one: Any, client: Client) -> None:
    ask(client)
    response = client.post("/portal/sign-in/check/", {"code": "abc"})
    assert response.status_code == 400 and "6 digits" in response.content.decode()
    assert PortalSignIn.objects.get().failed_attempts == 0


def test_requests_for_links_are_rate_limited_per_address(one: Any, settings: Any) -> None:
    settings.HEEDFUL_PORTAL_SIGNIN_RATE = "2/h"
    answers = [ask(Client(), ONE, REMOTE_ADDR=f"10.0.0.{n}").status_code for n in range(1, 4)]
    assert answers == [302, 302, 429]
    assert len(mail.outbox) == 2


def test_requests_for_links_are_rate_limited_per_client(one: Any, settings: Any) -> None:
    settings.HEEDFUL_PORTAL_SIGNIN_RATE = "2/h"
    client = Client(REMOTE_ADDR="10.0.0.9")
    answers = [ask(client, f"x{n}@customer.test").status_code for n in range(3)]
    assert answers == [302, 302, 429]
    assert "wait a while" in ask(client, ONE).content.decode()


def test_sign_out_is_a_post_and_ends_only_the_portal_session(
    cast: Any, one: Any, client: Client
) -> None:
    client.force_login(cast.agent_a)
    ask(client)
    token, _ = link_and_code()
    client.post(f"/portal/sign-in/{token}/")
    assert client.get("/portal/sign-out/").status_code == 405
    assert client.post("/portal/sign-out/").status_code == 302
    assert client.get("/portal/").status_code == 302
    assert client.get("/app/conversations/").status_code == 200  # the agent is still signed in


def test_an_agent_session_is_not_a_portal_session(cast: Any, one: Any, client: Client) -> None:
    client.force_login(cast.admin)
    response = client.get("/portal/")
    assert response.status_code == 302 and response["Location"] == "/portal/sign-in/"


def test_a_portal_session_is_not_an_agent_session(one: Any, client: Client) -> None:
    ask(client)
    token, _ = link_and_code()
    client.post(f"/portal/sign-in/{token}/")
    assert "/login/" in client.get("/app/conversations/")["Location"]
    assert client.get("/admin/").status_code == 302
    assert "_auth_user_id" not in client.session


def test_a_merged_customer_signs_in_as_the_survivor(cast: Any, one: Any, client: Client) -> None:
    from heedful.conversations.services import merge_customers

    cast.conversation_b()
    two = cast.customer("two@customer.test")
    ask(client)
    token, _ = link_and_code()
    merge_customers(source=one, target=two, actor=cast.admin)
    client.post(f"/portal/sign-in/{token}/")
    assert client.session[SESSION_CUSTOMER] == two.pk


def test_the_sign_in_row_expires_after_the_configured_minutes(
    one: Any, client: Client, clock: Any, settings: Any
) -> None:
    settings.HEEDFUL_PORTAL_LINK_MINUTES = 7
    ask(client)
    row = PortalSignIn.objects.get()
    assert row.expires_at - row.created_at == timedelta(minutes=7)


def test_no_sign_in_email_goes_to_a_suppressed_address(one: Any, client: Client) -> None:
    from django.utils import timezone

    from heedful.inboxes.models import EmailSuppression

    EmailSuppression.objects.create(address=ONE, hard_bounces=3, suppressed_at=timezone.now())
    assert ask(client).status_code == 302  # the same answer as ever
    assert mail.outbox == [] and not PortalSignIn.objects.exists()


def test_a_retried_task_stores_its_sign_in_once(one: Any) -> None:
    from heedful.portal.auth import Pending, deliver_sign_in

    pending = Pending(email=ONE, token="t" * 43, code="123456")
    assert deliver_sign_in(pending) and deliver_sign_in(pending)
    assert PortalSignIn.objects.count() == 1 and len(mail.outbox) == 2


def test_typing_codes_reveals_nothing_about_the_address(
    one: Any, clock: Any, settings: Any
) -> None:
    """Known and unknown addresses answer alike: wrong code, spent link, expiry."""
    answers = []
    for email in (ONE, "nobody@customer.test"):
        client = Client()
        ask(client, email)
        token, code = link_and_code()  # for the unknown address: the known one's, again
        Client().post(f"/portal/sign-in/{token}/")  # the link is used up
        first = client.post("/portal/sign-in/check/", {"code": code})
        clock.advance(minutes=settings.HEEDFUL_PORTAL_LINK_MINUTES, seconds=1)
        later = client.post("/portal/sign-in/check/", {"code": "000000"})
        answers.append((first.status_code, later.status_code, "not right" in first.text))
    assert answers[0] == answers[1] == (400, 410, True)


def test_codes_sent_at_once_still_get_five_guesses_in_all(one: Any, client: Client) -> None:
    from heedful.portal.auth import SESSION_PENDING, SignInFailed, check_code

    ask(client)
    _, code = link_and_code()
    pending = dict(client.session[SESSION_PENDING])
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    # Parallel requests each read the session before any of them wrote back.
    for _ in range(MAX_CODE_TRIES * 2):
        with pytest.raises(SignInFailed):
            check_code({SESSION_PENDING: dict(pending)}, wrong)  # type: ignore[arg-type]
    assert PortalSignIn.objects.get().failed_attempts == MAX_CODE_TRIES
    with pytest.raises(SignInFailed):
        check_code({SESSION_PENDING: dict(pending)}, code)  # type: ignore[arg-type]


def test_a_right_code_after_wrong_ones_is_not_counted_as_a_try(one: Any, client: Client) -> None:
    ask(client)
    _, code = link_and_code()
    wrong = f"{(int(code) + 1) % 10**6:06d}"
    for _ in range(MAX_CODE_TRIES - 1):
        client.post("/portal/sign-in/check/", {"code": wrong})
    assert client.post("/portal/sign-in/check/", {"code": code}).status_code == 302
    assert PortalSignIn.objects.get().failed_attempts == MAX_CODE_TRIES - 1
