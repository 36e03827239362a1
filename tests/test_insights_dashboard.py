"""The dashboard pages: who sees what, bad input, annotations, comments, chart data."""

import json
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from heedful.conversations.models import Tag
from heedful.insights.models import Annotation, DailyRollup
from heedful.surveys.models import SurveyInvitation, SurveyResponse

pytestmark = pytest.mark.django_db
DAY = date(2025, 3, 3)
RANGE = {"from": "2025-03-01", "to": "2025-03-07"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


def roll(*, team: int = 0, agent: int = 0, day: date = DAY, **sums: Any) -> None:
    DailyRollup.objects.create(day=day, team_id=team, agent_id=agent, **sums)


@pytest.fixture
def rows(cast: Any) -> None:
    roll(team=cast.team_a.pk, agent=cast.agent_a.pk, created=3)
    roll(team=cast.team_b.pk, agent=cast.agent_b.pk, created=50)


def chart_data(response: Any) -> dict:
    html = response.content.decode()
    marker = '<script id="insights-data" type="application/json">'
    start = html.index(marker) + len(marker)
    return json.loads(html[start : html.index("</script>", start)])


def test_the_admin_dashboard_renders_cards_charts_and_tables(cast: Any, rows: None) -> None:
    Annotation.objects.create(day=DAY, title="Portal launched")
    response = client_for(cast.admin).get(reverse("workspace:insights"), RANGE)
    assert response.status_code == 200
    data = chart_data(response)
    assert data["labels"][2] == "3 Mar"
    assert data["titles"][2] == "3 Mar 2025"
    volume = next(c for c in data["charts"] if c["key"] == "volume")
    assert volume["current"][2] == 53
    assert data["annotations"] == [{"index": 2, "title": "Portal launched", "day": "2025-03-03"}]
    html = response.content.decode()
    assert 'data-chart="volume"' in html and "chart-4.6.1.umd.min.js" in html
    assert "Portal launched" in html


def test_a_lead_sees_their_team_and_not_the_other_teams_agents(cast: Any, rows: None) -> None:
    response = client_for(cast.lead_a).get(
        reverse("workspace:insights"), {**RANGE, "breakdown": "agent"}
    )
    assert response.status_code == 200
    data = chart_data(response)
    volume = next(c for c in data["charts"] if c["key"] == "volume")
    assert volume["current"][2] == 3
    assert data["breakdown"]["labels"] == [cast.agent_a.display_name]
    assert cast.agent_b.display_name not in response.content.decode()


def test_a_lead_naming_another_team_gets_a_form_error(cast: Any, rows: None) -> None:
    response = client_for(cast.lead_a).get(
        reverse("workspace:insights"), {**RANGE, "team": cast.team_b.pk}
    )
    assert response.status_code == 400
    assert "insights-data" not in response.content.decode()


def test_agents_are_sent_to_their_own_dashboard(cast: Any, rows: None) -> None:
    response = client_for(cast.agent_a).get(reverse("workspace:insights"), RANGE)
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:insights_me")


@pytest.mark.parametrize("who, expected", [("agent_a", 3), ("agent_b", 50), ("admin", None)])
def test_the_personal_dashboard_shows_only_ones_own_figures(
    cast: Any, rows: None, who: str, expected: int | None
) -> None:
    other = cast.agent_b if who == "agent_a" else cast.agent_a
    response = client_for(getattr(cast, who)).get(
        reverse("workspace:insights_me"), {**RANGE, "agent": other.pk, "team": cast.team_b.pk}
    )
    assert response.status_code == 200
    volume = next(c for c in chart_data(response)["charts"] if c["key"] == "volume")
    assert volume["current"][2] == expected


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-02-30"},
        {"from": "yesterday"},
        {"to": "0001-01-01"},
        {"from": "2025-03-07", "to": "2025-03-01"},
        {"from": "2020-01-01", "to": "2025-01-01"},
        {"grain": "hour"},
        {"breakdown": "planet"},
        {"inbox": "12345678901234567890123"},
        {"agent": "x"},
        {"channel": "pigeon"},
        {"metric": "happiness"},
    ],
)
def test_bad_filters_give_a_400_with_the_reason(cast: Any, params: dict) -> None:
    response = client_for(cast.admin).get(reverse("workspace:insights"), params)
    assert response.status_code == 400
    assert "These filters cannot be shown." in response.content.decode()


