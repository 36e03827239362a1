"""Agent search over conversations: one corpus, the same expected results on SQLite
and PostgreSQL (the suite runs on both), access, filters, indexing, bad input."""

from datetime import timedelta

import pytest
from django.core.management import call_command
from django.db import connection
from django.utils import timezone

from heedful.conversations.models import Status
from heedful.conversations.services import (
    assign,
    mark_spam,
    merge_conversations,
    note,
    reply,
    set_status,
    tag,
    undo_reply,
)
from heedful.core import outbox
from heedful.inboxes.models import Inbox
from heedful.search import backends
from heedful.search.conversations import Filters, search_conversations
from heedful.search.text import parse

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def no_lag(settings):
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 0


CORPUS = {
    "fr": ("Commande de café", "Le café était froid à la livraison. Merci d'avance."),
    "de": ("Lieferung", "Die Größe passt nicht, bitte Umtausch der Straßenschuhe."),
    "ru": ("Заказ", "Привет! Мой заказ не пришёл, номер 12345."),
    "ja": ("ご注文について", "注文が届きません。追跡番号は 98765 です。"),
    "en": ("Tracking", "Where is my parcel? The tracking number fails. e-mail ann@example.com"),
    "en2": ("Broken link", "Number tracking is broken on the page."),
}


@pytest.fixture
def corpus(cast):
    made = {
        key: cast.conversation_a(subject=subject, text=body, address=f"{key}@customer.test")
        for key, (subject, body) in CORPUS.items()
    }
    outbox.run_all()
    return made


def found(query, user, **filters):
    results = search_conversations(query, user=user, filters=Filters(**filters))
    return {hit.conversation.pk for hit in results.hits}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("cafe", {"fr"}),
        ("CAFÉ", {"fr"}),
        ("etait froid", {"fr"}),
        ('"café était"', {"fr"}),
        ('"était café"', set()),
        ("größe", {"de"}),
        ("GRÖSSE", set()),  # ß is not ss, on either database
        ("straßen*", {"de"}),
        ("привет", {"ru"}),
        ("ПРИВЕТ заказ", {"ru"}),
        ("пришел", set()),  # Cyrillic yo is a letter of its own, not an accented ie
        ("заказ", {"ru"}),  # subject and message
        ("注文*", {"ja"}),
        ("98765", {"ja"}),
        ('"tracking number"', {"en"}),
        ("tracking number", {"en", "en2"}),
        ("track*", {"en", "en2"}),
        ("example", {"en"}),
        ("e-mail", {"en"}),
        ("ann@example.com", {"en"}),
        ("NEAR(parcel tracking)", set()),
        ("parcel OR banana", set()),
        ("subject:tracking", set()),
        ("lieferung", {"de"}),  # the subject only
    ],
)
def test_corpus_gives_the_same_results_on_both_databases(cast, corpus, query, expected):
    assert found(query, cast.admin) == {corpus[k].pk for k in expected}


def test_snippet_marks_the_matching_message_text(cast, corpus):
    (hit,) = search_conversations("froid", user=cast.admin).hits
    assert hit.message is not None and hit.message.conversation_id == corpus["fr"].pk
    assert "<mark>froid</mark>" in hit.snippet
    (hit,) = search_conversations("cafe", user=cast.admin).hits
    assert "<mark>café</mark>" in hit.snippet
    assert "<mark>café</mark>" in hit.subject


def test_snippets_escape_html(cast):
    cast.conversation_a(subject="<b>x</b>", text="<script>alert(1)</script> zebra & co")
    outbox.run_all()
    (hit,) = search_conversations("zebra", user=cast.admin).hits
    assert "<script>" not in hit.snippet and "&lt;script&gt;" in hit.snippet
    assert "<b>" not in hit.subject


def test_team_b_never_sees_team_a(cast):
    mine = cast.conversation_a(text="The quokka escaped")
    theirs = cast.conversation_b(text="Another quokka story", address="two@customer.test")
    outbox.run_all()
    assert found("quokka", cast.agent_b) == {theirs.pk}
    assert found("quokka", cast.agent_a) == {mine.pk}
    assert found("quokka", cast.admin) == {mine.pk, theirs.pk}
    results = search_conversations("escaped", user=cast.agent_b)
    assert results.total == 0 and results.hits == []


def test_notes_are_found_by_agents_who_see_the_conversation(cast):
    conversation = cast.conversation_a()
    note(conversation=conversation, author=cast.agent_a, text="Internal wombat remark")
    outbox.run_all()
    (hit,) = search_conversations("wombat", user=cast.agent_a).hits
    assert hit.message is not None and hit.message.is_note
    assert found("wombat", cast.agent_b) == set()


def test_a_withdrawn_reply_is_not_a_result(cast, clock, settings):
    settings.HEEDFUL_UNDO_SECONDS = 30
    conversation = cast.conversation_a()
    answer = reply(conversation=conversation, author=cast.agent_a, text="Wrong platypus info")
    outbox.run_consumer("search.index")  # only the index: delivery would close the window
    assert found("platypus", cast.agent_a) == {conversation.pk}
    clock.advance(seconds=2)
    undo_reply(message=answer, actor=cast.agent_a)
    outbox.run_all()
    assert found("platypus", cast.agent_a) == set()
    if connection.vendor == "sqlite":  # the copy in the FTS table is gone too
        with connection.cursor() as cursor:
            cursor.execute("SELECT count(*) FROM search_message_fts WHERE rowid = %s", [answer.pk])
            assert cursor.fetchone()[0] == 0


