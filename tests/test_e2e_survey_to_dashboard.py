"""The whole survey loop in a real browser (Debian's chromium via Playwright): a CSAT
email goes out over SMTP, the customer clicks a score button in it, confirms on the
survey page and explains, and an admin sees the score and the comment on the dashboard."""

import re
from typing import Any

import pytest
from playwright.sync_api import expect

from heedful.surveys import services
from heedful.surveys.models import SurveyResponse
from tests.browser_support import CHROMIUM, SHOTS, signed_in_page
from tests.email_support import (
    secrets_key,  # noqa: F401 (an autouse fixture)
    use_smtp,
)
from tests.smtp_server import smtp_server  # noqa: F401 (a fixture)
from tests.test_surveys_schedule import answer_and_solve, enable, no_outbox_lag  # noqa: F401

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed"),
    pytest.mark.timeout(120),
    pytest.mark.filterwarnings("ignore:Requiring AUTH while not requiring TLS:UserWarning"),
]

SCORE_LINK = re.compile(r'href="(https?://[^"]+/s/[A-Za-z0-9_-]+/\?score=(\d+))"')


def emailed_score_links(settings: Any, base_url: str, cast: Any, smtp: Any) -> dict[str, str]:
    """Solve a conversation, send its CSAT survey; the HTML email's buttons by score."""
    settings.BASE_URL = base_url  # links in the email point at the test server
    use_smtp(cast.inbox_a, smtp)
    enable(cast.inbox_a, delay_minutes=0)
    answer_and_solve(cast, name="Ann Lee", subject="Broken kettle")
    assert services.send_due() == 1
    # The agent's reply went out over the same server first; the survey is the last email.
    survey = smtp.received[-1].message
    assert survey["Subject"] == "How did we do?"
    html = survey.get_body(("html",)).get_content()
    return {score: url.replace("&amp;", "&") for url, score in SCORE_LINK.findall(html)}


def test_a_customer_answers_the_emailed_survey_and_the_dashboard_shows_it(
    settings: Any,
    cast: Any,
    server: str,
    browser: Any,
    smtp_server: Any,  # noqa: F811
) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    links = emailed_score_links(settings, server, cast, smtp_server)
    assert sorted(links) == ["1", "2", "3", "4", "5"]

    # The customer clicks "5" in the email: the page opens with 5 chosen, nothing saved yet.
    customer = browser.new_context(viewport={"width": 420, "height": 800}).new_page()
    customer.goto(links["5"])
    expect(customer.locator("input[name=score][value='5']")).to_be_checked()
    assert not SurveyResponse.objects.exists()
    customer.screenshot(path=str(SHOTS / "survey-page.png"), full_page=True)
    # One press of Send records it; then the reason, and done.
    customer.click("button[type=submit].primary")
    expect(customer.locator(".survey-saved")).to_be_visible()
    assert SurveyResponse.objects.get().score == 5
    customer.fill("textarea[name=comment]", "Quick and kind, the kettle works again")
    customer.click("button[name=done]")
    expect(customer.locator("h1")).to_contain_text("Thank")
    response = SurveyResponse.objects.get()
    assert (response.score, response.completed) == (5, True)

    errors: list[str] = []
    page = signed_in_page(browser, server, cast.admin, errors)
    page.goto(f"{server}/app/insights/?breakdown=agent")
    csat = page.locator(".in-card", has_text="CSAT").first
    expect(csat.locator(".in-card-value")).to_have_text("100.0 %")
    breakdown = page.locator("section[aria-labelledby=sec-breakdown] tbody tr")
    agent_row = breakdown.filter(has_text=cast.agent_a.display_name)
    expect(agent_row).to_contain_text("100.0 %")
    page.screenshot(path=str(SHOTS / "survey-on-dashboard.png"), full_page=True)
    page.goto(f"{server}/app/insights/comments/")
    expect(page.locator("main")).to_contain_text("Quick and kind, the kettle works again")
    assert errors == []