def test_tag_figures_are_for_admins_only(cast: Any) -> None:
    response = client_for(cast.lead_a).get(reverse("workspace:insights"), {"breakdown": "tag"})
    assert response.status_code == 400
    assert (
        client_for(cast.admin).get(reverse("workspace:insights"), {"breakdown": "tag"}).status_code
        == 200
    )


def test_an_admin_adds_and_deletes_an_annotation(cast: Any) -> None:
    client = client_for(cast.admin)
    response = client.post(
        reverse("workspace:insights_annotation_add"),
        {"day": "2025-03-03", "title": "Price change", "description": "+5%", "back": "?grain=week"},
    )
    assert response.status_code == 302
    assert response["Location"] == reverse("workspace:insights") + "?grain=week"
    note = Annotation.objects.get()
    assert (note.day, note.title, note.created_by) == (DAY, "Price change", cast.admin)
    client.post(reverse("workspace:insights_annotation_delete", args=[note.pk]))
    assert not Annotation.objects.exists()


def test_a_bad_annotation_is_not_saved_and_says_why(cast: Any) -> None:
    response = client_for(cast.admin).post(
        reverse("workspace:insights_annotation_add"),
        {"day": "2025-02-31", "title": ""},
        follow=True,
    )
    assert response.status_code == 200
    assert "The annotation was not saved" in response.content.decode()
    assert not Annotation.objects.exists()


@pytest.mark.parametrize("who", ["lead_a", "agent_a", "agent_b"])
def test_only_admins_annotate(cast: Any, who: str) -> None:
    note = Annotation.objects.create(day=DAY, title="Outage")
    client = client_for(getattr(cast, who))
    add = client.post(
        reverse("workspace:insights_annotation_add"), {"day": "2025-03-03", "title": "x"}
    )
    delete = client.post(reverse("workspace:insights_annotation_delete", args=[note.pk]))
    assert (add.status_code, delete.status_code) == (403, 403)
    assert list(Annotation.objects.values_list("title", flat=True)) == ["Outage"]


def test_the_back_link_cannot_leave_the_dashboard(cast: Any) -> None:
    response = client_for(cast.admin).post(
        reverse("workspace:insights_annotation_add"),
        {"day": "2025-03-03", "title": "x", "back": "//evil.test/"},
    )
    assert response["Location"] == reverse("workspace:insights")


# --- survey comments --------------------------------------------------------------------


def respond(conversation: Any, *, kind: str = "csat", score: int, comment: str, **kw: Any) -> Any:
    now = timezone.now()
    invitation = SurveyInvitation.objects.create(
        kind=kind,
        customer=conversation.customer,
        conversation=conversation,
        status="answered",
        due_at=now,
        created_at=now,
    )
    return SurveyResponse.objects.create(
        invitation=invitation,
        kind=kind,
        score=score,
        comment=comment,
        customer=conversation.customer,
        conversation=conversation,
        inbox=conversation.inbox,
        team=conversation.team,
        agent=kw.pop("agent", None),
        responded_at=kw.pop("at", now),
        updated_at=now,
        **kw,
    )


@pytest.fixture
def said(cast: Any) -> dict:
    conv_a, conv_b = cast.conversation_a(), cast.conversation_b()
    portal = Tag.objects.create(name="portal")
    return {
        "a_low": respond(conv_a, score=1, comment="Could not find my invoice in the portal",
                         agent=cast.agent_a, tag_ids=[portal.pk]),
        "a_high": respond(conv_a, kind="ces", score=5, comment="Easy", agent=cast.agent_a),
        "b_mid": respond(conv_b, kind="ces", score=3, comment="So-so from team B",
                         agent=cast.agent_b),
        "portal": portal,
    }  # fmt: skip


def comments_page(user: Any, **params: Any) -> str:
    response = client_for(user).get(reverse("workspace:insights_comments"), params)
    assert response.status_code == 200
    return response.content.decode()


def test_comments_show_beside_their_scores_with_a_link_the_viewer_may_follow(
    cast: Any, said: dict
) -> None:
    html = comments_page(cast.admin)
    assert "Could not find my invoice in the portal" in html and "So-so from team B" in html
    conversation = said["a_low"].conversation
    assert reverse("workspace:conversation", args=[conversation.pk]) in html


