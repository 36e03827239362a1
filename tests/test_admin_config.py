"""Configuration through the Django admin: admins only; conversations read-only."""

import pytest
from django.test import Client

from heedful.accounts.models import User
from heedful.automation.models import Macro
from heedful.conversations.services import Quarantined, receive
from heedful.customers.models import BlockedSender
from heedful.inboxes.models import Inbox, RawInbound
from heedful.inboxes.webform.intake import from_raw, to_raw

pytestmark = pytest.mark.django_db


def login(user: User) -> Client:
    client = Client()
    client.force_login(user)
    return client


def test_admin_creates_an_inbox_of_a_registered_kind(cast) -> None:
    client = login(cast.admin)
    response = client.post(
        "/admin/inboxes/inbox/add/",
        {
            "kind": "email",
            "name": "Billing",
            "address": "billing@support.test",
            "settings": "{}",
            "is_active": "on",
            "team": cast.team_a.pk,
        },
    )
    assert response.status_code == 302, response.content[:2000]
    assert Inbox.objects.get(name="Billing").team == cast.team_a


def test_an_unknown_channel_kind_is_a_form_error(cast) -> None:
    client = login(cast.admin)
    response = client.post(
        "/admin/inboxes/inbox/add/", {"kind": "pigeon", "name": "Birds", "settings": "{}"}
    )
    assert response.status_code == 200
    assert b"Select a valid choice" in response.content
    assert not Inbox.objects.filter(name="Birds").exists()


def test_admin_adds_a_macro_and_a_blocked_sender(cast) -> None:
    client = login(cast.admin)
    assert (
        client.post(
            "/admin/automation/macro/add/",
            {"name": "Refund", "body": "Hi {{ customer.first_name }}", "is_active": "on"},
        ).status_code
        == 302
    )
    assert (
        client.post(
            "/admin/customers/blockedsender/add/",
            {"kind": "email", "address": "  Spammer@Example.COM ", "reason": "spam"},
        ).status_code
        == 302
    )
    assert Macro.objects.filter(name="Refund").exists()
    blocked = BlockedSender.objects.get()
    assert (blocked.address, blocked.created_by) == ("spammer@example.com", cast.admin)


@pytest.mark.parametrize("who", ["lead_a", "agent_a", "agent_b"])
def test_only_admins_reach_the_admin(cast, who: str) -> None:
    response = login(getattr(cast, who)).get("/admin/inboxes/inbox/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_agents_are_deactivated_never_deleted(cast) -> None:
    client = login(cast.admin)
    response = client.post(f"/admin/accounts/user/{cast.agent_a.pk}/delete/", {"post": "yes"})
    assert response.status_code == 403
    assert User.objects.filter(pk=cast.agent_a.pk).exists()
    client.post(
        "/admin/accounts/user/",
        {"action": "deactivate", "_selected_action": [cast.agent_a.pk]},
    )
    cast.agent_a.refresh_from_db()
    assert not cast.agent_a.is_active


def test_quarantined_input_is_listed_and_retried_after_a_fix(cast, webform, monkeypatch) -> None:
    import importlib

    module = importlib.import_module("heedful.conversations.services.receive")
    real = module.resolve_identity

    def broken(*args: object, **kwargs: object) -> None:
        raise RuntimeError("identity store unavailable")

    monkeypatch.setattr(module, "resolve_identity", broken)
    fields = {
        "name": "Ann",
        "email": "ann@example.com",
        "subject": "Hi",
        "message": "Help",
        "submission_id": "abc123",
    }
    with pytest.raises(Quarantined):
        receive(from_raw(webform, to_raw(fields, [])))
    raw = RawInbound.objects.get()
    client = login(cast.admin)
    listing = client.get("/admin/inboxes/rawinbound/?status__exact=quarantined")
    assert b"identity store unavailable" in listing.content

    monkeypatch.setattr(module, "resolve_identity", real)
    client.post("/admin/inboxes/rawinbound/", {"action": "retry", "_selected_action": [raw.pk]})
    raw.refresh_from_db()
    assert raw.status == RawInbound.Status.PROCESSED
    assert raw.message is not None and raw.message.body_text == "Help"


def test_an_identity_typed_in_the_admin_is_normalized_like_inbound_ones(cast) -> None:
    from heedful.customers.models import Customer

    client = login(cast.admin)
    response = client.post(
        "/admin/customers/customer/add/",
        {
            "name": "Bo",
            "notes": "",
            "identities-TOTAL_FORMS": "1",
            "identities-INITIAL_FORMS": "0",
            "identities-0-kind": "email",
            "identities-0-address": "  Bo@Example.COM ",
        },
    )
    assert response.status_code == 302, response.content[:3000]
    identity = Customer.objects.get(name="Bo").identities.get()
    assert identity.address == "bo@example.com"


def test_a_bad_identity_typed_in_the_admin_is_a_form_error(cast) -> None:
    client = login(cast.admin)
    response = client.post(
        "/admin/customers/customer/add/",
        {
            "name": "Cy",
            "identities-TOTAL_FORMS": "1",
            "identities-INITIAL_FORMS": "0",
            "identities-0-kind": "phone",
            "identities-0-address": "not a number",
        },
    )
    assert response.status_code == 200
    assert b"is not a phone number" in response.content


def test_tags_created_in_the_admin_are_lower_case(cast) -> None:
    from heedful.conversations.models import Tag

    login(cast.admin).post("/admin/conversations/tag/add/", {"name": " VIP ", "color": "#ff0000"})
    assert Tag.objects.get().name == "vip"
