"""The notifications page and the bell: each agent sees their own, and only theirs."""

from datetime import UTC, datetime, timedelta

import pytest
from django.test import RequestFactory

from heedful.accounts.models import Notification
from heedful.accounts.notifications import notify
from heedful.workspace.context import workspace as workspace_context

pytestmark = pytest.mark.django_db

PAGE = "/app/notifications/"


def note_for(user, text, *, conversation=None, actor=None, kind="mention", at=None):
    (row,) = notify(users=[user], kind=kind, text=text, conversation=conversation, actor=actor)
    if at is not None:
        Notification.objects.filter(pk=row.pk).update(created_at=at)
    return row


def unread(user):
    return Notification.objects.filter(user=user, read_at__isnull=True).count()


def test_an_agent_sees_their_notifications_newest_first(cast, client):
    conversation = cast.conversation_a()
    base = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    note_for(cast.agent_a, "Oldest mention", conversation=conversation, at=base)
    note_for(
        cast.agent_a,
        "Newest hand-over",
        kind="assigned",
        actor=cast.lead_a,
        conversation=conversation,
        at=base + timedelta(hours=2),
    )
    note_for(cast.agent_a, "Middle mention", actor=cast.lead_a, at=base + timedelta(hours=1))
    client.force_login(cast.agent_a)

    page = client.get(PAGE).content.decode()

    assert page.index("Newest hand-over") < page.index("Middle mention") < page.index("Oldest")
    assert cast.lead_a.display_name in page
    assert "Assigned" in page and "Mention" in page


def test_agent_b_never_sees_agent_a_notifications(cast, client):
    note_for(cast.agent_a, "Secret for A", conversation=cast.conversation_a())
    note_for(cast.agent_b, "Hello B")
    client.force_login(cast.agent_b)

    page = client.get(PAGE).content.decode()

    assert "Hello B" in page
    assert "Secret for A" not in page


def test_unread_notifications_stand_out_and_read_ones_do_not(cast, client):
    first = note_for(cast.agent_a, "Already seen")
    note_for(cast.agent_a, "Not seen yet")
    Notification.objects.filter(pk=first.pk).update(read_at=datetime.now(UTC))
    client.force_login(cast.agent_a)

    page = client.get(PAGE).content.decode()

    assert page.count("is-unread") == 1
    assert page.index("is-unread") < page.index("Not seen yet")
    assert "(unread)" in page


