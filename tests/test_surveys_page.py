"""The public survey page /s/<token>/: what a GET and a POST do, token safety, bad input,
what the page reveals, CSRF and the rate limit."""

import secrets
from datetime import timedelta

import pytest
from django.test import Client

from heedful.surveys import services
from heedful.surveys.models import InvitationStatus, SurveyInvitation, SurveyResponse
from tests.test_surveys_schedule import invited, no_outbox_lag  # noqa: F401

pytestmark = pytest.mark.django_db


def page(token: str) -> str:
    return f"/s/{token}/"


def body(response) -> str:
    return response.content.decode()


@pytest.fixture
def survey(cast, clock) -> tuple[SurveyInvitation, str]:
    return invited(cast, clock)


# --- GET never records ----------------------------------------------------------------------


def test_the_score_from_the_email_is_preselected_but_not_recorded(client, survey):
    invitation, token = survey
    response = client.get(page(token) + "?score=4")
    assert response.status_code == 200
    html = body(response)
    assert 'value="4" checked' in html
    assert html.count(" checked") == 1
    assert "How satisfied are you with the service you received?" in html
    assert '<button type="submit" class="primary">Send</button>' in html
    assert not SurveyResponse.objects.exists()
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.SENT


def test_a_score_off_the_scale_in_the_link_preselects_nothing(client, survey):
    _, token = survey
    for value in ("9", "-1", "x", "4.5", "", "%C2%B2", "4" * 5000):  # "²" passes isdigit()
        html = body(client.get(page(token) + f"?score={value}"))
        assert " checked" not in html


def test_the_page_is_private(client, survey):
    _, token = survey
    response = client.get(page(token))
    assert response["Referrer-Policy"] == "same-origin"
    assert "noindex" in response["X-Robots-Tag"]
    assert "no-cache" in response["Cache-Control"] or "max-age=0" in response["Cache-Control"]


# --- POST records; changes until completed -------------------------------------------------


def test_a_post_records_the_score(client, survey, cast):
    invitation, token = survey
    response = client.post(page(token), {"score": "4"})
    assert response.status_code == 302
    answer = SurveyResponse.objects.get()
    assert (answer.kind, answer.score, answer.completed) == ("csat", 4, False)
    assert answer.agent_id == cast.agent_a.pk
    assert answer.team_id == cast.team_a.pk
    assert answer.inbox_id == cast.inbox_a.pk
    assert answer.channel == "email"
    invitation.refresh_from_db()
    assert invitation.status == InvitationStatus.ANSWERED
    # Back on the page: the score is kept and the follow-up is offered.
    html = body(client.get(page(token)))
    assert 'value="4" checked' in html
    assert "your score is saved" in html
    assert "What is the main reason for your score?" in html


def test_the_score_can_change_until_the_follow_up_is_sent(client, survey):
    _, token = survey
    client.post(page(token), {"score": "2"})
    client.post(page(token), {"score": "5"})
    assert SurveyResponse.objects.get().score == 5
    response = client.post(page(token), {"score": "4", "comment": "Quick and kind."})
    assert response.status_code == 200
    assert "Thank you for your feedback." in body(response)
    answer = SurveyResponse.objects.get()
    assert (answer.score, answer.comment, answer.completed) == (4, "Quick and kind.", True)
    # Final now: a later post is refused politely and changes nothing.
    refused = client.post(page(token), {"score": "1", "comment": "changed my mind"})
    assert refused.status_code == 409
    assert "already recorded" in body(refused)
    answer.refresh_from_db()
    assert (answer.score, answer.comment) == (4, "Quick and kind.")
    assert SurveyResponse.objects.count() == 1


def test_done_completes_without_a_comment(client, survey):
    _, token = survey
    client.post(page(token), {"score": "3"})
    response = client.post(page(token), {"score": "3", "done": "1"})
    assert response.status_code == 200
    assert SurveyResponse.objects.get().completed
    # The page after completion only thanks.
    html = body(client.get(page(token) + "?score=1"))
    assert "Thank you for your feedback." in html
    assert "<form" not in html


