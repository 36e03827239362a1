"""The conversation lists' query layer: membership, filters, sorts, keyset pages,
capped counts, access, and that the default lists seek in an index instead of sorting."""

import base64
import json
import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.db import connection

from heedful.conversations import lists
from heedful.conversations.lists import (
    SORTS,
    VIEWS,
    Viewer,
    after_key,
    decode_cursor,
    encode_cursor,
    fetch_page,
    filtered_queryset,
    list_counts,
    parse_request,
    waiting_for,
)
from heedful.conversations.models import Conversation, ConversationTag, Priority, Status, Tag
from heedful.inboxes.models import Inbox
from tests.conftest import Cast
from tests.factories import ConversationFactory

T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def conv(cast: Cast, **kw: Any) -> Conversation:
    """A conversation in team A's inbox unless told otherwise, last active at T0."""
    kw.setdefault("inbox", cast.inbox_a)
    kw.setdefault("team", kw["inbox"].team)
    kw.setdefault("status", Status.OPEN)
    kw.setdefault("last_message_at", T0)
    tags = kw.pop("tags", [])
    conversation = ConversationFactory(**kw)
    for name in tags:
        tag, _ = Tag.objects.get_or_create(name=name)
        ConversationTag.objects.create(conversation=conversation, tag=tag)
    return conversation


def ids(user: Any, **params: str) -> list[int]:
    return [c.pk for c in fetch_page(Viewer(user), parse_request(params), size=500).rows]


@pytest.fixture
def world(cast: Cast) -> dict[str, Conversation]:
    """One conversation of each kind the lists tell apart."""
    return {
        "mine": conv(cast, assignee=cast.agent_a),
        "unassigned_a": conv(cast),
        "lead_a": conv(cast, assignee=cast.lead_a),
        "unteamed": conv(cast, inbox=cast.email),
        "team_b": conv(cast, inbox=cast.inbox_b),
        "pending": conv(cast, status=Status.PENDING),
        "on_hold": conv(cast, status=Status.ON_HOLD),
        "solved": conv(cast, status=Status.SOLVED),
        "closed": conv(cast, status=Status.CLOSED),
        "spam": conv(cast, is_spam=True),
    }


def expect(world: dict[str, Conversation], *names: str) -> list[int]:
    return sorted(world[n].pk for n in names)


# Membership ---------------------------------------------------------------------------


def test_my_open_is_what_is_assigned_to_me_and_open(cast: Cast, world: Any) -> None:
    assert sorted(ids(cast.agent_a, view="mine")) == expect(world, "mine")


def test_unassigned_is_open_and_nobody_has_it(cast: Cast, world: Any) -> None:
    assert sorted(ids(cast.agent_a, view="unassigned")) == expect(world, "unassigned_a", "unteamed")


def test_my_teams_is_open_in_my_teams(cast: Cast, world: Any) -> None:
    assert sorted(ids(cast.agent_a, view="teams")) == expect(
        world, "mine", "unassigned_a", "lead_a"
    )


def test_all_open_is_every_open_conversation_i_may_see(cast: Cast, world: Any) -> None:
    assert sorted(ids(cast.agent_a, view="all_open")) == expect(
        world, "mine", "unassigned_a", "lead_a", "unteamed"
    )


def test_admin_all_open_includes_every_team(cast: Cast, world: Any) -> None:
    assert sorted(ids(cast.admin, view="all_open")) == expect(
        world, "mine", "unassigned_a", "lead_a", "unteamed", "team_b"
    )


@pytest.mark.parametrize(
    ("view", "names"),
    [("pending", ["pending"]), ("on_hold", ["on_hold"]), ("solved", ["solved", "closed"])],
)
def test_status_lists(cast: Cast, world: Any, view: str, names: list[str]) -> None:
    assert sorted(ids(cast.agent_a, view=view)) == expect(world, *names)


def test_merged_conversations_are_left_out(cast: Cast, world: Any) -> None:
    merged = conv(cast, status=Status.CLOSED, merged_into=world["solved"])
    assert merged.pk not in ids(cast.admin, view="solved")


def test_spam_is_left_out_of_every_list(cast: Cast, world: Any) -> None:
    for view in VIEWS:
        assert world["spam"].pk not in ids(cast.admin, view=view)


