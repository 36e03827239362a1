"""heedful.demo: reproducible histories with the rows the services would have written."""

import re
from collections import Counter as Tally
from datetime import UTC, datetime, timedelta
from io import StringIO

import pytest
from django.core.management import call_command
from django.db import connection
from django.db.models import Count, Max, Min, Q

from heedful.accounts.models import Role
from heedful.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationParticipant,
    Message,
)
from heedful.conversations.services import (
    assign,
    deliver_message,
    note,
    receive,
    reply,
    set_priority,
    set_status,
    tag,
)
from heedful.core.models import ConsumerCursor, Counter
from heedful.core.outbox import run_all
from heedful.customers.identities import normalize
from heedful.customers.models import Customer, Identity
from heedful.demo import generator
from heedful.demo.generator import DemoSummary, load_demo
from heedful.insights.facts import FACT_FIELDS, refresh_facts
from heedful.insights.models import ConversationFact, DailyRollup
from heedful.search.backends import search_messages
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

UNTIL = datetime(2025, 3, 3, tzinfo=UTC)


def demo(seed: int = 7, **options: object) -> DemoSummary:
    options.setdefault("customers", 40)
    options.setdefault("conversations", 150)
    options.setdefault("days", 30)
    # The change detector's runs are tested in test_demo_surveys.
    options.setdefault("insights", False)
    return load_demo(seed=seed, until=UNTIL, **options)  # type: ignore[arg-type]


def demo_conversations(summary: DemoSummary) -> "list[Conversation]":
    return list(
        Conversation.objects.filter(number__range=(summary.first_number, summary.last_number))
        .select_related("inbox", "customer", "assignee")
        .order_by("number")
    )


def seconds_before_until(moment: datetime | None) -> float | None:
    return None if moment is None else (UNTIL - moment).total_seconds()


def snapshot(summary: DemoSummary) -> list[object]:
    """Everything a run wrote, with ids replaced by positions and times made relative."""
    conversations = demo_conversations(summary)
    first_customer = summary.first_customer_id or 0
    rows: list[object] = []
    for c in conversations:
        rows.append(
            (
                c.number - (summary.first_number or 0),
                c.subject,
                c.status,
                c.priority,
                c.inbox.name,
                c.customer_id - first_customer,
                c.customer.name,
                c.assignee.email if c.assignee else None,
                c.reopen_count,
                c.message_count,
                c.last_message_preview,
                sorted(c.tags.values_list("name", flat=True)),
                *(
                    seconds_before_until(getattr(c, f))
                    for f in ("created_at", "first_response_at", "solved_at", "waiting_since")
                ),
            )
        )
        for m in c.messages.order_by("id"):
            rows.append((m.direction, m.is_note, m.body_text, seconds_before_until(m.created_at)))
        for e in c.events.order_by("id"):
            rows.append((e.type, e.actor_id, sorted(e.data), seconds_before_until(e.created_at)))
    identities = Identity.objects.filter(
        customer_id__gte=first_customer, customer_id__lt=first_customer + summary.customers
    )
    for identity in identities.order_by("id"):
        # Addresses carry the customer's id so that runs can be appended; drop the digits.
        rows.append((identity.kind, re.sub(r"\d", "", identity.address), identity.verified))
    return rows


# --- reproducible -----------------------------------------------------------------


def test_the_same_seed_writes_the_same_demo_again():
    first = demo(seed=7)
    second = demo(seed=7)  # appended after the first: new customers, new numbers
    assert second.first_number == first.last_number + 1
    assert snapshot(first) == snapshot(second)


def test_another_seed_writes_another_demo():
    assert snapshot(demo(seed=7)) != snapshot(demo(seed=8))


def test_the_row_maker_in_another_process_makes_the_same_rows(monkeypatch):
    here = snapshot(demo(seed=3))
    monkeypatch.setattr(generator, "PARALLEL_THRESHOLD", 1)
    assert snapshot(demo(seed=3)) == here


def test_dropping_and_rebuilding_indexes_keeps_every_index():
    def indexes() -> set[str]:
        with connection.cursor() as cursor:
            if connection.vendor == "sqlite":
                cursor.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
            else:
                cursor.execute("SELECT indexname FROM pg_indexes WHERE schemaname = 'public'")
            return {row[0] for row in cursor.fetchall()}

    before = indexes()
    summary = demo(seed=2, bulk=True)
    assert summary.bulk
    assert indexes() == before
    assert search_messages("refund", user=UserFactory(role=Role.ADMIN))


