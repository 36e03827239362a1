# ruff: noqa: F811  (pytest fixtures imported from tests.help_support are arguments here)
"""What visitors do in the help center: votes, and the events recorded for them (and
not for crawlers); the contact form's link between a visit and the customer."""

import pytest
from django.test import Client

from heedful.knowledge.models import ArticleFeedback, HelpEvent, HelpEventKind, HelpSession
from heedful.search import articles as article_search
from tests.help_support import CHROME, GOOGLEBOT, Kb, kb, url, visitor  # noqa: F401

pytestmark = pytest.mark.django_db


def vote(client: Client, kb: Kb, helpful: str, comment: str = "", **extra: object):  # type: ignore[no-untyped-def]
    return client.post(
        f"/help/articles/{kb.refunds.pk}/vote/",
        {"helpful": helpful, "comment": comment},
        **extra,  # type: ignore[arg-type]
    )


def test_a_vote_is_stored_once_per_visit_and_a_second_changes_it(visitor: Client, kb: Kb) -> None:
    visitor.get(url(kb.refunds))
    first = vote(visitor, kb, "no", "The card part is unclear.")
    assert first.status_code == 302
    assert first["Location"] == url(kb.refunds) + "#feedback"
    page = visitor.get(first["Location"]).content.decode()
    assert "Thanks for your feedback" in page and "not helpful" in page
    vote(visitor, kb, "yes")
    feedback = ArticleFeedback.objects.get()
    assert feedback.helpful is True and feedback.comment == ""
    assert feedback.session == HelpSession.objects.get()
    assert HelpEvent.objects.filter(kind=HelpEventKind.VOTE, article=kb.refunds).count() == 2
    # Another browser is another visit, so another answer.
    vote(Client(HTTP_USER_AGENT=visitor.defaults["HTTP_USER_AGENT"]), kb, "no")
    assert ArticleFeedback.objects.count() == 2


def test_a_too_long_comment_is_a_clear_error_and_nothing_is_stored(visitor: Client, kb: Kb) -> None:
    response = vote(visitor, kb, "no", "x" * 2001)
    assert response.status_code == 400
    assert "under 2,000 characters" in response.content.decode()
    assert not ArticleFeedback.objects.exists()


def test_a_vote_without_an_answer_is_a_clear_error(visitor: Client, kb: Kb) -> None:
    response = vote(visitor, kb, "maybe", "<b>kept</b>")
    assert response.status_code == 400
    assert "Please choose Yes or No." in response.content.decode()
    # The typed comment comes back, escaped, so nothing is lost and nothing runs.
    assert "&lt;b&gt;kept&lt;/b&gt;" in response.content.decode()


def test_hostile_comments_are_stored_as_typed_and_shown_nowhere_raw(
    visitor: Client, kb: Kb
) -> None:
    hostile = "<script>alert(1)</script><img src=x onerror=alert(2)>"
    vote(visitor, kb, "no", hostile)
    assert ArticleFeedback.objects.get().comment == hostile
    page = visitor.get(url(kb.refunds)).content.decode()
    assert "<script>alert(1)" not in page and "onerror=alert" not in page


def test_votes_need_a_csrf_token(kb: Kb) -> None:
    strict = Client(enforce_csrf_checks=True, HTTP_USER_AGENT="Mozilla/5.0 Chrome/131.0")
    assert vote(strict, kb, "yes").status_code == 403
    assert not ArticleFeedback.objects.exists()


def test_votes_are_rate_limited_per_client_address(visitor: Client, kb: Kb, settings) -> None:  # type: ignore[no-untyped-def]
    settings.HEEDFUL_HELP_RATE = "2/m"
    assert vote(visitor, kb, "yes").status_code == 302
    assert vote(visitor, kb, "no").status_code == 302
    limited = vote(visitor, kb, "yes")
    assert limited.status_code == 429
    assert "Please wait a minute" in limited.content.decode()
    assert ArticleFeedback.objects.get().helpful is False


def test_searches_are_rate_limited_per_client_address(visitor: Client, kb: Kb, settings) -> None:  # type: ignore[no-untyped-def]
    settings.HEEDFUL_HELP_RATE = "2/m"
    for _ in range(2):
        assert visitor.get("/help/search/?q=refunds").status_code == 200
    limited = visitor.get("/help/search/?q=refunds")
    assert limited.status_code == 429 and "Please wait a minute" in limited.content.decode()
    # Another address is not held back.
    assert visitor.get("/help/search/?q=refunds", REMOTE_ADDR="10.0.0.9").status_code == 200
    # Suggestions count apart from searches.
    statuses = [visitor.post("/help/suggest/", {"q": "refunds"}).status_code for _ in range(3)]
    assert statuses == [200, 200, 429]