def test_teams_list_is_empty_without_teams(cast: Cast, world: Any) -> None:
    assert ids(cast.admin, view="teams") == []


def test_agent_b_sees_nothing_of_team_a_in_any_list_or_count(cast: Cast, world: Any) -> None:
    team_a = {c.pk for c in Conversation.objects.filter(team=cast.team_a)}
    for view in VIEWS:
        for sort in SORTS:
            assert not team_a & set(ids(cast.agent_b, view=view, sort=sort))
    counts = list_counts(Viewer(cast.agent_b))
    # Agent B sees team B's conversation and the unteamed one, nothing else.
    assert counts["all_open"].value == 2
    assert counts["pending"].value == counts["solved"].value == 0


def test_agents_see_unteamed_conversations(cast: Cast, world: Any) -> None:
    assert world["unteamed"].pk in ids(cast.agent_a, view="all_open")
    assert world["unteamed"].pk in ids(cast.agent_b, view="all_open")


def test_inactive_user_sees_nothing(cast: Cast, world: Any) -> None:
    cast.agent_a.is_active = False
    assert ids(cast.agent_a, view="all_open") == []


# Filters -------------------------------------------------------------------------------


def test_status_filter_within_a_list(cast: Cast) -> None:
    new, _open = conv(cast, status=Status.NEW), conv(cast, status=Status.OPEN)
    assert ids(cast.agent_a, view="all_open", status="new") == [new.pk]


def test_status_filter_on_my_list_moves_to_that_status(cast: Cast) -> None:
    mine_pending = conv(cast, status=Status.PENDING, assignee=cast.agent_a)
    conv(cast, status=Status.OPEN, assignee=cast.agent_a)
    assert ids(cast.agent_a, view="mine", status="pending") == [mine_pending.pk]


def test_status_outside_the_list_is_refused_with_a_reason(cast: Cast) -> None:
    request = parse_request({"view": "pending", "status": "open"})
    assert request.filters.status is None
    assert request.problems


def test_priority_filter(cast: Cast) -> None:
    urgent = conv(cast, priority=Priority.URGENT)
    conv(cast, priority=Priority.NORMAL)
    assert ids(cast.agent_a, priority="3") == [urgent.pk]


def test_inbox_filter(cast: Cast) -> None:
    shared = conv(cast, inbox=cast.email)
    conv(cast)
    assert ids(cast.agent_a, inbox=str(cast.email.pk)) == [shared.pk]


def test_channel_filter_expands_to_the_inboxes_of_that_kind(cast: Cast) -> None:
    chat = Inbox.objects.create(kind="chat", name="Chat")
    other_chat = Inbox.objects.create(kind="chat", name="Chat 2")
    a, b = conv(cast, inbox=chat), conv(cast, inbox=other_chat)
    conv(cast)
    assert sorted(ids(cast.agent_a, channel="chat")) == sorted([a.pk, b.pk])


def test_unknown_channel_is_ignored_with_a_reason(cast: Cast) -> None:
    request = parse_request({"channel": "fax"})
    assert request.filters.channel is None and request.problems


def test_tag_filter(cast: Cast) -> None:
    billing = conv(cast, tags=["billing", "vip"])
    conv(cast, tags=["shipping"])
    assert ids(cast.agent_a, tag="Billing") == [billing.pk]
    assert ids(cast.agent_a, tag="no-such-tag") == []


def test_assignee_filter_and_nobody(cast: Cast) -> None:
    lead = conv(cast, assignee=cast.lead_a)
    free = conv(cast)
    assert ids(cast.agent_a, assignee=str(cast.lead_a.pk)) == [lead.pk]
    assert ids(cast.agent_a, assignee="none") == [free.pk]


def test_team_filter_and_no_team(cast: Cast) -> None:
    in_a, unteamed = conv(cast), conv(cast, inbox=cast.email)
    assert ids(cast.agent_a, team=str(cast.team_a.pk)) == [in_a.pk]
    assert ids(cast.agent_a, team="none") == [unteamed.pk]


def test_team_filter_cannot_reach_past_the_access_rule(cast: Cast) -> None:
    conv(cast, inbox=cast.inbox_b)
    assert ids(cast.agent_a, team=str(cast.team_b.pk)) == []