# --- realistic ------------------------------------------------------------------------


def test_customers_write_on_several_channels():
    demo(customers=30, conversations=200)
    per_customer = Conversation.objects.values("customer").annotate(
        channels=Count("inbox__kind", distinct=True)
    )
    assert any(row["channels"] >= 2 for row in per_customer)
    kinds = Identity.objects.values("customer").annotate(kinds=Count("kind", distinct=True))
    assert any(row["kinds"] >= 3 for row in kinds)
    assert Customer.objects.filter(organization__isnull=False).exists()


def test_the_history_spans_channels_statuses_and_the_window():
    summary = demo(customers=40, conversations=300)
    conversations = demo_conversations(summary)
    assert {c.inbox.kind for c in conversations} >= {"email", "webform", "chat", "whatsapp"}
    statuses = Tally(c.status for c in conversations)
    assert statuses["solved"] > len(conversations) / 2
    assert statuses.keys() & {"open", "pending", "on_hold", "new"}
    assert any(c.reopen_count for c in conversations)
    assert any(c.priority != 1 for c in conversations)
    assert ConversationFact.objects.count() == len(conversations)
    start = UNTIL - timedelta(days=30)
    assert all(start <= c.created_at <= c.last_message_at <= UNTIL for c in conversations)
    # Numbers follow time, as when conversations arrive one after another.
    created = [c.created_at for c in conversations]
    assert created == sorted(created)


def test_addresses_are_stored_normalized():
    demo()
    for identity in Identity.objects.all():
        assert normalize(identity.kind, identity.address) == identity.address


def test_demo_agents_teams_and_inboxes_are_created_once():
    demo()
    demo(seed=8)
    assert Conversation.objects.values("inbox__name").distinct().count() >= 5
    agents = Conversation.objects.exclude(assignee=None).values("assignee__email").distinct()
    assert all(a["assignee__email"].endswith("@demo.heedful.invalid") for a in agents)
    assignees = {c.assignee for c in Conversation.objects.exclude(assignee=None)}
    assert assignees and not any(a.has_usable_password() for a in assignees if a)


# --- the same rows as the services ---------------------------------------------------


def test_facts_equal_what_the_fact_consumer_computes():
    summary = demo(customers=40, conversations=250)
    ids = [c.pk for c in demo_conversations(summary)]
    written = {
        f.conversation_id: f for f in ConversationFact.objects.filter(conversation_id__in=ids)
    }
    recomputed = {f.conversation_id: f for f in refresh_facts(ids)}
    assert written.keys() == recomputed.keys() == set(ids)
    for pk in ids:
        for name in FACT_FIELDS:
            assert getattr(written[pk], name) == getattr(recomputed[pk], name), (pk, name)


def test_rollups_add_up_the_facts():
    demo(customers=40, conversations=250)
    created = sum(DailyRollup.objects.values_list("created", flat=True))
    solved = sum(DailyRollup.objects.values_list("solved", flat=True))
    assert created == ConversationFact.objects.count()
    assert solved == ConversationFact.objects.filter(solved_at__isnull=False).count()


def test_conversation_fields_agree_with_their_messages():
    summary = demo(customers=40, conversations=250)
    for c in demo_conversations(summary):
        public = c.messages.filter(is_note=False)
        agg = public.aggregate(
            last=Max("created_at"),
            first_reply=Min("created_at", filter=Q(direction="out")),
            inbound=Count("pk", filter=Q(direction="in")),
        )
        assert c.message_count == public.count()
        assert c.last_message_at == agg["last"]
        assert c.first_response_at == agg["first_reply"]
        last = public.order_by("-created_at", "-id").first()
        assert last is not None
        assert c.last_message_preview == " ".join(last.body_text.split())[:200]
        if c.status in ("solved", "closed"):
            assert c.solved_at is not None and c.waiting_since is None
        else:
            assert c.solved_at is None
        if c.status == "new":
            assert c.first_response_at is None and c.waiting_since == c.created_at
        assert c.team_id == c.inbox.team_id
        assert ConversationParticipant.objects.filter(
            conversation=c, identity__customer=c.customer, role="customer"
        ).exists()


