"""The survey email over a real SMTP server: buttons, List-Unsubscribe (RFC 8058), what it
does not reveal, that it is no conversation message, and failures."""

import re
from email.utils import parseaddr
from urllib.parse import urlsplit

import pytest
from django.conf import settings as django_settings

from heedful.conversations.models import Message
from heedful.surveys import services
from heedful.surveys.models import InvitationStatus, SurveyInvitation, SurveyOptOut
from tests.email_support import (
    secrets_key,  # noqa: F401 (an autouse fixture)
    use_smtp,
)
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.test_surveys_schedule import answer_and_solve, enable, no_outbox_lag  # noqa: F401

pytestmark = [
    pytest.mark.django_db,
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

LINK = re.compile(r"https?://[^\s\"'<>]+")


@pytest.fixture
def sent(cast, clock, smtp_server):  # noqa: F811
    """A CSAT survey for Ann Lee's solved conversation, received by the SMTP server."""
    use_smtp(cast.inbox_a, smtp_server)
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast, name="Ann Lee", subject="Broken kettle 4471")
    clock.advance(minutes=61)
    assert services.send_due() == 1
    [received] = smtp_server.received
    return conversation, received.message


def text_of(email, subtype: str) -> str:
    return email.get_body((subtype,)).get_content().replace("\r\n", "\n")


def test_the_survey_email_comes_from_the_inbox_to_the_customer(sent):
    _, email = sent
    assert parseaddr(email["From"]) == ("Support A", "a@support.test")
    assert parseaddr(email["To"])[1] == "one@customer.test"
    assert email["Subject"] == "How did we do?"
    assert email["Auto-Submitted"] == "auto-generated"
    invitation = SurveyInvitation.objects.get()
    assert invitation.message_id == email["Message-ID"]


def test_the_email_has_a_button_per_score_in_text_and_html(sent):
    _, email = sent
    html = text_of(email, "html")
    text = text_of(email, "plain")
    assert "How satisfied are you with the service you received?" in html
    assert "Very unsatisfied" in html and "Very satisfied" in html
    for body in (html, text):
        scores = re.findall(r"/s/[A-Za-z0-9_-]+/\?score=(\d+)", body)
        assert scores == ["1", "2", "3", "4", "5"]


def test_list_unsubscribe_headers_point_at_the_one_click_url(sent):
    _, email = sent
    assert email["List-Unsubscribe-Post"] == "List-Unsubscribe=One-Click"
    header = email["List-Unsubscribe"].strip()  # a long header is folded on the wire
    assert header.startswith("<") and header.endswith(">")
    url = header[1:-1]
    assert url.startswith(django_settings.BASE_URL + "/s/")
    assert url.endswith("/unsubscribe/")
    # The same opt-out is visible in the body.
    assert url in text_of(email, "html")
    assert url in text_of(email, "plain")


def test_the_email_leaks_nothing_about_the_customer_or_conversation(sent):
    conversation, email = sent
    whole = text_of(email, "plain") + text_of(email, "html") + email["List-Unsubscribe"]
    for body in (email["Subject"], text_of(email, "plain"), text_of(email, "html")):
        for secret in ("Ann", "kettle", "4471"):
            assert secret not in body
        assert not re.search(rf"#{conversation.number}\b", body)
    for url in set(LINK.findall(whole)):
        path = urlsplit(url)
        assert path.path.startswith("/s/"), url
        assert "one%40customer" not in url and "one@customer" not in url
        assert path.query in ("", *(f"score={n}" for n in range(1, 6))), url
        assert path.path.count("/") in (3, 4)  # /s/<token>/ and /s/<token>/unsubscribe/
    assert "In-Reply-To" not in email and "References" not in email


def test_the_survey_email_is_no_conversation_message(sent):
    conversation, email = sent
    assert not Message.objects.filter(external_id=email["Message-ID"]).exists()
    assert conversation.messages.count() == 2  # the customer's message and the reply


def test_the_one_click_post_opts_the_customer_out(sent, client, cast):
    conversation, email = sent
    path = urlsplit(email["List-Unsubscribe"].strip()[1:-1]).path
    response = client.post(path, {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    opt_out = SurveyOptOut.objects.get(customer=conversation.customer)
    assert opt_out.source == "list-unsubscribe"
    # Honoured by every later survey.
    enable(cast.email)
    answer_and_solve(
        cast, cast.conversation_a(inbox=cast.email, subject="Another", external_id="<x@c.test>")
    )
    assert SurveyInvitation.objects.count() == 1


def test_a_get_of_the_unsubscribe_link_only_asks(sent, client):
    _, email = sent
    path = urlsplit(email["List-Unsubscribe"].strip()[1:-1]).path
    response = client.get(path)
    assert response.status_code == 200
    assert "Stop sending me surveys" in response.content.decode()
    assert not SurveyOptOut.objects.exists()
    client.post(path)
    assert SurveyOptOut.objects.get().source == "link"


def test_an_unknown_unsubscribe_token_is_404(client, db):
    assert client.post("/s/not-a-real-token/unsubscribe/").status_code == 404
    assert not SurveyOptOut.objects.exists()


def test_a_refused_address_fails_the_invitation_and_kills_its_link(
    cast,
    clock,
    smtp_server,  # noqa: F811
):
    smtp_server.reject["one@customer.test"] = "550 5.1.1 no such user"
    use_smtp(cast.inbox_a, smtp_server)
    enable(cast.inbox_a)
    answer_and_solve(cast)
    clock.advance(minutes=61)
    assert services.send_due() == 0
    invitation = SurveyInvitation.objects.get()
    assert invitation.status == InvitationStatus.FAILED
    assert "550" in invitation.error
    assert (invitation.token_hash, invitation.sent_at) == (None, None)


def test_a_temporary_failure_is_retried_later(cast, clock, smtp_server):  # noqa: F811
    smtp_server.reject["one@customer.test"] = "451 4.3.0 try again later"
    use_smtp(cast.inbox_a, smtp_server)
    enable(cast.inbox_a)
    answer_and_solve(cast)
    clock.advance(minutes=61)
    assert services.send_due() == 0
    invitation = SurveyInvitation.objects.get()
    assert invitation.status == InvitationStatus.SCHEDULED
    assert invitation.due_at == clock.now + services.RETRY_AFTER
    assert invitation.token_hash is None
    del smtp_server.reject["one@customer.test"]
    clock.advance(minutes=15)
    assert services.send_due() == 1
    assert SurveyInvitation.objects.get().status == InvitationStatus.SENT


def test_a_web_form_conversation_gets_its_survey_by_email(cast, clock, mailoutbox):
    enable(cast.webform)
    conversation = cast.conversation_a(inbox=cast.webform)
    answer_and_solve(cast, conversation=conversation)
    clock.advance(minutes=61)
    assert services.send_due() == 1
    [email] = mailoutbox
    assert email.to == ["one@customer.test"]
    assert email.from_email == django_settings.DEFAULT_FROM_EMAIL