def test_customer_filter(cast: Cast) -> None:
    first = conv(cast)
    conv(cast)
    assert ids(cast.agent_a, customer=str(first.customer_id)) == [first.pk]


@pytest.mark.parametrize(
    "params",
    [
        {"priority": "abc"},
        {"priority": "9"},
        {"inbox": "-3"},
        {"inbox": "99999999999999999999999999"},
        {"assignee": "me"},
        {"team": "1.5"},
        {"customer": "1e5"},
        {"view": "everything"},
        {"sort": "random"},
        {"status": "deleted"},
    ],
)
def test_garbage_parameters_are_ignored_and_named(cast: Cast, params: dict[str, str]) -> None:
    conv(cast)
    request = parse_request(params)
    assert request.problems
    assert len(fetch_page(Viewer(cast.agent_a), request).rows) == 1


# Sorts ----------------------------------------------------------------------------------


def test_newest_sort(cast: Cast) -> None:
    old = conv(cast, last_message_at=T0 - timedelta(hours=2))
    new = conv(cast, last_message_at=T0)
    mid = conv(cast, last_message_at=T0 - timedelta(hours=1))
    assert ids(cast.agent_a, sort="newest") == [new.pk, mid.pk, old.pk]


def test_waiting_sort_is_oldest_waiting_first_and_only_waiting(cast: Cast) -> None:
    long = conv(cast, waiting_since=T0 - timedelta(days=1))
    short = conv(cast, waiting_since=T0 - timedelta(minutes=5))
    conv(cast, waiting_since=None)  # answered: not waiting on us
    assert ids(cast.agent_a, sort="waiting") == [long.pk, short.pk]


def test_priority_sort_then_newest(cast: Cast) -> None:
    low = conv(cast, priority=Priority.LOW, last_message_at=T0)
    urgent_old = conv(cast, priority=Priority.URGENT, last_message_at=T0 - timedelta(hours=3))
    urgent_new = conv(cast, priority=Priority.URGENT, last_message_at=T0)
    normal = conv(cast, priority=Priority.NORMAL)
    assert ids(cast.agent_a, sort="priority") == [urgent_new.pk, urgent_old.pk, normal.pk, low.pk]


# Keyset pages --------------------------------------------------------------------------


def walk(user: Any, size: int, **params: str) -> list[list[int]]:
    pages: list[list[int]] = []
    cursor = ""
    while True:
        request = parse_request({**params, **({"cursor": cursor} if cursor else {})})
        assert not request.problems
        page = fetch_page(Viewer(user), request, size=size)
        pages.append([c.pk for c in page.rows])
        if not page.next_cursor:
            return pages
        cursor = page.next_cursor
        assert len(pages) < 100


@pytest.mark.parametrize("sort", list(SORTS))
def test_keyset_pages_cover_every_row_once_with_ties(cast: Cast, sort: str) -> None:
    # Three groups share one last_message_at and waiting_since each (ties broken by id),
    # with priorities mixed in; one tie has microseconds, as real clocks give.
    moments = [T0, T0 - timedelta(minutes=1), T0 - timedelta(seconds=90, microseconds=250)]
    for n in range(23):
        at = moments[n % 3]
        conv(cast, last_message_at=at, waiting_since=at, priority=n % 4)
    pages = walk(cast.agent_a, 4, sort=sort)
    seen = [pk for page in pages for pk in page]
    assert len(seen) == len(set(seen)) == 23
    assert seen == ids(cast.agent_a, sort=sort)
    assert all(len(page) == 4 for page in pages[:-1])


def test_first_page_knows_it_is_first(cast: Cast) -> None:
    for _ in range(3):
        conv(cast)
    first = fetch_page(Viewer(cast.agent_a), parse_request({}), size=2)
    assert first.is_first and first.next_cursor
    second = fetch_page(Viewer(cast.agent_a), parse_request({"cursor": first.next_cursor}), size=2)
    assert not second.is_first and second.next_cursor is None and len(second.rows) == 1


def test_cursor_round_trip_keeps_microseconds(cast: Cast) -> None:
    row = conv(cast, last_message_at=T0 + timedelta(microseconds=123456))
    cursor = encode_cursor(SORTS["newest"], row)
    assert decode_cursor(cursor, SORTS["newest"]) == (row.last_message_at, row.pk)