def test_events_match_the_messages():
    summary = demo(customers=40, conversations=250)
    ids = [c.pk for c in demo_conversations(summary)]
    messages = Message.objects.filter(conversation_id__in=ids)
    events = ConversationEvent.objects.filter(conversation_id__in=ids)
    types = Tally(events.values_list("type", flat=True))
    inbound = messages.filter(direction="in")
    replies = messages.filter(direction="out", is_note=False)
    notes = messages.filter(is_note=True)
    assert types["created"] == len(ids)
    assert types["message_received"] == inbound.count() == summary.inbound
    assert types["reply_sent"] == types["delivered"] == replies.count() == summary.replies
    assert types["note_added"] == notes.count() == summary.notes
    total_reopens = sum(
        Conversation.objects.filter(pk__in=ids).values_list("reopen_count", flat=True)
    )
    assert types["reopened"] == total_reopens
    for type_, queryset in (
        ("message_received", inbound),
        ("reply_sent", replies),
        ("note_added", notes),
        ("delivered", replies),
    ):
        referenced = sorted(e.data["message_id"] for e in events.filter(type=type_))
        assert referenced == sorted(queryset.values_list("pk", flat=True))
    assert not replies.exclude(delivery_status="sent").exists()


def _service_event_keys(cast) -> dict[str, set[str]]:  # type: ignore[no-untyped-def]
    """Run every service once and note which keys each event type's data has."""
    conversation = cast.conversation_a()
    conversation = assign(conversation=conversation, agent=cast.agent_a, actor=cast.lead_a)
    set_priority(conversation=conversation, priority=2, actor=cast.agent_a)
    tag(conversation=conversation, actor=cast.agent_a, add=["refund"])
    note(conversation=conversation, author=cast.agent_a, text="Checked the order.")
    message = reply(conversation=conversation, author=cast.agent_a, text="On its way.")
    deliver_message(message.pk)
    set_status(conversation=conversation, status="solved", actor=cast.agent_a)
    receive(cast.inbound(text="Thanks!"))
    set_status(conversation=conversation, status="solved", actor=cast.agent_a)
    set_status(conversation=conversation, status="pending", actor=cast.agent_a)
    keys: dict[str, set[str]] = {}
    for event in conversation.events.all():
        keys.setdefault(event.type, set()).update(event.data)
    return keys


def test_event_data_has_the_same_keys_as_the_services_write(cast):
    expected = _service_event_keys(cast)
    summary = demo(customers=40, conversations=250)
    ids = [c.pk for c in demo_conversations(summary)]
    seen: dict[str, set[str]] = {}
    for event in ConversationEvent.objects.filter(conversation_id__in=ids):
        seen.setdefault(event.type, set()).update(event.data)
    assert set(seen) <= set(expected)
    for type_, keys in seen.items():
        assert keys == expected[type_], type_


def test_rows_pass_the_database_constraints():
    demo(customers=40, conversations=250)
    connection.check_constraints()


# --- search, counters, outbox ------------------------------------------------------------


def test_search_finds_demo_messages():
    summary = demo()
    admin = UserFactory(role=Role.ADMIN)
    message = (
        Message.objects.filter(conversation__number=summary.first_number, direction="in")
        .order_by("id")
        .first()
    )
    assert message is not None
    word = max(re.findall(r"\w+", message.body_text), key=len)
    found = search_messages(word, user=admin, limit=500)
    assert message in found
    assert all(word.lower() in m.body_text.lower() for m in found)


def test_numbers_continue_after_the_demo(cast):
    cast.conversation_a()
    summary = demo()
    assert summary.first_number == 2
    conversation = receive(cast.inbound(address="new.person@customer.test")).conversation
    assert conversation.number == summary.last_number + 1
    assert Counter.objects.get(name="conversation").value == conversation.number
    assert Conversation.objects.filter(number=conversation.number).count() == 1


def test_outbox_consumers_start_after_the_demo():
    demo()
    last = ConversationEvent.objects.aggregate(last=Max("id"))["last"]
    positions = set(ConsumerCursor.objects.values_list("position", flat=True))
    assert positions == {last}
    assert not any(run_all().values())


# --- the command ---------------------------------------------------------------------


def test_command_loads_and_summarises():
    out = StringIO()
    call_command(
        "demo",
        customers=10,
        conversations=25,
        days=14,
        seed=4,
        until="2025-03-03T00:00:00",
        stdout=out,
    )
    assert "25 conversations" in out.getvalue()
    assert Conversation.objects.count() == 25
    assert Customer.objects.count() == 10


def test_command_with_the_first_run_options():
    call_command("demo", customers=150, conversations=400, days=90, seed=1, stdout=StringIO())
    assert Conversation.objects.count() == 400
