"""The conversation page's assist panel: suggested articles with "Insert link" and
"Insert text", and similar solved conversations through the access rule (run on
SQLite and on PostgreSQL: the two full-text backends)."""

from typing import Any

import pytest
from django.urls import reverse

from heedful.conversations import services as conversations
from heedful.core import outbox
from heedful.knowledge import services as knowledge
from heedful.knowledge.models import Article
from heedful.search import articles
from heedful.search.similar import similar_solved

pytestmark = pytest.mark.django_db

ROUTER = "Why does my router keep dropping the wifi connection every evening?"


def article(cast: Any, title: str, body: str, **kw: Any) -> Article:
    kw.setdefault("status", "published")
    made = knowledge.create_article(actor=cast.lead_a, title=title, body_markdown=body, **kw)
    articles.reindex(made.pk)  # what the task does after commit
    return made


def assist(client: Any, conversation: Any) -> Any:
    return client.get(
        reverse("workspace:conversation_assist", args=[conversation.pk]),
        headers={"HX-Request": "true"},
    )


def solved(cast: Any, *, team_b: bool = False, reply: str = "Restart it.", **kw: Any) -> Any:
    make = cast.conversation_b if team_b else cast.conversation_a
    conversation = make(**kw)
    agent = cast.agent_b if team_b else cast.agent_a
    conversations.reply(conversation=conversation, author=agent, text=reply)
    conversations.set_status(conversation=conversation, status="solved", actor=agent)
    return conversation


def test_the_page_loads_the_panel_lazily(client: Any, cast: Any) -> None:
    conversation = cast.conversation_a(subject="Router drops wifi", text=ROUTER)
    client.force_login(cast.agent_a)
    page = client.get(reverse("workspace:conversation", args=[conversation.pk])).content.decode()
    assert f'hx-get="/app/conversations/{conversation.pk}/assist/"' in page
    assert 'hx-trigger="load"' in page and "Looking for articles" in page


def test_matching_articles_are_suggested_with_insert_link_and_text(
    client: Any, cast: Any, settings: Any
) -> None:
    settings.BASE_URL = "https://help.example.test"
    public = article(cast, "Router keeps dropping wifi", "Move the router away from walls.")
    internal = article(
        cast, "Router escalation ladder", "Call the ISP desk.", visibility="internal"
    )
    article(cast, "Router firmware draft", "Not ready.", status="draft")
    article(cast, "Invoices", "Where invoices live.")
    conversation = cast.conversation_a(subject="Router drops wifi", text=ROUTER)
    client.force_login(cast.agent_a)
    page = assist(client, conversation).content.decode()
    assert "Router keeps dropping wifi" in page and "Router escalation ladder" in page
    assert "Router firmware draft" not in page and "Invoices" not in page
    link = f"https://help.example.test/help/articles/{public.pk}-router-keeps-dropping-wifi/"
    assert f'data-assist-insert="Router keeps dropping wifi: {link}"' in page
    # An internal article offers its text for the agent, never a link customers cannot open.
    assert f"/knowledge/{internal.pk}/insert/" in page
    assert page.count("data-assist-insert=") == 1

    text = client.get(reverse("workspace:knowledge_insert", args=[public.pk])).json()
    assert text == {
        "id": public.pk,
        "title": "Router keeps dropping wifi",
        "url": link,
        "text": "Move the router away from walls.",
        "internal": False,
    }
    assert client.get(reverse("workspace:knowledge_insert", args=[internal.pk])).json()["internal"]


def test_drafts_cannot_be_inserted(client: Any, cast: Any) -> None:
    draft = article(cast, "Unfinished", "Words", status="draft")
    client.force_login(cast.agent_a)
    response = client.get(reverse("workspace:knowledge_insert", args=[draft.pk]))
    assert response.status_code == 404 and "error" in response.json()