def _cursor(values: Any) -> str:
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


@pytest.mark.parametrize(
    "cursor",
    [
        "!!!not-base64!!!",
        "e30",  # {}
        _cursor(["waiting", "2025-03-03T09:00:00+00:00", 1]),  # another sort's cursor
        _cursor(["newest", "2025-03-03T09:00:00", 1]),  # naive time
        _cursor(["newest", "yesterday", 1]),
        _cursor(["newest", "2025-03-03T09:00:00+00:00", "1"]),
        _cursor(["newest", "2025-03-03T09:00:00+00:00", 2**70]),
        _cursor(["newest", "2025-03-03T09:00:00+00:00", True]),
        _cursor(["newest", "0001-01-01T00:00:00+05:00", 1]),
        _cursor(["newest", "2025-03-03T09:00:00+00:00"]),
        base64.urlsafe_b64encode(b"\xff\xfe").decode(),
    ],
)
def test_bad_cursor_gives_the_first_page_and_says_so(cast: Cast, cursor: str) -> None:
    row = conv(cast)
    request = parse_request({"cursor": cursor})
    assert request.after is None and request.problems
    assert [c.pk for c in fetch_page(Viewer(cast.agent_a), request).rows] == [row.pk]


# Counts ---------------------------------------------------------------------------------


def test_counts_per_list(cast: Cast, world: Any) -> None:
    counts = list_counts(Viewer(cast.agent_a))
    assert {k: c.value for k, c in counts.items()} == {
        "mine": 1,
        "unassigned": 2,
        "teams": 3,
        "all_open": 4,
        "pending": 1,
        "on_hold": 1,
        "solved": 2,
    }


def test_counts_stop_at_the_cap(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lists, "COUNT_CAP", 3)
    for _ in range(5):
        conv(cast)
    counts = list_counts(Viewer(cast.agent_a))
    assert counts["all_open"].value == 3
    assert counts["all_open"].label == "2+"
    assert counts["mine"].label == "0"


def test_counts_are_one_query_per_list(
    cast: Cast, world: Any, django_assert_max_num_queries: Any
) -> None:
    viewer = Viewer(cast.agent_a)
    with django_assert_max_num_queries(len(VIEWS) + 2):  # + the access rule's and my teams
        list_counts(viewer)


def test_capped_count_never_counts_everything(cast: Cast, world: Any) -> None:
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as queries:
        list_counts(Viewer(cast.admin))
    counting = [q["sql"] for q in queries.captured_queries if "COUNT(" in q["sql"].upper()]
    assert len(counting) == len(VIEWS) - 1  # the admin is in no team: no query for teams
    assert all("LIMIT 1000" in sql for sql in counting)


def test_waiting_for_reads_like_a_person() -> None:
    assert waiting_for(None, T0) == ""
    assert waiting_for(T0 - timedelta(seconds=20), T0) == "under a minute"
    assert waiting_for(T0 - timedelta(minutes=12), T0) == "12 min"
    assert waiting_for(T0 - timedelta(hours=3, minutes=5), T0) == "3 h"
    assert waiting_for(T0 - timedelta(days=3), T0) == "3 d"
    assert waiting_for(T0 + timedelta(minutes=5), T0) == "under a minute"


# Query plans ----------------------------------------------------------------------------


def _sql(qs: Any) -> tuple[str, Any]:
    return qs.query.sql_with_params()  # type: ignore[no-any-return]


def sqlite_plan(qs: Any) -> str:
    sql, params = _sql(qs)
    with connection.cursor() as cursor:
        cursor.execute("EXPLAIN QUERY PLAN " + sql, params)
        return "\n".join(str(row[-1]) for row in cursor.fetchall())


def postgres_plan(qs: Any) -> str:
    sql, params = _sql(qs)
    with connection.cursor() as cursor:
        # A tiny test table is cheapest to scan and sort; forbid both to learn whether
        # an index can give the order and the seek at all.
        cursor.execute("SET LOCAL enable_seqscan = off")
        cursor.execute("SET LOCAL enable_sort = off")
        cursor.execute("SET LOCAL enable_bitmapscan = off")
        cursor.execute("EXPLAIN " + sql, params)
        return "\n".join(row[0] for row in cursor.fetchall())


