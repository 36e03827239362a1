"""The Insights feed at /app/insights/feed/: who sees which findings, paging, escaping."""

from datetime import date, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from heedful.accounts.models import User
from heedful.insights.models import Annotation, Insight
from tests.conftest import Cast

URL = "/app/insights/feed/"
DAY = date(2025, 3, 10)


def insight(day: date = DAY, **kw: Any) -> Insight:
    values: dict[str, Any] = {
        "detected_on": day,
        "metric": "volume",
        "since": day - timedelta(days=7),
        "before_value": 150.0,
        "after_value": 167.0,
        "change_percent": 11.3,
        "p_value": 0.004,
        "q_value": 0.02,
        "sentence": "Since 3 Mar conversations are up 11% (150 to 167 a day, p < 0.01).",
    }
    return Insight.objects.create(**values | kw)


def client_for(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_the_url_is_named(db: None) -> None:
    assert reverse("workspace:insight_feed") == URL


def test_admins_see_every_finding_newest_first(cast: Cast) -> None:
    annotation = Annotation.objects.create(day=DAY - timedelta(days=7), title="Portal launched")
    insight(
        drivers=[{"dimension": "tag", "segment_id": 4, "label": "portal-navigation", "share": 72}],
        comments=["could not find my invoice in the portal"],
        annotation=annotation,
    )
    insight(metric="csat", sentence="Since 3 Mar CSAT fell from 4.4 to 3.9.", q_value=0.03)
    insight(day=DAY - timedelta(days=3), sentence="Older finding about NPS.", metric="nps")
    insight(
        dimension="team",
        segment_id=cast.team_b.pk,
        segment_label="Team B",
        sentence="Team B finding.",
    )
    response = client_for(cast.admin).get(URL)
    assert response.status_code == 200
    html = response.content.decode()
    assert html.index("Since 3 Mar conversations are up 11%") < html.index(
        "Older finding about NPS."
    )
    assert "Team B finding." in html
    assert "portal-navigation · 72%" in html
    assert "could not find my invoice in the portal" in html
    assert "Annotation: Portal launched" in html
    # The group's lead row tells the story; the CSAT row is one line of its table.
    assert "Since 3 Mar CSAT fell from 4.4 to 3.9." not in html
    assert "<td>CSAT</td>" in html


def test_leads_see_only_the_teams_they_lead(cast: Cast) -> None:
    insight(sentence="Workspace-wide finding.")
    insight(
        dimension="team", segment_id=cast.team_a.pk, segment_label="Team A", sentence="About A."
    )
    insight(
        dimension="team", segment_id=cast.team_b.pk, segment_label="Team B", sentence="About B."
    )
    html = client_for(cast.lead_a).get(URL).content.decode()
    assert "About A." in html
    assert "About B." not in html
    assert "Workspace-wide finding." not in html


@pytest.mark.parametrize("who", ["agent_a", "agent_b"])
def test_agents_are_refused(cast: Cast, who: str) -> None:
    insight(sentence="Secret finding.")
    response = client_for(getattr(cast, who)).get(URL)
    assert response.status_code == 403
    assert b"Secret finding." not in response.content


def test_signed_out_visitors_are_sent_to_sign_in(db: None) -> None:
    response = Client().get(URL)
    assert response.status_code == 302
    assert "/login" in response["Location"]


def test_pages_hold_whole_days(cast: Cast) -> None:
    for back in range(16):
        insight(day=DAY - timedelta(days=back), sentence=f"Finding {back} days back.")
    client = client_for(cast.admin)
    first = client.get(URL).content.decode()
    assert "Finding 13 days back." in first and "Finding 14 days back." not in first
    assert f"?before={(DAY - timedelta(days=13)).isoformat()}" in first
    second = client.get(URL, {"before": (DAY - timedelta(days=13)).isoformat()}).content.decode()
    assert "Finding 14 days back." in second and "Finding 15 days back." in second
    assert "Finding 13 days back." not in second


def test_a_bad_cursor_is_a_clear_400(cast: Cast) -> None:
    response = client_for(cast.admin).get(URL, {"before": "yesterday"})
    assert response.status_code == 400
    assert "must look like" in response.content.decode()


def test_nothing_yet_says_so(cast: Cast) -> None:
    assert "No insights yet." in client_for(cast.admin).get(URL).content.decode()


def test_text_from_outside_is_escaped(cast: Cast) -> None:
    insight(
        sentence="Since 3 Mar (<img src=x onerror=alert(1)>) conversations are up.",
        comments=["<script>alert(1)</script>"],
    )
    html = client_for(cast.admin).get(URL).content.decode()
    assert "<img src=x" not in html and "<script>alert(1)" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html