def test_suggestion_snippets_escape_article_text(client: Any, cast: Any) -> None:
    article(cast, "Router tips", "Router <script>alert(1)</script> tips")
    conversation = cast.conversation_a(subject="router", text="router")
    client.force_login(cast.agent_a)
    page = assist(client, conversation).content.decode()
    assert "Router tips" in page and "<script>alert" not in page


def test_the_panel_of_a_conversation_out_of_sight_is_a_404(client: Any, cast: Any) -> None:
    conversation = cast.conversation_a(text=ROUTER)
    client.force_login(cast.agent_b)
    assert assist(client, conversation).status_code == 404


def test_similar_solved_conversations_share_words_and_show_the_final_reply(
    client: Any, cast: Any
) -> None:
    match = solved(
        cast,
        subject="Wifi drops every evening",
        text="The router loses wifi every evening.",
        reply="Please change the wifi channel to 6; evening interference is common.",
        address="three@customer.test",
    )
    solved(cast, subject="Invoice copy", text="Send me the invoice again.", address="i@c.test")
    unsolved = cast.conversation_a(
        subject="Wifi again", text="wifi router evening", address="u@c.test"
    )
    conversation = cast.conversation_a(subject="Router drops wifi", text=ROUTER)
    outbox.run_all()  # the search index's consumer, as the worker runs it
    found = similar_solved(conversation, cast.agent_a)
    assert [s.conversation.pk for s in found] == [match.pk]
    assert found[0].final_reply.startswith("Please change the wifi channel")
    assert unsolved.pk not in [s.conversation.pk for s in found]
    client.force_login(cast.agent_a)
    page = assist(client, conversation).content.decode()
    assert f"#{match.number} Wifi drops every evening" in page
    assert "Please change the wifi channel to 6" in page


def test_an_agent_never_sees_another_teams_solved_conversations_as_similar(
    client: Any, cast: Any
) -> None:
    theirs = solved(cast, subject="Router wifi evening", text=ROUTER, reply="Team A's secret fix")
    mine = solved(
        cast,
        team_b=True,
        subject="Router wifi",
        text="router wifi dropping",
        reply="Team B's fix",
        address="five@customer.test",
    )
    open_b = cast.conversation_b(subject="Router drops wifi", text=ROUTER, address="six@c.test")
    outbox.run_all()
    assert [s.conversation.pk for s in similar_solved(open_b, cast.agent_b)] == [mine.pk]
    client.force_login(cast.agent_b)
    page = assist(client, open_b).content.decode()
    assert "Team A&#x27;s secret fix" not in page and f"#{theirs.number} " not in page
    assert "Team B&#x27;s fix" in page
    # The admin sees both; the conversation itself is never "similar" to itself.
    both = {s.conversation.pk for s in similar_solved(open_b, cast.admin)}
    assert both == {theirs.pk, mine.pk}
    assert {s.conversation.pk for s in similar_solved(theirs, cast.admin)} == {mine.pk}


def test_a_conversation_without_distinctive_words_finds_nothing(cast: Any) -> None:
    solved(cast, subject="the", text="the and of", address="x@c.test")
    conversation = cast.conversation_a(subject="hi", text="hello, thanks")
    outbox.run_all()
    assert similar_solved(conversation, cast.admin) == []


def test_words_in_too_many_messages_are_left_out(cast: Any) -> None:
    """ "wifi" is in 56 of 57 messages: over the ceiling (50 in a small corpus), so only
    "router" is asked for (on PostgreSQL once its statistics know the counts)."""
    from django.db import connection

    from heedful.conversations.models import Conversation

    made = [
        cast.conversation_a(subject=f"Case {i}", text=f"wifi again {i}", address=f"w{i}@c.test")
        for i in range(55)
    ]
    router = cast.conversation_a(subject="Router", text="router and wifi", address="r@c.test")
    Conversation.objects.filter(pk__in=[c.pk for c in [*made, router]]).update(status="solved")
    conversation = cast.conversation_a(subject="Help", text="router wifi", address="o@c.test")
    outbox.run_all()
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE conversations_message")
    assert [s.conversation.pk for s in similar_solved(conversation, cast.agent_a)] == [router.pk]
