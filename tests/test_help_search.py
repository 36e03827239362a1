# ruff: noqa: F811  (pytest fixtures imported from tests.help_support are arguments here)
"""Help-center search (/help/search/) through the real article search: public
articles only, highlighted snippets, paging, hostile queries."""

import pytest
from django.test import Client

from heedful.knowledge.models import HelpEvent, HelpEventKind
from tests.help_support import Kb, kb, url, visitor, write  # noqa: F401

pytestmark = pytest.mark.django_db


def test_search_finds_public_articles_with_highlighted_snippets(visitor: Client, kb: Kb) -> None:
    response = visitor.get("/help/search/", {"q": "refunds"})
    page = response.content.decode()
    assert response.status_code == 200
    assert "How refunds work" in page
    assert f'href="{url(kb.refunds)}"' in page
    assert "<mark>" in page.lower()
    for title in ("Secret draft", "Old refunds", "Internal refunds"):
        assert title not in page
    search = HelpEvent.objects.get(kind=HelpEventKind.SEARCH)
    assert (search.query, search.results) == ("refunds", 1)


def test_no_results_points_to_contact_us_and_is_recorded_as_zero(visitor: Client, kb: Kb) -> None:
    page = visitor.get("/help/search/", {"q": "zeppelin"}).content.decode()
    assert "No articles match" in page
    assert 'href="/contact/"' in page
    assert HelpEvent.objects.get(kind=HelpEventKind.SEARCH).results == 0


def test_results_are_paged(
    visitor: Client, kb: Kb, cast, django_capture_on_commit_callbacks
) -> None:  # type: ignore[no-untyped-def]
    with django_capture_on_commit_callbacks(execute=True):
        for n in range(12):
            write(cast.agent_a, f"Gift card question {n}", "About gift cards.")
    first = visitor.get("/help/search/", {"q": "gift"}).content.decode()
    assert first.count('class="hc-snippet"') == 10 and 'rel="next"' in first
    second = visitor.get("/help/search/", {"q": "gift", "page": "2"}).content.decode()
    assert second.count('class="hc-snippet"') == 2 and 'rel="prev"' in second
    assert HelpEvent.objects.get(kind=HelpEventKind.SEARCH).results == 12


@pytest.mark.parametrize(
    "query",
    [
        '<script>alert("q")</script>',
        '"unbalanced',
        "refunds*",
        "NEAR(refunds card)",
        "refunds AND OR NOT",
        "title:refunds",
        "-refunds ^card",
        "{}[]()!!::''",
        "\x00refunds",
        "🙂" * 300,
    ],
)
def test_hostile_queries_are_escaped_and_never_fail(visitor: Client, kb: Kb, query: str) -> None:
    response = visitor.get("/help/search/", {"q": query, "page": "x"})
    assert response.status_code == 200
    assert "<script>alert" not in response.content.decode()


def test_suggestions_come_from_public_articles_only(visitor: Client, kb: Kb) -> None:
    html = visitor.post(
        "/help/suggest/", {"subject": "Refunds", "message": "when do refunds arrive?"}
    ).content.decode()
    assert "How refunds work" in html
    for title in ("Secret draft", "Old refunds", "Internal refunds"):
        assert title not in html
    assert HelpEvent.objects.get(kind=HelpEventKind.SUGGESTIONS_SHOWN).articles == [kb.refunds.pk]
