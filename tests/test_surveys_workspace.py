"""Survey answers in the workspace (conversation page, customer panel) and the low-score
notification to the credited agent and their leads; the rest of the cast gets nothing."""

import pytest
from django.urls import reverse

from heedful.accounts.models import Notification, Role
from heedful.accounts.notifications import mark_read
from heedful.surveys import services
from heedful.surveys.models import SurveyInvitation, SurveySettings
from tests.factories import UserFactory
from tests.test_surveys_schedule import invited, no_outbox_lag  # noqa: F401

pytestmark = pytest.mark.django_db


def answer(client, token: str, score: int, comment: str = "") -> None:
    data = {"score": str(score)}
    if comment:
        data["comment"] = comment
    assert client.post(f"/s/{token}/", data).status_code in (200, 302)


def low_alerts(user) -> list[Notification]:
    return list(Notification.objects.filter(user=user, kind=Notification.Kind.LOW_SCORE))


@pytest.fixture
def survey(cast, clock) -> tuple[SurveyInvitation, str]:
    return invited(cast, clock)


# --- low scores ----------------------------------------------------------------------------


def test_a_low_score_tells_the_credited_agent_and_their_lead(client, cast, survey):
    invitation, token = survey
    answer(client, token, 2)
    [alert] = low_alerts(cast.agent_a)
    assert alert.conversation_id == invitation.conversation_id
    assert "Low CSAT score: 2 of 5" in alert.text
    assert len(low_alerts(cast.lead_a)) == 1
    for other in (cast.agent_b, cast.admin):
        assert low_alerts(other) == []


def test_a_team_membership_marked_lead_is_told_too(client, cast, survey):
    from heedful.accounts.models import TeamMembership

    senior = UserFactory(email="senior@heedful.test", role=Role.AGENT, teams=[cast.team_a])
    TeamMembership.objects.filter(user=senior, team=cast.team_a).update(is_lead=True)
    _, token = survey
    answer(client, token, 1)
    assert len(low_alerts(senior)) == 1


def test_only_people_who_may_see_the_conversation_are_told(client, cast, survey):
    """The alert quotes the subject: a lead whose team lost the conversation is not told."""
    from heedful.conversations.models import Conversation

    invitation, token = survey
    Conversation.objects.filter(pk=invitation.conversation_id).update(team=cast.team_b)
    answer(client, token, 1)
    assert len(low_alerts(cast.agent_a)) == 1  # still its assignee
    assert low_alerts(cast.lead_a) == []


def test_the_leads_told_are_those_of_the_conversations_team(cast):
    lead_b = UserFactory(email="lead.b@heedful.test", role=Role.LEAD, teams=[cast.team_b])
    conversation = cast.conversation_b()
    conversation.assignee = cast.agent_a  # an agent of team A helping out in team B
    conversation.save(update_fields=["assignee"])
    people = services.alert_recipients(
        agent_id=cast.agent_a.pk, team_id=cast.team_b.pk, conversation=conversation
    )
    assert {p.pk for p in people} == {cast.agent_a.pk, lead_b.pk}


def test_the_alert_is_sent_once_per_response(client, cast, survey):
    _, token = survey
    answer(client, token, 2)
    answer(client, token, 1)
    answer(client, token, 5)
    answer(client, token, 2, comment="Still slow")
    assert len(low_alerts(cast.agent_a)) == 1
    assert len(low_alerts(cast.lead_a)) == 1


def test_a_score_that_becomes_low_alerts_then(client, cast, survey):
    _, token = survey
    answer(client, token, 4)
    assert low_alerts(cast.agent_a) == []
    answer(client, token, 1)
    assert len(low_alerts(cast.agent_a)) == 1


@pytest.mark.parametrize("score", [3, 4, 5])
def test_a_fair_or_good_score_alerts_nobody(client, cast, survey, score):
    _, token = survey
    answer(client, token, score)
    assert not Notification.objects.filter(kind=Notification.Kind.LOW_SCORE).exists()


def test_low_score_alerts_can_be_turned_off(client, cast, survey):
    rules = SurveySettings.load()
    rules.low_score_alerts = False
    rules.save()
    _, token = survey
    answer(client, token, 1)
    assert not Notification.objects.filter(kind=Notification.Kind.LOW_SCORE).exists()


def test_the_alert_shows_in_the_notifications_page(client, cast, survey):
    _, token = survey
    answer(client, token, 1)
    client.force_login(cast.agent_a)
    html = client.get(reverse("workspace:notifications")).content.decode()
    assert "Low score" in html
    assert "Low CSAT score: 1 of 5" in html
    mark_read(user=cast.agent_a)


def test_thresholds_follow_the_metric_definitions():
    from heedful.insights.metrics import is_low

    assert [s for s in range(1, 6) if is_low("csat", s)] == [1, 2]
    assert [s for s in range(1, 6) if is_low("ces", s)] == [1, 2]
    assert [s for s in range(0, 11) if is_low("nps", s)] == list(range(7))
    assert services.alert_recipients(agent_id=None, team_id=None) == []


# --- the conversation page and the customer panel ------------------------------------------


def conversation_page(client, user, invitation):
    client.force_login(user)
    return client.get(reverse("workspace:conversation", args=[invitation.conversation_id]))


def test_the_answer_shows_on_the_conversation_page(client, cast, survey):
    invitation, token = survey
    answer(client, token, 2, comment="<b>Too</b> slow & unclear")
    response = conversation_page(client, cast.agent_a, invitation)
    assert response.status_code == 200
    html = response.content.decode()
    assert 'id="survey-answers"' in html
    assert "CSAT 2 of 5" in html
    assert "&lt;b&gt;Too&lt;/b&gt; slow &amp; unclear" in html
    assert "<b>Too</b>" not in html
    assert f"credited to {cast.agent_a.display_name}" in html


def test_a_waiting_survey_shows_on_the_conversation_page(client, cast, survey):
    invitation, _ = survey
    html = conversation_page(client, cast.lead_a, invitation).content.decode()
    assert "CSAT survey sent" in html and "not answered yet" in html


def test_the_customer_panel_lists_answers_and_the_opt_out(client, cast, survey):
    invitation, token = survey
    answer(client, token, 5, comment="Lovely")
    client.post(f"/s/{token}/unsubscribe/", {"List-Unsubscribe": "One-Click"})
    html = conversation_page(client, cast.admin, invitation).content.decode()
    panel = html[html.index('id="customer-surveys"') :]
    assert "CSAT 5 of 5" in panel
    assert "Lovely" in panel
    assert "Opted out of surveys" in panel


def test_an_agent_of_another_team_sees_neither_page_nor_answers(client, cast, survey):
    invitation, token = survey
    answer(client, token, 1, comment="Team A was slow")
    assert conversation_page(client, cast.agent_b, invitation).status_code == 404
    # Customer one writes to team B too: agent B's panel shows nothing of team A's survey.
    other = cast.conversation_a(inbox=cast.inbox_b, subject="Other", external_id="<o@c.test>")
    client.force_login(cast.agent_b)
    html = client.get(reverse("workspace:conversation", args=[other.pk])).content.decode()
    panel = html[html.index('id="customer-surveys"') :]
    assert "Team A was slow" not in panel
    assert "No survey answers yet." in panel


def test_no_survey_section_on_a_conversation_without_surveys(client, cast):
    conversation = cast.conversation_a()
    client.force_login(cast.agent_a)
    html = client.get(reverse("workspace:conversation", args=[conversation.pk])).content.decode()
    assert 'id="survey-answers"' not in html
    assert "No survey answers yet." in html