def test_merged_conversations_are_found_through_their_target(cast):
    source = cast.conversation_a(subject="Old thread", text="The narwhal arrived broken")
    target = cast.conversation_a(subject="New thread", text="Hello again", address="x@c.test")
    merge_conversations(source=source, target=target, actor=cast.admin)
    outbox.run_all()
    assert found("narwhal", cast.admin) == {target.pk}


def test_spam_is_left_out_unless_asked_for(cast):
    conversation = cast.conversation_a(text="Cheap lemur pills")
    mark_spam(conversation=conversation, actor=cast.admin)
    outbox.run_all()
    assert found("lemur", cast.admin) == set()
    assert found("lemur", cast.admin, spam=True) == {conversation.pk}


def test_filters(cast, clock):
    old = cast.conversation_a(text="kiwi one")
    clock.advance(days=10)
    new = cast.conversation_a(text="kiwi two", address="other@customer.test")
    chat = Inbox.objects.create(kind="chat", name="Chat A", team=cast.team_a)
    chatted = cast.conversation_a(inbox=chat, text="kiwi three", address="third@c.test")
    set_status(conversation=new, status=Status.SOLVED, actor=cast.admin)
    assign(conversation=old, agent=cast.agent_a, actor=cast.admin)
    tag(conversation=chatted, actor=cast.admin, add=["vip"])
    outbox.run_all()
    assert found("kiwi", cast.admin, status="solved") == {new.pk}
    assert found("kiwi", cast.admin, channel="chat") == {chatted.pk}
    assert found("kiwi", cast.admin, assignee=str(cast.agent_a.pk)) == {old.pk}
    assert found("kiwi", cast.admin, tag="vip") == {chatted.pk}
    today = timezone.now().date()
    assert found("kiwi", cast.admin, since=today) == {new.pk, chatted.pk}
    assert found("kiwi", cast.admin, until=today - timedelta(days=5)) == {old.pk}


def test_newest_first_and_relevance(cast, clock):
    weak = cast.conversation_a(text="ocelot " + "filler words here " * 30)
    clock.advance(hours=1)
    strong = cast.conversation_a(subject="Ocelot", text="ocelot ocelot", address="b@c.test")
    clock.advance(hours=1)
    newest = cast.conversation_a(text="An ocelot and many other words " * 10, address="c@c.test")
    outbox.run_all()
    by_time = search_conversations("ocelot", user=cast.admin).hits
    assert [h.conversation.pk for h in by_time] == [newest.pk, strong.pk, weak.pk]
    by_match = search_conversations("ocelot", user=cast.admin, sort="relevance").hits
    assert by_match[0].conversation.pk == strong.pk


def test_paging(cast):
    made = [cast.conversation_a(text=f"capybara {n}", address=f"p{n}@c.test") for n in range(5)]
    outbox.run_all()
    first = search_conversations("capybara", user=cast.admin, per_page=2)
    third = search_conversations("capybara", user=cast.admin, per_page=2, page=3)
    assert first.total == 5 and first.pages == 3
    assert [h.conversation.pk for h in first.hits] == [made[4].pk, made[3].pk]
    assert [h.conversation.pk for h in third.hits] == [made[0].pk]


def test_rebuild_command_restores_the_index(cast, capsys):
    conversation = cast.conversation_a(subject="Axolotl", text="The axolotl tank leaks")
    outbox.run_all()
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM search_message_fts")
            cursor.execute("DELETE FROM search_subject_fts")
        assert found("axolotl", cast.admin) == set()
    call_command("rebuild_search_index")
    assert "rebuilt" in capsys.readouterr().out
    assert found("axolotl", cast.admin) == {conversation.pk}
    assert found("leaks", cast.admin) == {conversation.pk}


@pytest.mark.parametrize(
    "query",
    ["", " ", "*", '"', '"open', "a" * 2000, "\x00", "NEAR(", "col:x", "^x", "x AND", "(((", "--"],
)
def test_bad_queries_find_nothing_quietly(cast, corpus, query):
    search_conversations(query, user=cast.agent_a)


def test_parse_keeps_only_words():
    assert parse('NEAR(a b) "x y" pre* ^z col:v').fts5() == (
        '"near a" AND "b" AND "x y" AND "pre" * AND "z" AND "col v"'
    )
    assert parse("*").terms == ()
    assert parse("a*").terms[0].prefix is False  # one letter is too short a prefix


def test_bulk_loaders_index_messages_and_subjects_from_an_id(cast):
    conversation = cast.conversation_a(subject="Manatee", text="The dugong replied")
    first = conversation.messages.get().pk
    if connection.vendor == "sqlite":  # as if written by a bulk loader, without events
        with connection.cursor() as cursor:
            cursor.execute("DELETE FROM search_message_fts")
            cursor.execute("DELETE FROM search_subject_fts")
    backends.index_messages_from(first)
    assert found("manatee", cast.admin) == {conversation.pk}
    assert found("dugong", cast.admin) == {conversation.pk}
