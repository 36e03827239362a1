"""/app/search/: the page agents search from."""

import pytest
from django.urls import reverse

from heedful.core import outbox
from heedful.knowledge import services
from heedful.search import articles

pytestmark = pytest.mark.django_db
URL = reverse("workspace:search")


@pytest.fixture(autouse=True)
def no_lag(settings):
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 0


@pytest.fixture
def seen(cast):
    conversation = cast.conversation_a(subject="Broken kettle", text="The kettle whistles <loudly>")
    outbox.run_all()
    return conversation


def page(client, user, **params):
    client.force_login(user)
    return client.get(URL, params)


def test_finds_a_conversation_by_its_message_with_a_highlight(client, cast, seen):
    response = page(client, cast.agent_a, q="whistles")
    body = response.content.decode()
    assert response.status_code == 200
    assert "<mark>whistles</mark>" in body
    assert "&lt;loudly&gt;" in body
    message = seen.messages.get()
    assert f"/app/conversations/{seen.pk}/#message-{message.pk}" in body


def test_another_team_sees_no_trace(client, cast, seen):
    body = page(client, cast.agent_b, q="kettle whistles").content.decode()
    assert "Broken" not in body and "<mark>" not in body
    assert f"/app/conversations/{seen.pk}/" not in body


def test_customers_and_articles_in_the_same_results(client, cast, seen):
    writer = cast.admin
    made = services.create_article(
        actor=writer, title="Descaling a kettle", body_markdown="Use vinegar.", status="published"
    )
    articles.reindex(made.pk)
    body = page(client, cast.agent_a, q="kettle").content.decode()
    assert "Descaling a kettle" in body
    assert reverse("workspace:knowledge_article", args=[made.pk]) in body
    body = page(client, cast.agent_a, q="one@customer.test", type="customers").content.decode()
    assert reverse("workspace:customer", args=[seen.customer_id]) in body


@pytest.mark.parametrize(
    ("params", "reason"),
    [
        ({"status": "bogus"}, "Status"),
        ({"channel": "pigeon"}, "Channel"),
        ({"since": "yesterday-ish"}, "From"),
        ({"since": "2025-05-02", "until": "2025-05-01"}, "end date is before"),
        ({"assignee": "abc"}, "Assignee"),
        ({"tag": "no-such-tag"}, "Tag"),
        ({"page": "0"}, "Page"),
        ({"type": "everything"}, "Type"),
        ({"sort": "random"}, "Sort"),
    ],
)
def test_bad_filters_are_a_400_with_the_reason(client, cast, params, reason):
    response = page(client, cast.agent_a, q="kettle", **params)
    assert response.status_code == 400
    assert reason in response.content.decode()


@pytest.mark.parametrize(
    "query",
    ["", "*", '"', '"open phrase', "x" * 2000, "a\x00b", "NEAR(a b)", "title:x", "^x", "a OR"],
)
def test_any_query_is_answered(client, cast, seen, query):
    assert page(client, cast.agent_a, q=query).status_code == 200


def test_filters_apply_on_the_page(client, cast, seen):
    assert "Broken" in page(client, cast.admin, q="kettle", status="new").content.decode()
    assert "Broken" not in page(client, cast.admin, q="kettle", status="solved").content.decode()


def test_htmx_gets_the_results_only(client, cast, seen):
    client.force_login(cast.agent_a)
    body = client.get(URL, {"q": "kettle"}, HTTP_HX_REQUEST="true").content.decode()
    assert "Broken" in body and "<html" not in body


def test_signed_out_is_sent_to_sign_in(client):
    response = client.get(URL, {"q": "x"})
    assert response.status_code == 302 and "login" in response["Location"]


def test_top_bar_has_the_search_box(client, cast):
    client.force_login(cast.agent_a)
    body = client.get(reverse("workspace:conversations")).content.decode()
    assert f'action="{URL}"' in body and 'id="top-search"' in body