def test_the_tags_are_copied_at_the_answer(client, survey, cast):
    from heedful.conversations.services import tag

    invitation, token = survey
    tag(conversation=invitation.conversation, actor=cast.agent_a, add=["billing", "portal"])
    client.post(page(token), {"score": "4"})
    assert len(SurveyResponse.objects.get().tag_ids) == 2


# --- bad input: a form error, never a 500 ---------------------------------------------------


@pytest.mark.parametrize("score", ["0", "6", "-1", "abc", "", "3.5", "99999999999999999999"])
def test_a_score_off_the_scale_is_a_400_with_a_message(client, survey, score):
    _, token = survey
    response = client.post(page(token), {"score": score})
    assert response.status_code == 400
    assert "Choose a score" in body(response)
    assert not SurveyResponse.objects.exists()


def test_a_too_long_comment_is_a_400(client, survey):
    _, token = survey
    response = client.post(page(token), {"score": "4", "comment": "x" * 2001})
    assert response.status_code == 400
    assert "under 2000 characters" in body(response)
    assert not SurveyResponse.objects.exists()


def test_an_nps_score_uses_its_own_scale(client, cast, clock):
    from heedful.surveys.models import SurveySettings

    rules = SurveySettings.load()
    rules.nps_enabled = True
    rules.save()
    cast.conversation_a()
    services.schedule_nps()
    services.send_due()
    from tests.test_surveys_schedule import last_token

    token = last_token()
    html = body(client.get(page(token) + "?score=0"))
    assert 'value="0" checked' in html and 'value="10"' in html
    assert "Not at all likely" in html and "Extremely likely" in html
    assert client.post(page(token), {"score": "11"}).status_code == 400
    assert client.post(page(token), {"score": "0", "comment": "Too slow"}).status_code == 200
    assert SurveyResponse.objects.get().score == 0


# --- token safety --------------------------------------------------------------------------


def test_a_guessed_token_is_404_and_says_nothing(client, survey):
    response = client.get(page(secrets.token_urlsafe(32)))
    assert response.status_code == 404
    assert "not available" in body(response)
    assert client.post(page(secrets.token_urlsafe(32)), {"score": "5"}).status_code == 404
    assert not SurveyResponse.objects.exists()


def test_a_tampered_token_is_404(client, survey):
    _, token = survey
    flipped = token[:10] + ("A" if token[10] != "A" else "B") + token[11:]
    assert client.get(page(flipped)).status_code == 404
    assert client.post(page(flipped), {"score": "5"}).status_code == 404
    assert client.get(page(token + "x")).status_code == 404
    assert client.get(page("x" * 500)).status_code == 404
    assert not SurveyResponse.objects.exists()


def test_only_the_digest_of_the_token_is_stored(survey):
    import hashlib

    invitation, token = survey
    invitation.refresh_from_db()
    assert invitation.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert token not in str(SurveyInvitation.objects.values().get())


def test_an_expired_link_is_gone(client, survey, clock):
    _, token = survey
    clock.advance(days=14)
    response = client.get(page(token) + "?score=5")
    assert response.status_code == 410
    assert "not available" in body(response)
    assert client.post(page(token), {"score": "5"}).status_code == 410
    assert not SurveyResponse.objects.exists()


def test_a_link_works_until_it_expires(client, survey, clock):
    _, token = survey
    clock.advance(days=13, hours=23)
    assert client.post(page(token), {"score": "5"}).status_code == 302


def test_a_cancelled_invitation_is_gone(client, survey):
    invitation, token = survey
    SurveyInvitation.objects.filter(pk=invitation.pk).update(status=InvitationStatus.CANCELLED)
    assert client.get(page(token)).status_code == 410
    assert client.post(page(token), {"score": "5"}).status_code == 410