def test_a_browser_visit_is_recorded_and_a_crawler_is_not(visitor: Client, kb: Kb) -> None:
    bot = Client(HTTP_USER_AGENT=GOOGLEBOT)
    assert bot.get(url(kb.refunds)).status_code == 200
    assert bot.get("/help/search/?q=refunds").status_code == 200
    vote(bot, kb, "no")
    assert not HelpSession.objects.exists() and not HelpEvent.objects.exists()
    assert not ArticleFeedback.objects.exists()

    response = visitor.get(url(kb.refunds))
    assert "hd_visit" in response.cookies and "hd_visitor" in response.cookies
    visitor.get(url(kb.shipping) + "?from=suggestion")
    kinds = list(HelpEvent.objects.order_by("id").values_list("kind", "article"))
    assert kinds == [
        (HelpEventKind.VIEW, kb.refunds.pk),
        (HelpEventKind.VIEW, kb.shipping.pk),
        (HelpEventKind.SUGGESTION_CLICKED, kb.shipping.pk),
    ]
    assert HelpSession.objects.get().engaged_at is not None


def test_searches_are_recorded_on_their_first_page_only(visitor: Client, kb: Kb) -> None:
    visitor.get("/help/search/?q=Refunds++Work")
    visitor.get("/help/search/?q=refunds+work&page=2")
    visitor.get("/help/search/?q=")
    searches = HelpEvent.objects.filter(kind=HelpEventKind.SEARCH)
    assert list(searches.values_list("query", flat=True)) == ["refunds work"]
    assert searches.get().results is not None


def hit(kb: Kb, article):  # type: ignore[no-untyped-def]
    translation = article.translations.get()
    return article_search.ArticleHit(article, translation, translation.title, 1.0)


def test_suggestions_show_public_articles_and_record_what_was_shown(
    visitor: Client, kb: Kb, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Whatever the search returns, the fragment shows public articles only.
    returned = [hit(kb, kb.refunds), hit(kb, kb.draft), hit(kb, kb.internal), hit(kb, kb.shipping)]
    monkeypatch.setattr(article_search, "suggest_articles", lambda *a, **k: returned)
    fragment = visitor.post("/help/suggest/", {"subject": "refund", "message": "my card"})
    html = fragment.content.decode()
    assert "How refunds work" in html and "Shipping times" in html
    assert "Secret draft" not in html and "Internal refunds" not in html
    assert "from=suggestion" in html
    assert "<html" not in html  # a fragment, not a page
    # Typing on with the same suggestions records them once.
    visitor.post("/help/suggest/", {"subject": "refunds", "message": "my card"})
    shown = HelpEvent.objects.get(kind=HelpEventKind.SUGGESTIONS_SHOWN)
    assert shown.articles == [kb.refunds.pk, kb.shipping.pk]


def test_no_suggestions_for_short_text_and_nothing_recorded(visitor: Client, kb: Kb) -> None:
    response = visitor.post("/help/suggest/", {"q": "hi"})
    assert response.status_code == 200 and response.content.strip() == b""
    assert not HelpEvent.objects.exists()


def test_the_contact_form_records_the_contact_but_never_links_the_typed_customer(
    visitor: Client, kb: Kb, webform: object
) -> None:
    visitor.get(url(kb.refunds))
    response = visitor.post(
        "/contact/",
        {
            "name": "Ann Lee",
            "email": "ann@example.com",
            "subject": "Refund",
            "message": "Where is my refund?",
            "submission_id": "abc123",
        },
    )
    assert response.status_code == 302
    contact = HelpEvent.objects.get(kind=HelpEventKind.CONTACT)
    assert contact.conversation is not None
    session = HelpSession.objects.get()
    assert contact.session == session
    # Anyone can type anyone's address: only a portal sign-in proves who the visitor is.
    assert session.customer is None


def test_the_contact_form_asks_for_suggestions_as_the_visitor_types(
    visitor: Client, webform: object
) -> None:
    page = visitor.get("/contact/").content.decode()
    assert 'hx-post="/help/suggest/"' in page and 'aria-live="polite"' in page
    assert "htmx" in page and "delay:" in page


def test_suggestions_are_asked_for_by_post_so_drafts_stay_out_of_access_logs(
    visitor: Client, kb: Kb
) -> None:
    assert visitor.get("/help/suggest/?q=refunds").status_code == 405
    strict = Client(HTTP_USER_AGENT=CHROME, enforce_csrf_checks=True)
    assert strict.post("/help/suggest/", {"q": "refunds"}).status_code == 403