def test_times_are_shown_in_the_agents_time_zone(cast, client):
    cast.agent_a.time_zone = "Asia/Tokyo"
    cast.agent_a.save()
    note_for(cast.agent_a, "Tokyo time", at=datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    client.force_login(cast.agent_a)

    page = client.get(PAGE).content.decode()

    assert "3 Mar, 18:00" in page


def test_a_broken_time_zone_falls_back_to_utc(cast, client):
    cast.agent_a.time_zone = "Mars/Olympus"
    cast.agent_a.save()
    note_for(cast.agent_a, "Somewhere", at=datetime(2025, 3, 3, 9, 0, tzinfo=UTC))
    client.force_login(cast.agent_a)

    response = client.get(PAGE)

    assert response.status_code == 200
    assert "3 Mar, 09:00" in response.content.decode()


def test_the_empty_state_says_what_will_show_up(cast, client):
    client.force_login(cast.agent_a)

    page = client.get(PAGE).content.decode()

    assert "Nothing here yet" in page
    assert "@mentions you" in page
    assert "Mark all read" not in page


def test_mark_all_read_marks_only_the_agents_own(cast, client):
    note_for(cast.agent_a, "one")
    note_for(cast.agent_a, "two")
    note_for(cast.agent_b, "for b")
    client.force_login(cast.agent_a)

    response = client.post("/app/notifications/read/")

    assert response.status_code == 302
    assert response["Location"] == PAGE
    assert unread(cast.agent_a) == 0
    assert unread(cast.agent_b) == 1
    assert "Marked 2 notifications read" in client.get(PAGE).content.decode()


def test_mark_all_read_needs_a_post(cast, client):
    note_for(cast.agent_a, "one")
    client.force_login(cast.agent_a)

    assert client.get("/app/notifications/read/").status_code == 405
    assert unread(cast.agent_a) == 1


def test_opening_a_notification_marks_it_read_and_goes_to_its_conversation(cast, client):
    conversation = cast.conversation_a()
    opened = note_for(cast.agent_a, "look", conversation=conversation)
    other = note_for(cast.agent_a, "later")
    client.force_login(cast.agent_a)
    page = client.get(PAGE).content.decode()
    assert f'href="/app/notifications/{opened.pk}/"' in page

    response = client.get(f"/app/notifications/{opened.pk}/")

    assert response.status_code == 302
    assert response["Location"] == f"/app/conversations/{conversation.pk}/"
    assert Notification.objects.get(pk=opened.pk).read_at is not None
    assert Notification.objects.get(pk=other.pk).read_at is None


def test_opening_a_notification_without_a_conversation_returns_to_the_list(cast, client):
    row = note_for(cast.agent_a, "no conversation")
    client.force_login(cast.agent_a)

    response = client.get(f"/app/notifications/{row.pk}/")

    assert response["Location"] == PAGE
    assert unread(cast.agent_a) == 0


def test_nobody_opens_or_marks_another_agents_notification(cast, client):
    row = note_for(cast.agent_a, "for a", conversation=cast.conversation_a())
    client.force_login(cast.agent_b)

    assert client.get(f"/app/notifications/{row.pk}/").status_code == 404
    assert Notification.objects.get(pk=row.pk).read_at is None


def test_anonymous_visitors_are_sent_to_sign_in(cast, client):
    row = note_for(cast.agent_a, "for a")
    for path in (PAGE, f"/app/notifications/{row.pk}/"):
        response = client.get(path)
        assert response.status_code == 302
        assert response["Location"].startswith("/app/login/")
    response = client.post("/app/notifications/read/")
    assert response["Location"].startswith("/app/login/")
    assert unread(cast.agent_a) == 1


def test_older_notifications_are_paged_by_keyset(cast, client):
    base = datetime(2025, 3, 3, 9, 0, tzinfo=UTC)
    for n in range(55):
        note_for(cast.agent_a, f"note number {n:02d}", at=base + timedelta(minutes=n))
    client.force_login(cast.agent_a)

    first = client.get(PAGE)
    older = first.context["older"]
    second = client.get(f"{PAGE}?before={older}")

    first_texts = [n.text for n in first.context["notifications"]]
    second_texts = [n.text for n in second.context["notifications"]]
    assert first_texts[0] == "note number 54" and len(first_texts) == 50
    assert second_texts == [f"note number {n:02d}" for n in range(4, -1, -1)]
    assert second.context["older"] is None


def test_the_page_costs_a_fixed_number_of_queries(cast, client, django_assert_max_num_queries):
    conversation = cast.conversation_a()
    for n in range(30):
        note_for(cast.agent_a, f"n{n}", conversation=conversation, actor=cast.lead_a)
    client.force_login(cast.agent_a)

    # session, user, the bell's count, the page of notifications with their actors
    with django_assert_max_num_queries(4):
        assert client.get(PAGE).status_code == 200


# --- the bell ----------------------------------------------------------------------------


def test_the_bell_counts_unread_and_caps_at_99_plus(cast, client):
    notify(users=[cast.agent_a], kind="mention", text="x")
    client.force_login(cast.agent_a)
    assert 'id="unread-count" aria-label="unread">1<' in client.get(PAGE).content.decode()

    Notification.objects.bulk_create(
        Notification(user=cast.agent_a, kind="mention", text="x", created_at=datetime.now(UTC))
        for _ in range(120)
    )
    assert 'id="unread-count" aria-label="unread">99+<' in client.get(PAGE).content.decode()

    client.force_login(cast.agent_b)
    assert 'id="unread-count" aria-label="unread"><' in client.get(PAGE).content.decode()


def test_the_bell_count_is_one_query_at_most_and_only_when_used(cast, django_assert_num_queries):
    notify(users=[cast.agent_a], kind="mention", text="x")
    request = RequestFactory().get("/app/notifications/")
    request.user = cast.agent_a

    with django_assert_num_queries(0):
        context = workspace_context(request)
    with django_assert_num_queries(1):
        counted = context["unread_notifications"]
        assert counted() == 1
        assert counted() == 1


def test_the_bell_is_not_counted_outside_the_workspace(cast):
    request = RequestFactory().get("/contact/")
    request.user = cast.agent_a

    assert workspace_context(request) == {}
