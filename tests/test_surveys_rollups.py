"""Every survey change moves the daily rollups (through insights.rollups.sync_survey) the
way a rebuild from scratch would; and the credited agent's record."""

import pytest
from django.db.models import Sum

from heedful.insights.models import DailyRollup
from heedful.insights.rollups import rebuild_metrics
from heedful.surveys.models import SurveyResponse
from tests.test_surveys_schedule import (  # noqa: F401
    answer_and_solve,
    enable,
    invited,
    no_outbox_lag,
    send_now,
)

pytestmark = pytest.mark.django_db

FIELDS = ("csat_sent", "csat_answered", "csat_responses", "csat_positive", "csat_sum")


def totals(agent_id: int) -> dict[str, int]:
    found = DailyRollup.objects.filter(agent_id=agent_id).aggregate(
        **{name: Sum(name) for name in FIELDS}
    )
    return {name: found[name] or 0 for name in FIELDS}


def rebuilt_totals(agent_id: int) -> dict[str, int]:
    rebuild_metrics()
    return totals(agent_id)


def test_sent_answered_and_changed_scores_move_the_rollups(client, cast, clock):
    _, token = invited(cast, clock)
    agent = cast.agent_a.pk
    assert totals(agent) == dict.fromkeys(FIELDS, 0) | {"csat_sent": 1}
    client.post(f"/s/{token}/", {"score": "2"})
    expected = {
        "csat_sent": 1,
        "csat_answered": 1,
        "csat_responses": 1,
        "csat_positive": 0,
        "csat_sum": 2,
    }
    assert totals(agent) == expected
    client.post(f"/s/{token}/", {"score": "5", "comment": "Sorted in the end"})
    changed = expected | {"csat_positive": 1, "csat_sum": 5}
    assert totals(agent) == changed
    assert rebuilt_totals(agent) == changed


def test_a_failed_send_is_not_counted_as_sent(cast, clock, mailoutbox, monkeypatch):
    from heedful.inboxes.registry import DeliveryResult
    from heedful.surveys import delivery

    def refuse(self, invitation, link):
        return DeliveryResult(ok=False, error="550 refused", permanent=True)

    monkeypatch.setattr(delivery.EmailSurveyDelivery, "send", refuse)
    enable(cast.inbox_a)
    answer_and_solve(cast)
    assert send_now(clock) == 0
    assert totals(cast.agent_a.pk)["csat_sent"] == 0
    assert rebuilt_totals(cast.agent_a.pk)["csat_sent"] == 0


def test_the_credited_agent_keeps_the_answer_after_reassignment(client, cast, clock):
    from heedful.conversations.services import assign

    invitation, token = invited(cast, clock)
    assign(conversation=invitation.conversation, agent=cast.lead_a, actor=cast.lead_a)
    client.post(f"/s/{token}/", {"score": "4"})
    assert list(SurveyResponse.objects.credited_to(cast.agent_a)) == [SurveyResponse.objects.get()]
    assert not SurveyResponse.objects.credited_to(cast.lead_a).exists()


def test_visible_to_follows_the_conversation_rule(client, cast, clock):
    _, token = invited(cast, clock)
    client.post(f"/s/{token}/", {"score": "4"})
    assert SurveyResponse.objects.visible_to(cast.agent_a).count() == 1
    assert SurveyResponse.objects.visible_to(cast.admin).count() == 1
    assert SurveyResponse.objects.visible_to(cast.agent_b).count() == 0