def test_the_expiry_is_a_setting(cast, clock, client):
    from heedful.surveys.models import SurveySettings

    rules = SurveySettings.load()
    rules.expiry_days = 2
    rules.save()
    _, token = invited(cast, clock)
    clock.advance(days=2)
    assert client.get(page(token)).status_code == 410


# --- what the page reveals -----------------------------------------------------------------


def test_the_pages_reveal_nothing_about_the_customer_or_conversation(client, survey):
    invitation, token = survey
    conversation = invitation.conversation
    pages = [
        client.get(page(token) + "?score=2"),
        client.post(page(token), {"score": "2"}),
        client.get(page(token)),
        client.post(page(token), {"score": "2", "comment": "Slow."}),
        client.get(page(token)),
        client.get(f"/s/{token}/unsubscribe/"),
    ]
    for response in pages:
        html = body(response)
        for secret in ("Ann Lee", "one@customer.test", conversation.subject, "Support A"):
            assert secret not in html
        assert f"#{conversation.number}<" not in html
        assert f"#{conversation.number} " not in html


def test_a_comment_is_stored_as_plain_text(client, survey):
    _, token = survey
    client.post(page(token), {"score": "1", "comment": "<script>alert(1)</script> bad"})
    assert SurveyResponse.objects.get().comment == "<script>alert(1)</script> bad"


# --- CSRF and the rate limit ----------------------------------------------------------------


def test_the_form_works_with_csrf_checks_for_an_anonymous_customer(survey):
    _, token = survey
    browser = Client(enforce_csrf_checks=True)
    assert browser.post(page(token), {"score": "4"}).status_code == 403
    browser.get(page(token))
    csrf = browser.cookies["csrftoken"].value
    response = browser.post(page(token), {"score": "4", "csrfmiddlewaretoken": csrf})
    assert response.status_code == 302
    assert SurveyResponse.objects.get().score == 4


def test_the_one_click_opt_out_needs_no_csrf_token(survey):
    _, token = survey
    mail_client = Client(enforce_csrf_checks=True)
    response = mail_client.post(f"/s/{token}/unsubscribe/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200


def test_posts_are_rate_limited(client, survey, settings):
    settings.HEEDFUL_SURVEY_RATE = "3/m"
    _, token = survey
    codes = [client.post(page(token), {"score": "4"}).status_code for _ in range(4)]
    assert codes == [302, 302, 302, 429]
    guessed = client.post(page(secrets.token_urlsafe(32)), {"score": "4"})
    assert guessed.status_code == 429


def test_a_get_is_not_rate_limited(client, survey, settings):
    settings.HEEDFUL_SURVEY_RATE = "1/m"
    _, token = survey
    assert [client.get(page(token)).status_code for _ in range(3)] == [200, 200, 200]


def test_services_refuse_what_the_page_refuses(survey, clock):
    from heedful.core.errors import ServiceError

    invitation, _ = survey
    with pytest.raises(ServiceError):
        services.record_answer(invitation_id=invitation.pk, score=7)
    services.record_answer(invitation_id=invitation.pk, score=3, finish=True)
    with pytest.raises(services.AlreadyAnswered):
        services.record_answer(invitation_id=invitation.pk, score=4)
    clock.advance(days=15)
    with pytest.raises(services.SurveyUnavailable):
        services.record_answer(invitation_id=invitation.pk, score=4)
    assert SurveyResponse.objects.get().score == 3
    assert invitation.expires_at == invitation.sent_at + timedelta(days=14)


def test_the_opt_out_link_still_works_after_the_survey_expired(client, survey, clock):
    from heedful.surveys.models import SurveyOptOut

    invitation, token = survey
    clock.advance(days=30)
    assert client.get(page(token)).status_code == 410
    response = client.post(f"/s/{token}/unsubscribe/", {"List-Unsubscribe": "One-Click"})
    assert response.status_code == 200
    assert SurveyOptOut.objects.filter(customer=invitation.customer_id).exists()
