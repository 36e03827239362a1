"""Survey configuration in the admin: the default wording, per-language questions, the
settings singleton, inbox policies, read-only invitations and responses, opt-outs."""

import pytest
from django.core import mail

from heedful.surveys import services
from heedful.surveys.defaults import DEFAULT_WORDING
from heedful.surveys.models import (
    InboxSurveyPolicy,
    SurveyInvitation,
    SurveyOptOut,
    SurveyQuestion,
    SurveySettings,
)
from heedful.surveys.wording import wording_for
from tests.test_surveys_schedule import answer_and_solve, enable, no_outbox_lag  # noqa: F401

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client, cast):
    client.force_login(cast.admin)
    return client


def test_the_default_wording_is_in_the_database_for_editing():
    rows = {q.kind: q for q in SurveyQuestion.objects.filter(language="en")}
    assert set(rows) == {"csat", "ces", "nps"}
    assert rows["csat"].question == "How satisfied are you with the service you received?"
    assert (rows["csat"].low_label, rows["csat"].high_label) == (
        "Very unsatisfied",
        "Very satisfied",
    )
    assert rows["ces"].question == "How easy was it to resolve your issue?"
    assert (rows["ces"].low_label, rows["ces"].high_label) == ("Very difficult", "Very easy")
    assert rows["nps"].question == "How likely are you to recommend us to a friend or colleague?"
    assert (rows["nps"].low_label, rows["nps"].high_label) == (
        "Not at all likely",
        "Extremely likely",
    )
    assert {q.follow_up for q in rows.values()} == {"What is the main reason for your score?"}


def test_wording_falls_back_to_english_then_to_the_defaults():
    SurveyQuestion.objects.create(
        kind="csat",
        language="de",
        question="Wie zufrieden sind Sie mit unserem Service?",
        low_label="Sehr unzufrieden",
        high_label="Sehr zufrieden",
        follow_up="Was ist der wichtigste Grund für Ihre Bewertung?",
    )
    assert wording_for("csat", "de").question.startswith("Wie zufrieden")
    assert wording_for("csat", "fr").question == DEFAULT_WORDING["csat"].question
    SurveyQuestion.objects.all().delete()
    assert wording_for("ces", "en") == DEFAULT_WORDING["ces"]


def test_the_inbox_language_chooses_the_wording_of_the_email(cast, clock):
    SurveyQuestion.objects.create(
        kind="csat",
        language="de",
        question="Wie zufrieden sind Sie mit unserem Service?",
        low_label="Sehr unzufrieden",
        high_label="Sehr zufrieden",
    )
    enable(cast.inbox_a, language="de")
    answer_and_solve(cast)
    clock.advance(minutes=61)
    services.send_due()
    assert "Wie zufrieden sind Sie" in mail.outbox[0].body
    assert "Sehr unzufrieden" in mail.outbox[0].body


def test_an_edited_question_is_what_customers_see(admin_client, cast, clock):
    question = SurveyQuestion.objects.get(kind="csat", language="en")
    response = admin_client.post(
        f"/admin/surveys/surveyquestion/{question.pk}/change/",
        {
            "kind": "csat",
            "language": "en",
            "question": "Did we help you today?",
            "low_label": "Not at all",
            "high_label": "Completely",
            "follow_up": "Tell us why",
            "thank_you": "Thanks!",
        },
    )
    assert response.status_code == 302
    enable(cast.inbox_a)
    answer_and_solve(cast)
    clock.advance(minutes=61)
    services.send_due()
    assert "Did we help you today?" in mail.outbox[0].body
    token = mail.outbox[0].body.split("/s/")[1].split("/")[0]
    html = admin_client.get(f"/s/{token}/").content.decode()
    assert "Did we help you today?" in html and "Tell us why" in html


def test_the_settings_page_is_the_one_row(admin_client):
    response = admin_client.get("/admin/surveys/surveysettings/")
    assert response.status_code == 302
    assert response["Location"].endswith("/admin/surveys/surveysettings/1/change/")
    page = admin_client.get(response["Location"])
    assert page.status_code == 200
    assert "fatigue_days" in page.content.decode()
    assert admin_client.get("/admin/surveys/surveysettings/add/").status_code == 403
    assert SurveySettings.objects.count() == 1


def test_an_admin_enables_surveys_for_an_inbox(admin_client, cast):
    response = admin_client.post(
        "/admin/surveys/inboxsurveypolicy/add/",
        {
            "inbox": cast.inbox_a.pk,
            "send_csat": "on",
            "send_ces": "on",
            "delay_minutes": "15",
            "language": "en",
        },
    )
    assert response.status_code == 302
    policy = InboxSurveyPolicy.objects.get(inbox=cast.inbox_a)
    assert (policy.send_csat, policy.send_ces, policy.delay_minutes) == (True, True, 15)


def test_invitations_and_responses_are_read_only(admin_client, cast, clock):
    enable(cast.inbox_a)
    answer_and_solve(cast)
    invitation = SurveyInvitation.objects.get()
    assert admin_client.get("/admin/surveys/surveyinvitation/").status_code == 200
    assert admin_client.get("/admin/surveys/surveyinvitation/?status=scheduled").status_code == 200
    assert admin_client.get("/admin/surveys/surveyresponse/?kind=csat").status_code == 200
    assert admin_client.get("/admin/surveys/surveyinvitation/add/").status_code == 403
    detail = admin_client.get(f"/admin/surveys/surveyinvitation/{invitation.pk}/change/")
    assert detail.status_code == 200
    assert "token_hash" not in detail.content.decode()
    response = admin_client.post(
        f"/admin/surveys/surveyinvitation/{invitation.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 403
    assert SurveyInvitation.objects.exists()


def test_an_admin_can_lift_an_opt_out(admin_client, cast):
    conversation = cast.conversation_a()
    services.opt_out(customer_id=conversation.customer_id, source="link")
    opt_out = SurveyOptOut.objects.get()
    assert admin_client.get("/admin/surveys/surveyoptout/").status_code == 200
    response = admin_client.post(
        f"/admin/surveys/surveyoptout/{opt_out.pk}/delete/", {"post": "yes"}
    )
    assert response.status_code == 302
    assert not services.opted_out(conversation.customer_id)


def test_an_agent_cannot_configure_surveys(client, cast):
    client.force_login(cast.agent_a)
    response = client.get("/admin/surveys/surveysettings/1/change/")
    assert response.status_code in (302, 403)