def test_comments_filter_by_date(cast: Any, said: dict) -> None:
    SurveyResponse.objects.filter(pk=said["b_mid"].pk).update(
        responded_at=datetime(2025, 1, 10, 12, tzinfo=UTC)
    )
    html = comments_page(cast.admin, **{"from": "2025-01-10", "to": "2025-01-10"})
    assert "So-so from team B" in html and "Easy" not in html


def test_comments_filter_by_band_kind_and_tag(cast: Any, said: dict) -> None:
    low = comments_page(cast.admin, band="low")
    assert "Could not find my invoice" in low and "Easy" not in low
    ces = comments_page(cast.admin, kind="ces")
    assert "Easy" in ces and "Could not find" not in ces
    tagged = comments_page(cast.admin, tag=said["portal"].pk)
    assert "Could not find my invoice" in tagged and "So-so" not in tagged
    neutral = comments_page(cast.admin, band="neutral")
    assert "So-so" in neutral and "Easy" not in neutral


def test_comments_follow_the_dashboard_scope(cast: Any, said: dict) -> None:
    lead = comments_page(cast.lead_a)
    assert "Could not find my invoice" in lead and "So-so from team B" not in lead
    agent_b = comments_page(cast.agent_b)
    assert "So-so from team B" in agent_b and "Could not find" not in agent_b
    agent_a = comments_page(cast.agent_a)
    assert "Easy" in agent_a and "So-so" not in agent_a


def test_comment_pages_are_keyset_paged(cast: Any, said: dict, monkeypatch: Any) -> None:
    from heedful.workspace.views import insights

    monkeypatch.setattr(insights, "COMMENTS_PER_PAGE", 2)
    base = datetime(2025, 3, 3, 12, tzinfo=UTC)
    for name, hours in (("a_low", 3), ("a_high", 2), ("b_mid", 1)):
        SurveyResponse.objects.filter(pk=said[name].pk).update(
            responded_at=base - timedelta(hours=hours)
        )
    client = client_for(cast.admin)
    first = client.get(reverse("workspace:insights_comments")).content.decode()
    assert "So-so" in first and "Easy" in first and "Could not find" not in first
    cursor = first.split('href="?before=')[1].split('"')[0].replace("&amp;", "&")
    second = client.get(
        reverse("workspace:insights_comments") + "?before=" + cursor
    ).content.decode()
    assert "Could not find" in second and "So-so" not in second


@pytest.mark.parametrize(
    "params",
    [{"before": "garbage"}, {"before": "2025-03-03T10:00:00_x"}, {"score": "11"},
     {"tag": "999999"}, {"from": "2025-13-01"}, {"band": "awful"}, {"to": "9999-12-31"},
     {"from": "2025-03-05", "to": "2025-03-01"},
     {"before": "0001-01-01T00:00:00+01:00_5"}, {"before": "9999-12-31T23:59:59-01:00_5"}],
)  # fmt: skip
def test_bad_comment_filters_give_a_400(cast: Any, params: dict) -> None:
    response = client_for(cast.admin).get(reverse("workspace:insights_comments"), params)
    assert response.status_code == 400


def test_the_personal_dashboard_lists_the_agents_recent_comments(cast: Any, said: dict) -> None:
    response = client_for(cast.agent_a).get(reverse("workspace:insights_me"))
    html = response.content.decode()
    assert "Could not find my invoice" in html and "So-so from team B" not in html


def test_signed_out_visitors_are_sent_to_sign_in(db: None) -> None:
    for name in ("insights", "insights_me", "insights_comments"):
        response = Client().get(reverse(f"workspace:{name}"))
        assert response.status_code == 302 and "/login/" in response["Location"]


def test_annotations_are_managed_in_the_django_admin_too(cast: Any) -> None:
    client = client_for(cast.admin)
    response = client.post(
        reverse("admin:insights_annotation_add"),
        {"day": "2025-03-03", "title": "Outage", "description": ""},
    )
    assert response.status_code == 302
    assert Annotation.objects.get().created_by == cast.admin
    assert client.get(reverse("admin:insights_annotation_changelist")).status_code == 200
    assert (
        client_for(cast.lead_a).get(reverse("admin:insights_annotation_changelist")).status_code
        == 302
    )
