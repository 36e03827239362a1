"""CSV downloads: content, headers, and the formula-injection guard."""

import csv
import io
from datetime import date
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from heedful.conversations.models import Tag
from heedful.insights.export import csv_text, safe_cell
from heedful.insights.models import DailyRollup, TagRollup
from heedful.surveys.models import SurveyInvitation, SurveyResponse


@pytest.mark.parametrize(
    "text",
    ["=1+1", "+49 30 1234", "-2+3", "@SUM(A1)", "\t=1", "\r=1", '  =HYPERLINK("x")', " \t@x"],
)
def test_text_that_a_spreadsheet_would_run_is_quoted(text: str) -> None:
    assert safe_cell(text) == "'" + text


@pytest.mark.parametrize("text", ["portal", "4 stars", "a=b", "", "e-mail", "1-2"])
def test_plain_text_is_left_alone(text: str) -> None:
    assert safe_cell(text) == text


def test_numbers_we_compute_stay_numbers_even_negative() -> None:
    assert safe_cell(-12.5) == -12.5
    assert safe_cell(-3) == -3
    assert safe_cell(Decimal("-1.5")) == Decimal("-1.5")
    assert safe_cell("-12.5") == "'-12.5"  # text that looks numeric is still user text
    assert safe_cell(None) == ""


def test_a_written_file_reads_back_with_the_guard_applied() -> None:
    text = csv_text(["name", "nps"], [["@evil", -20.0], ['=HYPERLINK("http://x","y")', 5]])
    assert list(csv.reader(io.StringIO(text))) == [
        ["name", "nps"],
        ["'@evil", "-20.0"],
        ['\'=HYPERLINK("http://x","y")', "5"],
    ]


def read(response: Any) -> list[list[str]]:
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    return list(csv.reader(io.StringIO(response.content.decode())))


@pytest.mark.django_db
def test_the_period_table_downloads_as_csv(cast: Any) -> None:
    DailyRollup.objects.create(day=date(2025, 3, 3), created=4, nps_responses=5, nps_detractors=4)
    client = Client()
    client.force_login(cast.admin)
    response = client.get(
        reverse("workspace:insights"),
        {"from": "2025-03-03", "to": "2025-03-04", "format": "csv", "table": "periods"},
    )
    assert response["Content-Disposition"] == (
        'attachment; filename="heedful-insights-2025-03-03-2025-03-04-by-day.csv"'
    )
    rows = read(response)
    header = rows[0]
    assert header[:3] == ["period start", "period end", "Conversations"]
    first = dict(zip(header, rows[1], strict=True))
    assert (first["period start"], first["Conversations"], first["NPS"]) == (
        "2025-03-03",
        "4",
        "-80.0",
    )
    second = dict(zip(header, rows[2], strict=True))
    assert second["Conversations"] == ""  # an empty day is empty, not 0


@pytest.mark.django_db
def test_breakdown_names_are_guarded(cast: Any) -> None:
    tag = Tag.objects.create(name="+danger")
    TagRollup.objects.create(day=date(2025, 3, 3), tag_id=tag.pk, created=2)
    cast.agent_a.name = "@agent"
    cast.agent_a.save()
    DailyRollup.objects.create(day=date(2025, 3, 3), agent_id=cast.agent_a.pk, created=3)
    client = Client()
    client.force_login(cast.admin)
    params = {"from": "2025-03-03", "to": "2025-03-03", "format": "csv", "table": "breakdown"}
    by_tag = read(client.get(reverse("workspace:insights"), {**params, "breakdown": "tag"}))
    assert by_tag[1][:2] == ["'+danger", "2"]
    by_agent = read(client.get(reverse("workspace:insights"), {**params, "breakdown": "agent"}))
    assert by_agent[1][:2] == ["'@agent", "3"]


@pytest.mark.django_db
def test_survey_comments_download_with_formulas_defused(cast: Any) -> None:
    conversation = cast.conversation_a()
    now = timezone.now()
    invitation = SurveyInvitation.objects.create(
        kind="csat", customer=conversation.customer, conversation=conversation,
        status="answered", due_at=now, created_at=now,
    )  # fmt: skip
    SurveyResponse.objects.create(
        invitation=invitation, kind="csat", score=1, customer=conversation.customer,
        comment='=HYPERLINK("http://evil.test","click")', conversation=conversation,
        team=conversation.team, responded_at=now, updated_at=now,
    )  # fmt: skip
    client = Client()
    client.force_login(cast.admin)
    response = client.get(reverse("workspace:insights_comments"), {"format": "csv"})
    assert response["Content-Disposition"] == 'attachment; filename="heedful-survey-comments.csv"'
    rows = read(response)
    assert rows[1][1:4] == ["CSAT", "1", '\'=HYPERLINK("http://evil.test","click")']
    assert rows[1][7] == str(conversation.number)