def plan(qs: Any) -> str:
    return sqlite_plan(qs) if connection.vendor == "sqlite" else postgres_plan(qs)


def assert_index_order(text: str, index: str, deep: bool = False) -> None:
    """The page reads an index in order (no sort step); a deep page seeks to the cursor."""
    if connection.vendor == "sqlite":
        assert index in text, text
        assert "USE TEMP B-TREE" not in text, text
    else:
        # On an empty test table PostgreSQL's costs cannot tell its indexes apart; it
        # must still find one that gives the order and takes the cursor as a bound.
        assert "Index Scan" in text and "Sort" not in text, text
        if deep:
            assert re.search(r"Index Cond: .*ROW\(", text), text


def page_query(user: Any, deep: bool = False, **params: str) -> Any:
    request = parse_request(params)
    qs = filtered_queryset(Viewer(user), request)
    if deep:
        sort = request.sort
        key: tuple[Any, ...] = {
            "newest": (T0, 500),
            "waiting": (T0, 500),
            "priority": (2, T0, 500),
        }[sort.key]
        qs = after_key(qs, sort, key)
    return qs[: lists.PAGE_SIZE + 1]


@pytest.mark.parametrize("who", ["admin", "agent_a"])
@pytest.mark.parametrize("deep", [False, True])
def test_all_open_newest_seeks_in_its_index(cast: Cast, world: Any, who: str, deep: bool) -> None:
    text = plan(page_query(getattr(cast, who), deep=deep, view="all_open", sort="newest"))
    assert_index_order(text, "conv_queue_recent", deep)
    if deep and connection.vendor == "sqlite":
        assert "last_message_at<" in text, text  # a seek, not a scan from the start


@pytest.mark.parametrize(
    ("view", "sort", "index"),
    [
        ("mine", "newest", "conv_assignee_queue"),
        ("unassigned", "newest", "conv_assignee_queue"),
        ("teams", "newest", "conv_team_queue"),
        ("pending", "newest", "conv_queue_recent"),
        ("solved", "newest", "conv_queue_recent"),
        ("all_open", "waiting", "conv_queue_waiting"),
        ("all_open", "priority", "conv_queue_priority"),
    ],
)
@pytest.mark.parametrize("deep", [False, True])
def test_default_lists_use_their_index(
    cast: Cast, world: Any, view: str, sort: str, index: str, deep: bool
) -> None:
    text = plan(page_query(cast.agent_a, deep=deep, view=view, sort=sort))
    assert_index_order(text, index, deep)


def test_an_agent_in_two_teams_counts_both_up_to_the_cap(
    cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    from heedful.accounts.models import TeamMembership

    TeamMembership.objects.create(team=cast.team_b, user=cast.agent_a)
    for inbox in (cast.inbox_a, cast.inbox_a, cast.inbox_b, cast.inbox_b):
        conv(cast, inbox=inbox)
    conv(cast, inbox=cast.inbox_b, status=Status.PENDING)  # not open: not counted

    assert list_counts(Viewer(cast.agent_a))["teams"].value == 4
    monkeypatch.setattr(lists, "COUNT_CAP", 3)
    assert list_counts(Viewer(cast.agent_a))["teams"].value == 3


def test_cached_counts_survive_a_note_and_follow_a_status_change(
    cast: Cast, django_assert_num_queries: Any
) -> None:
    from django.core.cache import cache

    from heedful.conversations.lists import cached_list_counts
    from heedful.conversations.services import note, set_status

    cache.clear()
    conversation = cast.conversation_a()
    viewer = Viewer(cast.agent_a)
    assert cached_list_counts(viewer)["all_open"].value == 1

    note(conversation=conversation, author=cast.agent_a, text="Checked the warehouse.")
    with django_assert_num_queries(1):  # the version probe only
        assert cached_list_counts(viewer)["all_open"].value == 1

    set_status(conversation=conversation, status=Status.PENDING, actor=cast.agent_a)
    counts = cached_list_counts(viewer)
    assert (counts["all_open"].value, counts["pending"].value) == (0, 1)
