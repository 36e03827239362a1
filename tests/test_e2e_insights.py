"""The dashboards in a real browser (Debian's chromium via Playwright): charts draw
from the vendored Chart.js with annotation markers, and no script error shows."""

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from heedful.insights.models import Annotation, DailyRollup
from tests.browser_support import CHROMIUM, SHOTS, signed_in_page

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(120),
]


def test_the_dashboard_draws_its_charts_with_annotations(
    cast: Any, server: str, browser: Any
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    today = timezone.localdate()
    for days_ago in range(20):
        DailyRollup.objects.create(
            day=today - timedelta(days=days_ago),
            team_id=cast.team_a.pk,
            agent_id=cast.agent_a.pk,
            created=5 + days_ago % 3,
            csat_responses=4,
            csat_positive=3,
            csat_sum=16,
        )
    Annotation.objects.create(day=today - timedelta(days=5), title="Portal launched")
    errors: list[str] = []
    page = signed_in_page(browser, server, cast.admin, errors)
    page.goto(f"{server}/app/insights/?breakdown=agent")
    page.wait_for_selector("canvas[data-chart=volume]")
    # Chart.js registers every chart it draws; the annotation plugin is registered too.
    drawn = page.evaluate(
        "() => Object.keys(Chart.instances).length"
        " + (Chart.registry.plugins.get('annotation') ? 1000 : 0)"
    )
    canvases = page.locator("canvas[data-chart]").count()
    assert drawn == 1000 + canvases and canvases > 20
    marker = page.evaluate(
        "() => Object.values(Chart.getChart(document.querySelector('canvas[data-chart=volume]'))"
        ".options.plugins.annotation.annotations)[0].label.content"
    )
    assert marker == "Portal launched"
    assert "Portal launched" in page.inner_text("#sec-notes + ul")
    page.screenshot(path=str(SHOTS / "insights-dashboard.png"), full_page=True)

    agent = signed_in_page(browser, server, cast.agent_a, errors)
    agent.goto(f"{server}/app/insights/me/")
    agent.wait_for_selector("canvas[data-chart=csat]")
    assert agent.evaluate("() => Object.keys(Chart.instances).length") > 20
    assert errors == []
