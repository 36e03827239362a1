"""The help-center dashboard: who sees it, the figures, CSV downloads, bad input."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client
from django.urls import reverse

from heedful.knowledge.models import (
    Article,
    ArticleFeedback,
    ArticleStatus,
    ArticleTranslation,
    HelpEvent,
    HelpEventKind,
    HelpSession,
)

pytestmark = pytest.mark.django_db
URL = "/app/insights/help/"
RANGE = {"from": "2025-03-01", "to": "2025-03-07"}


def client_for(user: Any) -> Client:
    client = Client()
    client.force_login(user)
    return client


@pytest.fixture
def visits(cast: Any) -> Article:
    """Two visits that read "=HYPERLINK gift" (a hostile title), one of which wrote in;
    one search that found nothing."""
    read = Article.objects.create(status=ArticleStatus.PUBLISHED)
    ArticleTranslation.objects.create(
        article=read, language="en", title="=HYPERLINK gift <b>cards</b>", slug="gift-cards",
        updated_at=datetime(2025, 3, 1, tzinfo=UTC),
    )  # fmt: skip
    for number, (visitor, hour) in enumerate((("a", 9), ("b", 10))):
        moment = datetime(2025, 3, 3, hour, tzinfo=UTC)
        visit = HelpSession.objects.create(
            key=f"k{number}", visitor=visitor, started_at=moment, last_seen_at=moment,
            engaged_at=moment,
        )  # fmt: skip
        HelpEvent.objects.create(
            session=visit, kind=HelpEventKind.VIEW, article=read, created_at=moment
        )
        if visitor == "b":
            HelpEvent.objects.create(
                session=visit, kind=HelpEventKind.CONTACT, created_at=moment + timedelta(hours=1)
            )
            HelpEvent.objects.create(
                session=visit, kind=HelpEventKind.SEARCH, query="invoice portal", results=0,
                created_at=moment,
            )  # fmt: skip
    ArticleFeedback.objects.create(
        article=read, language="en", helpful=True, created_at=datetime(2025, 3, 3, tzinfo=UTC)
    )
    return read


def test_the_url_and_the_tab(cast: Any) -> None:
    assert reverse("workspace:insights_help") == URL
    html = client_for(cast.admin).get(reverse("workspace:insights_comments")).content.decode()
    assert f'href="{URL}"' in html
    html = client_for(cast.agent_a).get(reverse("workspace:insights_comments")).content.decode()
    assert f'href="{URL}"' not in html


def test_an_admin_sees_the_figures(cast: Any, visits: Article) -> None:
    response = client_for(cast.admin).get(URL, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "50.0 %" in html  # deflected at 24 h: one of two
    assert "1 of 2; 0 pending" in html
    assert "invoice portal" in html and "How deflection is counted" in html
    assert "A help-center visit (bots are never counted)" in html
    # The title is escaped, and the article links to its public page and its editor.
    assert "&lt;b&gt;cards&lt;/b&gt;" in html and "<b>cards</b>" not in html
    assert f'href="/help/articles/{visits.pk}/"' in html
    assert f'href="/app/knowledge/{visits.pk}/"' in html
    assert '<script id="insights-data" type="application/json">' in html
    assert "chart-4.6.1.umd.min.js" in html


def test_a_lead_is_told_why_not_and_sees_no_figures(cast: Any, visits: Article) -> None:
    response = client_for(cast.lead_a).get(URL, RANGE)
    assert response.status_code == 200
    html = response.content.decode()
    assert "only admins see them" in html
    assert "invoice portal" not in html and "insights-data" not in html
    csv = client_for(cast.lead_a).get(URL, {**RANGE, "format": "csv", "table": "articles"})
    assert csv.status_code == 200 and csv["Content-Type"].startswith("text/html")


def test_an_agent_gets_403(cast: Any, visits: Article) -> None:
    assert client_for(cast.agent_a).get(URL, RANGE).status_code == 403
    assert Client().get(URL).status_code == 302  # to the sign-in page


def test_csv_downloads_guard_formulas(cast: Any, visits: Article) -> None:
    client = client_for(cast.admin)
    articles = client.get(URL, {**RANGE, "format": "csv", "table": "articles"})
    assert articles.status_code == 200
    assert articles["Content-Disposition"].startswith("attachment;")
    text = articles.content.decode()
    assert text.splitlines()[0].startswith("article id,title,public,views")
    assert "'=HYPERLINK gift <b>cards</b>" in text
    assert f"{visits.pk},'=HYPERLINK gift <b>cards</b>,yes,2,2,1,0,100.0,2,1,50.0" in text
    gaps = client.get(URL, {**RANGE, "format": "csv", "table": "no-results"}).content.decode()
    assert "invoice portal,1," in gaps
    trend = client.get(URL, {**RANGE, "format": "csv", "table": "trend"}).content.decode()
    assert "2025-03-03,2025-03-03,2,2,1,2,50.0,0" in trend
    for table in ("rewrite", "followed-searches"):
        assert client.get(URL, {**RANGE, "format": "csv", "table": table}).status_code == 200


@pytest.mark.parametrize(
    "params",
    [
        {"from": "2025-13-01"},
        {"from": "2025-03-07", "to": "2025-03-01"},
        {"from": "0001-01-01"},
        {"from": "2020-01-01", "to": "2025-01-01"},
        {"from": "2024-01-01", "to": "2024-12-31", "grain": "day"},
        {"grain": "year"},
        {"min_views": "-3"},
        {"min_views": "lots"},
        {"format": "csv", "table": "passwords"},
    ],
)
def test_bad_filters_are_a_400_with_reasons(cast: Any, params: dict[str, str]) -> None:
    response = client_for(cast.admin).get(URL, params)
    assert response.status_code == 400
    assert "These filters cannot be shown." in response.content.decode()
