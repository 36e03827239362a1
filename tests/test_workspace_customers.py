"""Customer pages: directory search, profile, editing, merging; access for every role."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.http import Http404
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from heedful.conversations.models import Conversation
from heedful.core.errors import PermissionDenied, ServiceError
from heedful.customers.access import get_customer_for
from heedful.customers.models import Customer, Identity, Organization
from heedful.customers.search import search_customers
from heedful.customers.services import preview_merge, update_customer
from tests.factories import ConversationFactory, CustomerFactory, IdentityFactory, UserFactory

pytestmark = pytest.mark.django_db


def url(name: str, *args: object) -> str:
    return reverse(f"workspace:{name}", args=args)


@pytest.fixture
def people(cast):
    """Three customers in the directory, each findable a different way."""
    acme = Organization.objects.create(name="Acme Rockets")
    ann = CustomerFactory(name="Ann Lovelace", organization=acme)
    IdentityFactory(customer=ann, kind="email", address="ann.lovelace@example.com")
    bob = CustomerFactory(name="Bob Stone")
    IdentityFactory(customer=bob, kind="phone", address="+14155550100")
    cleo = CustomerFactory(name="Cleo Marsh")
    IdentityFactory(customer=cleo, kind="email", address="cleo@marsh.test")
    return {"ann": ann, "bob": bob, "cleo": cleo, "acme": acme}


def listed(response) -> set[str]:
    body = response.content.decode()
    return {name for name in ("Ann Lovelace", "Bob Stone", "Cleo Marsh") if name in body}


def many_conversations(cast, customer: Customer, count: int) -> None:
    now = timezone.now()
    for i in range(count):
        ConversationFactory(
            customer=customer,
            inbox=cast.inbox_a,
            team=cast.team_a,
            assignee=cast.agent_a if i % 2 else None,
            subject=f"Question {i}",
            last_message_at=now - timedelta(minutes=i),
        )


# --- the directory ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("ann", {"Ann Lovelace"}),  # name prefix, any case
        ("LOVELACE", {"Ann Lovelace"}),  # a later word of the name (newest customers)
        ("Ann.Lovelace@Example.com", {"Ann Lovelace"}),  # email, normalized, exact
        ("cleo@mar", {"Cleo Marsh"}),  # email prefix
        ("(415) 555-0100", {"Bob Stone"}),  # phone, normalized like inbound
        ("415 555", {"Bob Stone"}),  # partial national number
        ("+1415", {"Bob Stone"}),
        ("rockets", {"Ann Lovelace"}),  # organization name
        ("", {"Ann Lovelace", "Bob Stone", "Cleo Marsh"}),
    ],
)
def test_the_list_searches_by_name_address_and_organization(client, cast, people, query, expected):
    client.force_login(cast.agent_b)
    response = client.get(url("customers"), {"q": query})
    assert response.status_code == 200
    assert listed(response) == expected


def test_search_by_customer_number(client, cast, people):
    client.force_login(cast.agent_a)
    response = client.get(url("customers"), {"q": f"#{people['bob'].pk}"})
    assert listed(response) == {"Bob Stone"}


def test_an_empty_search_says_what_to_do_next(client, cast, people):
    client.force_login(cast.agent_a)
    response = client.get(url("customers"), {"q": "zebra"})
    assert response.status_code == 200
    body = response.content.decode()
    assert "No customer matches \u2018zebra\u2019." in body
    assert "Customers appear here when they first write in." in body


def test_htmx_search_returns_only_the_results(client, cast, people):
    client.force_login(cast.agent_a)
    response = client.get(
        url("customers"),
        {"q": "bob"},
        headers={"HX-Request": "true", "HX-Target": "customer-results"},
    )
    body = response.content.decode()
    assert "Bob Stone" in body
    assert "<html" not in body


def test_the_list_pages_by_keyset_on_newest_first(cast):
    made = [CustomerFactory(name=f"Dana {i}").pk for i in range(60)]
    first = search_customers("dana")
    assert first.customer_ids == sorted(made, reverse=True)[:50]
    assert first.next_before == first.customer_ids[-1]
    second = search_customers("dana", before=first.next_before)
    assert second.customer_ids == sorted(made, reverse=True)[50:]
    assert second.next_before is None


def test_dense_matches_are_read_newest_first_with_the_same_result(cast, monkeypatch):
    made = []
    for i in range(12):
        identity = IdentityFactory(
            customer__name=f"Eve {i}", kind="phone", address=f"+1415555{i:04d}"
        )
        made.append(identity.customer_id)
    sparse = [search_customers(q, limit=5) for q in ("eve", "+1415555")]
    monkeypatch.setattr("heedful.customers.search.DENSE", 2)
    dense = [search_customers(q, limit=5) for q in ("eve", "+1415555")]
    newest = sorted(made, reverse=True)
    for page_sparse, page_dense in zip(sparse, dense, strict=True):
        assert page_sparse.customer_ids == page_dense.customer_ids == newest[:5]
    second = search_customers("+1415555", limit=5, before=dense[1].next_before)
    assert second.customer_ids == newest[5:10]


def test_merged_away_customers_are_not_listed(cast, people):
    people["cleo"].merged_into = people["ann"]
    people["cleo"].save()
    assert people["cleo"].pk not in search_customers("").customer_ids


def test_the_list_counts_only_conversations_the_agent_may_see(client, cast):
    conversation = cast.conversation_a(name="Ann One")
    customer = conversation.customer
    customer.name = "Unique Person"
    customer.save()
    client.force_login(cast.agent_b)
    row = client.get(url("customers"), {"q": "unique"}).context["rows"][0]
    assert row.conversation_count == 0 and row.last_contact_at is None
    client.force_login(cast.admin)
    row = client.get(url("customers"), {"q": "unique"}).context["rows"][0]
    assert row.conversation_count == 1
    assert row.last_contact_at == conversation.last_message_at


def test_list_query_count_does_not_grow_with_the_rows(client, cast, django_assert_max_num_queries):
    client.force_login(cast.agent_a)

    def count_queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("customers")).status_code == 200
        return len(ctx.captured_queries)

    for i in range(3):
        many_conversations(cast, IdentityFactory(customer__name=f"Few {i}").customer, 2)
    few = count_queries()
    for i in range(40):
        many_conversations(cast, IdentityFactory(customer__name=f"Many {i}").customer, 2)
    assert count_queries() == few
    with django_assert_max_num_queries(12):
        client.get(url("customers"), {"q": "many"})


# --- access -------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["customers", "customer", "customer_edit", "customer_merge"])
def test_anonymous_visitors_are_sent_to_sign_in(client, people, name):
    args = () if name == "customers" else (people["ann"].pk,)
    response = client.get(url(name, *args))
    assert response.status_code == 302
    assert response["Location"].startswith("/app/login/")


def test_an_inactive_agent_is_refused(client, cast, people):
    gone = UserFactory(email="gone@heedful.test", is_active=False)
    client.force_login(gone)
    response = client.get(url("customer", people["ann"].pk))
    assert response.status_code in (302, 404)
    with pytest.raises(Http404):
        get_customer_for(gone, people["ann"].pk)
    with pytest.raises(Http404):
        get_customer_for(AnonymousUser(), people["ann"].pk)


def test_an_unknown_customer_is_404(client, cast):
    client.force_login(cast.admin)
    assert client.get(url("customer", 999999)).status_code == 404
    assert client.get("/app/customers/99999999999999999999999/").status_code == 404


def test_a_profile_shows_only_conversations_the_agent_may_see(client, cast):
    mine = cast.conversation_a(subject="Team A secret refund")
    customer = mine.customer
    client.force_login(cast.agent_b)
    response = client.get(url("customer", customer.pk))
    assert response.status_code == 200  # the directory is shared
    body = response.content.decode()
    assert "one@customer.test" in body
    assert "Team A secret refund" not in body
    assert url("conversation", mine.pk) not in body
    client.force_login(cast.agent_a)
    assert "Team A secret refund" in client.get(url("customer", customer.pk)).content.decode()
    client.force_login(cast.admin)
    body = client.get(url("customer", customer.pk)).content.decode()
    assert "Team A secret refund" in body
    assert url("conversation", mine.pk) in body


def test_the_profile_timeline_is_every_channel_newest_first(client, cast):
    older = cast.conversation_a(subject="First question")
    newer = cast.conversation_a(subject="Second question", inbox=cast.email)
    Conversation.objects.filter(pk=older.pk).update(
        last_message_at=timezone.now() - timedelta(days=3)
    )
    client.force_login(cast.admin)
    response = client.get(url("customer", older.customer_id))
    timeline = [row.pk for row in response.context["timeline"]]
    assert timeline[:2] == [newer.pk, older.pk]


def test_the_profile_pages_by_keyset(client, cast):
    customer = CustomerFactory()
    many_conversations(cast, customer, 55)
    client.force_login(cast.agent_a)
    first = client.get(url("customer", customer.pk))
    assert len(first.context["timeline"]) == 50
    second = client.get(url("customer", customer.pk), {"after": first.context["older"]})
    assert len(second.context["timeline"]) == 5
    seen = {row.pk for row in first.context["timeline"]} | {
        row.pk for row in second.context["timeline"]
    }
    assert len(seen) == 55
    assert second.context["older"] == ""


def test_the_profile_cursor_keeps_microseconds(client, cast):
    customer = CustomerFactory()
    moment = timezone.now().replace(microsecond=123457)
    for i in range(52):
        ConversationFactory(
            customer=customer,
            inbox=cast.inbox_a,
            team=cast.team_a,
            last_message_at=moment,
            subject=f"Same time {i}",
        )
    client.force_login(cast.agent_a)
    first = client.get(url("customer", customer.pk))
    second = client.get(url("customer", customer.pk), {"after": first.context["older"]})
    assert len(second.context["timeline"]) == 2


def test_profile_query_count_is_constant_in_the_conversations(client, cast):
    few, many = CustomerFactory(), CustomerFactory()
    many_conversations(cast, few, 3)
    many_conversations(cast, many, 40)
    client.force_login(cast.agent_a)

    def count_queries(customer: Customer) -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(url("customer", customer.pk)).status_code == 200
        return len(ctx.captured_queries)

    count_queries(few)  # warm caches (content types, sessions)
    assert count_queries(few) == count_queries(many)
    assert count_queries(many) <= 10


def test_a_merged_customers_url_leads_to_the_survivor(client, cast, people):
    people["cleo"].merged_into = people["ann"]
    people["cleo"].save()
    client.force_login(cast.agent_a)
    response = client.get(url("customer", people["cleo"].pk))
    assert response.status_code == 302
    assert response["Location"] == url("customer", people["ann"].pk)
    response = client.get(url("customer_edit", people["cleo"].pk))
    assert response["Location"] == url("customer_edit", people["ann"].pk)


# --- editing ------------------------------------------------------------------------


def edit_data(**changes: str) -> dict[str, str]:
    data = {
        "name": "Ann L.",
        "organization": "",
        "preferred_channel": "phone",
        "language": "fr",
        "time_zone": "Europe/Paris",
        "notes": "Prefers calls after 5pm.",
    }
    data.update(changes)
    return data


def test_any_agent_edits_details_and_notes(client, cast, people):
    client.force_login(cast.agent_b)
    response = client.post(url("customer_edit", people["ann"].pk), edit_data())
    assert response.status_code == 302
    ann = Customer.objects.get(pk=people["ann"].pk)
    assert (ann.name, ann.preferred_channel, ann.language, ann.time_zone) == (
        "Ann L.",
        "phone",
        "fr",
        "Europe/Paris",
    )
    assert ann.notes == "Prefers calls after 5pm."
    assert ann.organization is None
    page = client.get(url("customer", ann.pk)).content.decode()
    assert "Prefers calls after 5pm." in page


def test_the_edit_form_shows_current_values(client, cast, people):
    client.force_login(cast.agent_a)
    response = client.get(url("customer_edit", people["ann"].pk))
    assert response.status_code == 200
    assert 'value="Acme Rockets"' in response.content.decode()


def test_an_invalid_time_zone_is_a_form_error_and_changes_nothing(client, cast, people):
    client.force_login(cast.agent_a)
    response = client.post(
        url("customer_edit", people["ann"].pk), edit_data(time_zone="Mars/Olympus")
    )
    assert response.status_code == 400
    assert "is not a time zone" in response.content.decode()
    ann = Customer.objects.get(pk=people["ann"].pk)
    assert ann.name == "Ann Lovelace" and ann.time_zone == ""


def test_organization_is_picked_by_name_or_created(cast, people):
    update_customer(customer=people["bob"], actor=cast.agent_a, organization="acme rockets")
    assert people["bob"].organization == people["acme"]
    update_customer(customer=people["bob"], actor=cast.agent_a, organization="New Co")
    assert people["bob"].organization.name == "New Co"
    assert Organization.objects.count() == 2


def test_organization_suggestions(client, cast, people):
    client.force_login(cast.agent_a)
    response = client.get(url("customer_organizations"), {"organization": "acm"})
    assert '<option value="Acme Rockets">' in response.content.decode()


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("language", "not a language!"),
        ("preferred_channel", "pigeon"),
        ("time_zone", "../../etc/passwd"),
        ("name", "x" * 201),
        ("notes", "nul\x00byte"),
    ],
)
def test_update_customer_refuses_bad_values(cast, people, field, value):
    with pytest.raises(ServiceError) as refused:
        update_customer(customer=people["ann"], actor=cast.agent_a, **{field: value})
    assert field in refused.value.details["fields"]


def test_update_customer_refuses_unknown_fields_and_merged_records(cast, people):
    with pytest.raises(ServiceError):
        update_customer(customer=people["ann"], actor=cast.agent_a, merged_into=None)
    people["cleo"].merged_into = people["ann"]
    people["cleo"].save()
    with pytest.raises(ServiceError):
        update_customer(customer=people["cleo"], actor=cast.agent_a, name="X")


def test_update_customer_requires_an_active_agent(cast, people):
    gone = UserFactory(email="gone@heedful.test", is_active=False)
    with pytest.raises(PermissionDenied):
        update_customer(customer=people["ann"], actor=gone, name="X")


# --- merging ------------------------------------------------------------------------


@pytest.fixture
def duplicates(cast):
    """Customer one wrote from two addresses that became two records."""
    kept = cast.conversation_a(address="one@customer.test").customer
    kept.notes = "VIP since 2019."
    kept.save()
    dup_conversation = cast.conversation_b(address="one.private@customer.test")
    duplicate = dup_conversation.customer
    duplicate.language = "de"
    duplicate.notes = "Call before noon."
    duplicate.save()
    return kept, duplicate, dup_conversation


def test_a_lead_previews_then_merges(client, cast, duplicates):
    kept, duplicate, dup_conversation = duplicates
    client.force_login(cast.lead_a)
    chooser = client.get(url("customer_merge", kept.pk), {"q": "one.private@customer.test"})
    assert [c.pk for c in chooser.context["rows"]] == [duplicate.pk]
    preview = client.get(url("customer_merge_preview", kept.pk, duplicate.pk))
    assert preview.status_code == 200
    body = preview.content.decode()
    assert "one.private@customer.test" in body
    assert f"Merge {duplicate} into {kept}" in body
    assert "1 conversation" in body and "0 you can open" in body  # team B's moves too
    assert "VIP since 2019.<br><br>Call before noon." in body
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id is None  # nothing yet

    response = client.post(url("customer_merge_preview", kept.pk, duplicate.pk))
    assert response.status_code == 302
    assert response["Location"] == url("customer", kept.pk)
    duplicate.refresh_from_db()
    kept.refresh_from_db()
    assert duplicate.merged_into_id == kept.pk
    assert Identity.objects.get(address="one.private@customer.test").customer_id == kept.pk
    assert Conversation.objects.get(pk=dup_conversation.pk).customer_id == kept.pk
    assert kept.notes == "VIP since 2019.\n\nCall before noon."
    assert kept.language == "de"
    follow = client.get(url("customer", duplicate.pk))
    assert follow["Location"] == url("customer", kept.pk)


def test_the_preview_matches_what_the_merge_does(cast, duplicates):
    kept, duplicate, _ = duplicates
    org = Organization.objects.create(name="Duplicate Org")
    duplicate.organization = org
    duplicate.save()
    preview = preview_merge(source=duplicate, target=kept, viewer=cast.admin)
    assert preview.visible_conversations == preview.conversations == 1
    from heedful.conversations.services import merge_customers

    merged = merge_customers(source=duplicate, target=kept, actor=cast.admin)
    merged.refresh_from_db()
    assert merged.notes == preview.notes
    assert merged.organization == preview.organization == org
    assert {i.pk for i in preview.identities} <= set(merged.identities.values_list("pk", flat=True))
    assert preview.filled == {"language": "de"}


def test_an_agent_sees_the_merge_button_disabled_and_cannot_merge(client, cast, duplicates):
    kept, duplicate, _ = duplicates
    client.force_login(cast.agent_a)
    profile = client.get(url("customer", kept.pk)).content.decode()
    assert "Only team leads and admins can merge customers." in profile
    assert url("customer_merge", kept.pk) not in profile
    preview = client.get(url("customer_merge_preview", kept.pk, duplicate.pk)).content.decode()
    assert "disabled" in preview
    response = client.post(url("customer_merge_preview", kept.pk, duplicate.pk))
    assert response.status_code == 403
    assert "Only team leads and admins can merge customers." in response.content.decode()
    assert Customer.objects.get(pk=duplicate.pk).merged_into_id is None
    assert Identity.objects.get(address="one.private@customer.test").customer_id == duplicate.pk
    htmx = client.post(
        url("customer_merge_preview", kept.pk, duplicate.pk), headers={"HX-Request": "true"}
    )
    assert htmx.status_code == 403 and htmx.json()["code"] == "forbidden"


def test_merging_a_customer_into_themselves_is_refused(client, cast, duplicates):
    kept, _, _ = duplicates
    client.force_login(cast.admin)
    response = client.post(url("customer_merge_preview", kept.pk, kept.pk))
    assert response.status_code == 302
    assert Customer.objects.get(pk=kept.pk).merged_into_id is None


def test_merging_an_already_merged_pair_is_a_clear_answer(client, cast, duplicates):
    kept, duplicate, _ = duplicates
    client.force_login(cast.admin)
    client.post(url("customer_merge_preview", kept.pk, duplicate.pk))
    again = client.post(url("customer_merge_preview", kept.pk, duplicate.pk))
    assert again.status_code == 302
    assert again["Location"] == url("customer", kept.pk)


# --- bad input ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "params"),
    [
        ("customers", {"q": "\x00"}),
        ("customers", {"q": "a\x00b@c"}),
        ("customers", {"q": "x" * 5000}),
        ("customers", {"q": "%_'\"; drop table"}),
        ("customers", {"q": "#99999999999999999999999"}),
        ("customers", {"q": "#99999999999999999"}),
        ("customers", {"q": "+"}),
        ("customers", {"q": "+1 (((((("}),
        ("customers", {"q": "twitter:@"}),
        ("customers", {"q": "\U0010ffff"}),
        ("customers", {"q": "\ud7ff"}),
        ("customers", {"before": "abc"}),
        ("customers", {"before": "-1"}),
        ("customers", {"before": "99999999999999999999999999"}),
        ("customer", {"after": "garbage"}),
        ("customer", {"after": "99999999999999999-1"}),
        ("customer", {"after": "1-99999999999999999"}),
        ("customer_merge", {"q": "\x00"}),
        ("customer_organizations", {"organization": "\x00"}),
    ],
)
def test_garbage_parameters_never_fail(client, cast, people, name, params):
    client.force_login(cast.agent_a)
    args = (people["ann"].pk,) if name in ("customer", "customer_merge") else ()
    response = client.get(url(name, *args), params)
    assert response.status_code == 200


def test_garbage_posts_never_fail(client, cast, people):
    client.force_login(cast.agent_a)
    target = url("customer_edit", people["ann"].pk)
    assert client.post(target, {"preferred_channel": "<script>"}).status_code == 400
    assert client.post(target, {"notes": "a\x00b"}).status_code == 400
    assert client.post(target, {}).status_code == 302  # every field may be blank
    assert client.post(url("customer_merge_preview", people["ann"].pk, 424242)).status_code == 404
