"""The conversation list page and its bulk actions: what each agent sees, paging by
link, live refresh fragments, constant query counts, and bulk actions through the
access rule."""

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.core.cache import cache
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from heedful.conversations import lists
from heedful.conversations.models import Conversation, ConversationTag, Priority, Status, Tag
from heedful.conversations.services import assign, set_status
from heedful.customers.models import Identity
from tests.conftest import Cast
from tests.factories import ConversationFactory

URL = "/app/conversations/"
BULK = "/app/conversations/bulk/"
T0 = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)


def conv(cast: Cast, **kw: Any) -> Conversation:
    kw.setdefault("inbox", cast.inbox_a)
    kw.setdefault("team", kw["inbox"].team)
    kw.setdefault("status", Status.OPEN)
    return ConversationFactory(**kw)  # type: ignore[no-any-return]


def signed_in(client: Client, user: Any) -> Client:
    client.force_login(user)
    return client


def html(response: Any) -> str:
    assert response.status_code == 200, response.status_code
    return response.content.decode()


# Access -------------------------------------------------------------------------------


@pytest.mark.parametrize("url", ["/app/", URL, f"{URL}?view=solved"])
def test_anonymous_is_sent_to_sign_in(client: Client, db: None, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"].startswith("/app/login/")


def test_anonymous_cannot_bulk(client: Client, cast: Cast) -> None:
    conversation = conv(cast)
    response = client.post(BULK, {"action": "assign_me", "ids": [str(conversation.pk)]})
    assert response.status_code == 302 and response["Location"].startswith("/app/login/")
    conversation.refresh_from_db()
    assert conversation.assignee_id is None


def test_agent_b_sees_none_of_team_a(client: Client, cast: Cast) -> None:
    conv(cast, subject="Team A secret", assignee=cast.agent_a)
    conv(cast, subject="Team A unassigned")
    for view in lists.VIEWS:
        page = html(signed_in(client, cast.agent_b).get(URL, {"view": view}))
        assert "Team A" not in page.replace("Team A</option>", "")
    page = html(client.get(URL, {"view": "all_open"}))
    assert re.search(
        r'data-view="all_open">\s*<span class="list-name">All open</span>\s*'
        r'<span class="list-count"[^>]*>0</span>',
        page,
    )


def test_agents_see_unteamed_conversations(client: Client, cast: Cast) -> None:
    conv(cast, inbox=cast.email, subject="Shared queue question")
    assert "Shared queue question" in html(signed_in(client, cast.agent_b).get(URL))
    assert "Shared queue question" in html(signed_in(client, cast.agent_a).get(URL))


# Home ---------------------------------------------------------------------------------


def test_home_opens_unassigned_when_nothing_is_mine(client: Client, cast: Cast) -> None:
    conv(cast)
    response = signed_in(client, cast.agent_a).get("/app/")
    assert response.status_code == 302 and response["Location"] == f"{URL}?view=unassigned"


def test_home_opens_my_open_when_i_have_some(client: Client, cast: Cast) -> None:
    conv(cast, assignee=cast.agent_a)
    response = signed_in(client, cast.agent_a).get("/app/")
    assert response["Location"] == f"{URL}?view=mine"


# The page -------------------------------------------------------------------------------


def test_row_shows_customer_channel_subject_snippet_waiting_assignee_priority_tags(
    client: Client, cast: Cast, clock: Any
) -> None:
    conversation = conv(
        cast,
        subject="Parcel lost",
        last_message_preview="It never came",
        waiting_since=clock.now - timedelta(hours=3),
        last_message_at=clock.now,
        priority=Priority.URGENT,
        assignee=cast.lead_a,
        status=Status.NEW,
    )
    conversation.customer.name = "Ada Lovelace"
    conversation.customer.save()
    Identity.objects.create(customer=conversation.customer, kind="email", address="ada@example.com")
    ConversationTag.objects.create(conversation=conversation, tag=Tag.objects.create(name="vip"))
    page = html(signed_in(client, cast.agent_a).get(URL))
    row = page[page.index(f'data-id="{conversation.pk}"') :]
    row = row[: row.index("</li>")]
    for text in (
        "Ada Lovelace",
        "ada@example.com",
        "✉",
        "Parcel lost",
        "It never came",
        "waiting 3 h",
        cast.lead_a.display_name,
        "Urgent",
        ">vip<",
        "new-dot",
    ):
        assert text in row, text


def test_normal_priority_is_not_shown_and_low_is_muted(client: Client, cast: Cast) -> None:
    conv(cast, priority=Priority.NORMAL, subject="normal one")
    conv(cast, priority=Priority.LOW, subject="low one")
    page = html(signed_in(client, cast.agent_a).get(URL))
    assert page.count('class="prio ') == 1 and "prio-low" in page


def test_times_are_shown_in_the_agents_time_zone(client: Client, cast: Cast) -> None:
    conv(cast, last_message_at=datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    cast.agent_a.time_zone = "Asia/Tokyo"
    cast.agent_a.save()
    assert "3 Mar, 18:00" in html(signed_in(client, cast.agent_a).get(URL))


def test_waiting_sort_says_what_it_shows(client: Client, cast: Cast) -> None:
    page = html(signed_in(client, cast.agent_a).get(URL, {"sort": "waiting"}))
    assert "Only conversations waiting on us" in page


def test_empty_state_says_what_to_do_next(client: Client, cast: Cast) -> None:
    page = html(signed_in(client, cast.agent_a).get(URL, {"view": "unassigned"}))
    assert "Nothing unassigned." in page
    assert re.search(r"Take a look at <a [^>]*>all open conversations.</a>", page)
    assert f'href="{URL}?view=all_open&amp;sort=newest"' in page


def test_empty_filtered_list_offers_to_clear_filters(client: Client, cast: Cast) -> None:
    conv(cast)
    page = html(signed_in(client, cast.agent_a).get(URL, {"priority": "3"}))
    assert "No conversations match these filters." in page and "Clear the filters" in page


def test_customer_filter_shows_who(client: Client, cast: Cast) -> None:
    conversation = conv(cast, subject="theirs")
    conv(cast, subject="someone else's")
    conversation.customer.name = "Grace Hopper"
    conversation.customer.save()
    page = html(
        signed_in(client, cast.agent_a).get(URL, {"customer": str(conversation.customer_id)})
    )
    assert "Customer: Grace Hopper" in page and "theirs" in page
    assert "someone else&#x27;s" not in page


@pytest.mark.parametrize(
    "query",
    [
        "view=../../etc&sort=<script>",
        "cursor=%00%FF",
        "cursor=" + "A" * 5000,
        "priority=abc&inbox=1e9&assignee=-1&team=x&customer=99999999999999999999999",
        "status=deleted&channel=fax&tag=" + "x" * 300,
        "view=pending&status=open",
        "inbox=9223372036854775808",
        "view=mine&view=solved&sort=",
    ],
)
def test_garbage_query_parameters_never_fail(client: Client, cast: Cast, query: str) -> None:
    conv(cast)
    response = signed_in(client, cast.agent_a).get(f"{URL}?{query}")
    assert response.status_code == 200


def test_bad_cursor_says_so_and_shows_the_first_page(client: Client, cast: Cast) -> None:
    conv(cast, subject="first page row")
    page = html(signed_in(client, cast.agent_a).get(URL, {"cursor": "tampered"}))
    assert "not valid any more" in page and "first page row" in page


def test_next_link_walks_every_row_once(
    client: Client, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lists, "PAGE_SIZE", 4)
    made = {conv(cast, last_message_at=T0 - timedelta(minutes=n // 2)).pk for n in range(10)}
    signed_in(client, cast.agent_a)
    seen: list[int] = []
    url = f"{URL}?view=all_open"
    pages = 0
    while url:
        page = html(client.get(url))
        pages += 1
        seen += [int(pk) for pk in re.findall(r'<li class="conv-row[^"]*" data-id="(\d+)"', page)]
        if pages > 1:
            assert 'rel="first"' in page
        found = re.search(r'<a href="([^"]+)" rel="next"', page)
        url = found.group(1).replace("&amp;", "&") if found else ""
    assert pages == 3 and len(seen) == len(set(seen)) == 10 and set(seen) == made


def test_htmx_refresh_returns_rows_and_counts_only(client: Client, cast: Cast) -> None:
    conv(cast, subject="fresh row")
    page = html(signed_in(client, cast.agent_a).get(URL, headers={"HX-Request": "true"}))
    assert "<html" not in page and "fresh row" in page
    assert 'id="rows"' in page and 'id="list-nav"' in page and 'hx-swap-oob="true"' in page


def test_first_page_flag_for_live_refresh(
    client: Client, cast: Cast, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(lists, "PAGE_SIZE", 1)
    conv(cast), conv(cast)
    signed_in(client, cast.agent_a)
    first = html(client.get(URL))
    assert 'data-first-page="1"' in first
    next_url = re.search(r'<a href="([^"]+)" rel="next"', first).group(1)  # type: ignore[union-attr]
    assert 'data-first-page="0"' in html(client.get(next_url.replace("&amp;", "&")))


def _add_rows(cast: Cast, n: int) -> None:
    for i in range(n):
        conversation = conv(cast, assignee=cast.lead_a if i % 2 else None)
        tag, _ = Tag.objects.get_or_create(name=f"tag{i % 3}")
        ConversationTag.objects.create(conversation=conversation, tag=tag)
        Identity.objects.create(
            customer=conversation.customer, kind="email", address=f"c{conversation.pk}@x.test"
        )


def _measure(client: Client, url: str = URL) -> int:
    cache.clear()  # the counts too, every time
    with CaptureQueriesContext(connection) as queries:
        html(client.get(url, {"view": "all_open"}))
    return len(queries)


def test_query_count_does_not_grow_with_rows(client: Client, cast: Cast) -> None:
    signed_in(client, cast.agent_a)
    _add_rows(cast, 3)
    client.get(URL)  # the session's first read is not what is measured
    three = _measure(client)
    _add_rows(cast, 27)
    assert _measure(client) == three


def test_list_page_query_count_is_pinned(
    client: Client, cast: Cast, django_assert_max_num_queries: Any
) -> None:
    _add_rows(cast, 30)
    signed_in(client, cast.agent_a)
    client.get(URL)
    cache.clear()
    # Session + user, the access rule, my teams, the newest event (the counts' version)
    # and 7 counts, the page + its tags + the customers' identities, the filter options
    # (inboxes, tags, teams, agents), the frame's unread notifications.
    with django_assert_max_num_queries(20):
        client.get(URL, {"view": "all_open"})
    # With the counts still current (no event since), they come from the cache.
    with django_assert_max_num_queries(13):
        client.get(URL, {"view": "all_open"})


def test_htmx_refresh_query_count_is_pinned(
    client: Client, cast: Cast, django_assert_max_num_queries: Any
) -> None:
    _add_rows(cast, 30)
    signed_in(client, cast.agent_a)
    client.get(URL)
    with django_assert_max_num_queries(8):
        client.get(URL, headers={"HX-Request": "true"})


def test_counts_follow_changes_made_through_services(client: Client, cast: Cast) -> None:
    conversation = cast.conversation_a()
    signed_in(client, cast.agent_a)

    def count(view: str) -> str:
        page = html(client.get(URL))
        found = re.search(
            rf'data-view="{view}">\s*<span class="list-name">[^<]+</span>\s*'
            r'<span class="list-count"[^>]*>([^<]+)</span>',
            page,
        )
        assert found, page
        return found.group(1)

    assert (count("unassigned"), count("pending")) == ("1", "0")
    set_status(conversation=conversation, status=Status.PENDING, actor=cast.agent_a)
    assert (count("unassigned"), count("pending")) == ("0", "1")


# Bulk -----------------------------------------------------------------------------------


def bulk(client: Client, **data: Any) -> Any:
    data.setdefault("back", "view=all_open&sort=newest&priority=2")
    return client.post(BULK, data)


def flash(client: Client, response: Any) -> str:
    follow = client.get(response["Location"])
    return html(follow)


def test_bulk_assign_to_me(client: Client, cast: Cast) -> None:
    a, b = conv(cast), conv(cast)
    signed_in(client, cast.agent_a)
    response = bulk(client, action="assign_me", ids=[f"{a.pk}:", f"{b.pk}:"])
    assert response.status_code == 302
    assert response["Location"] == f"{URL}?view=all_open&sort=newest&priority=2"
    assert "2 updated" in flash(client, response)
    assert set(Conversation.objects.values_list("assignee_id", flat=True)) == {cast.agent_a.pk}


def test_bulk_refuses_a_conversation_the_agent_cannot_see(client: Client, cast: Cast) -> None:
    mine, hidden = conv(cast), conv(cast, inbox=cast.inbox_b)
    signed_in(client, cast.agent_a)
    response = bulk(client, action="set_status", status="solved", ids=[mine.pk, hidden.pk])
    page = flash(client, response)
    assert "1 updated, 1 failed" in page and f"conversation {hidden.pk}: not found" in page
    hidden.refresh_from_db()
    assert hidden.status == Status.OPEN
    assert hidden.events.count() == 0


def test_bulk_assign_conflict_when_someone_took_it_since(client: Client, cast: Cast) -> None:
    conversation = conv(cast)
    # The agent saw it unassigned; a colleague took it meanwhile.
    assign(conversation=conversation, agent=cast.lead_a, actor=cast.lead_a)
    signed_in(client, cast.agent_a)
    response = client.post(
        BULK,
        {"action": "assign_me", "ids": f"{conversation.pk}:"},
        headers={"Accept": "application/json"},
    )
    data = response.json()
    assert data["updated"] == 0
    assert f"{cast.lead_a.display_name} has this conversation now" in data["failed"][0]
    conversation.refresh_from_db()
    assert conversation.assignee_id == cast.lead_a.pk


def test_bulk_assign_to_an_agent_needs_a_lead(client: Client, cast: Cast) -> None:
    conversation = conv(cast)
    signed_in(client, cast.agent_a)
    data = client.post(
        BULK,
        {"action": "assign", "agent": cast.lead_a.pk, "ids": conversation.pk},
        headers={"Accept": "application/json"},
    ).json()
    assert data["updated"] == 0 and "role does not allow" in data["failed"][0]
    signed_in(client, cast.lead_a)
    data = client.post(
        BULK,
        {"action": "assign", "agent": cast.agent_a.pk, "ids": conversation.pk},
        headers={"Accept": "application/json"},
    ).json()
    assert data["updated"] == 1
    conversation.refresh_from_db()
    assert conversation.assignee_id == cast.agent_a.pk


def test_bulk_add_tag(client: Client, cast: Cast) -> None:
    a, b = conv(cast), conv(cast)
    signed_in(client, cast.agent_a)
    bulk(client, action="tag", tag="Refund", ids=[a.pk, b.pk])
    for conversation in (a, b):
        assert list(conversation.tags.values_list("name", flat=True)) == ["refund"]


def test_bulk_status_error_is_reported_per_conversation(client: Client, cast: Cast) -> None:
    closed, open_one = conv(cast, status=Status.CLOSED), conv(cast)
    signed_in(client, cast.agent_a)
    page = flash(
        client, bulk(client, action="set_status", status="open", ids=[closed.pk, open_one.pk])
    )
    assert "0 updated" not in page and "1 failed" in page and "cannot become open" in page


@pytest.mark.parametrize(
    "data",
    [
        {"action": "explode", "ids": "1"},
        {"action": "set_status", "status": "gone", "ids": "1"},
        {"action": "assign", "agent": "abc", "ids": "1"},
        {"action": "tag", "tag": "  ", "ids": "1"},
        {"action": "assign_me", "ids": ["x", "-1", "1:2:3", "99999999999999999999999"]},
        {"action": "assign_me"},
    ],
)
def test_bulk_bad_input_is_a_clear_4xx(client: Client, cast: Cast, data: dict[str, Any]) -> None:
    signed_in(client, cast.agent_a)
    response = client.post(BULK, data, headers={"Accept": "application/json"})
    assert 400 <= response.status_code < 500 or response.json()["failed"]
    assert response.json()["message"]


def test_bulk_redirect_stays_on_the_list(client: Client, cast: Cast) -> None:
    conversation = conv(cast)
    signed_in(client, cast.agent_a)
    response = bulk(client, action="assign_me", ids=conversation.pk, back="//evil.test/?view=mine")
    assert response["Location"].startswith(URL)


def test_bulk_needs_post(client: Client, cast: Cast) -> None:
    assert signed_in(client, cast.agent_a).get(BULK).status_code == 405
