"""core.rows: single-row statements compiled once must write what the ORM writes."""

import pytest

from heedful.conversations.models import ConversationEvent, Message
from heedful.conversations.services import receive
from heedful.core import rows
from heedful.customers.models import Customer, Identity
from heedful.inboxes.models import RawInbound

pytestmark = pytest.mark.django_db


def test_insert_writes_the_row_save_would(cast):
    conversation = cast.conversation_a()
    message = rows.insert(
        Message(
            conversation=conversation,
            inbox=cast.inbox_a,
            direction="out",
            author_type="agent",
            author_agent=cast.agent_a,
            body_text="Your parcel is on its way.",
            created_at=conversation.created_at,
        )
    )
    assert message.pk and not message._state.adding
    stored = Message.objects.get(pk=message.pk)
    assert stored.body_text == "Your parcel is on its way."
    assert stored.author_agent == cast.agent_a
    assert stored.created_at == conversation.created_at
    assert stored.external_id is None and stored.delivery_status == ""


def test_insert_fills_auto_now_add_and_json_fields(cast):
    customer = rows.insert(Customer(name="Ann Lee"))
    assert customer.created_at is not None
    assert Customer.objects.get(pk=customer.pk).created_at == customer.created_at
    event = rows.insert(
        ConversationEvent(
            conversation=cast.conversation_a(),
            type="note_added",
            actor_type="system",
            data={"message_id": 7, "text": 'quote " and ü'},
            created_at=customer.created_at,
        )
    )
    assert ConversationEvent.objects.get(pk=event.pk).data == {
        "message_id": 7,
        "text": 'quote " and ü',
    }


def test_update_changes_only_the_named_columns(cast):
    raw = receive(cast.inbound(raw=b"raw input")).raw
    assert raw is not None
    rows.update(RawInbound, raw.pk, status="quarantined", reason="test", message_id=None)
    raw.refresh_from_db()
    assert (raw.status, raw.reason, raw.message_id) == ("quarantined", "test", None)
    assert bytes(raw.payload) == b"raw input"


def test_first_id_finds_by_unique_fields(cast):
    customer = Customer.objects.create(name="Ann")
    identity = Identity.objects.create(customer=customer, kind="email", address="ann@x.test")
    assert rows.first_id(Identity, kind="email", address="ann@x.test") == identity.pk
    assert rows.first_id(Identity, kind="phone", address="ann@x.test") is None


def test_any_row_tells_an_empty_table():
    assert not rows.any_row(Identity)
    Identity.objects.create(customer=Customer.objects.create(name="Ann"), kind="chat", address="v1")
    assert rows.any_row(Identity)
