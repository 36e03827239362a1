"""conversations.services.bulk: one action over many conversations."""

import pytest

from heedful.conversations.models import Conversation, Status
from heedful.conversations.services import bulk
from heedful.conversations.services.bulk import Target, bulk_apply
from heedful.core.errors import ServiceError

pytestmark = pytest.mark.django_db


def test_each_visible_conversation_changes_and_hidden_ones_fail_alone(cast):
    mine = cast.conversation_a()
    theirs = cast.conversation_b()

    result = bulk_apply(
        actor=cast.agent_a,
        targets=[Target(mine.pk), Target(theirs.pk)],
        action="set_status",
        status=Status.PENDING,
    )

    assert (result.updated, result.failed) == (1, [f"conversation {theirs.pk}: not found"])
    assert Conversation.objects.get(pk=mine.pk).status == Status.PENDING
    assert Conversation.objects.get(pk=theirs.pk).status == Status.NEW


def test_a_conversation_named_twice_is_changed_once(cast):
    conversation = cast.conversation_a()

    result = bulk_apply(
        actor=cast.agent_a,
        targets=[Target(conversation.pk, None), Target(conversation.pk, None)],
        action="assign",
        agent=cast.agent_a,
    )

    assert (result.updated, result.failed) == (1, [])


def test_a_conversation_taken_since_the_list_was_shown_is_a_conflict(cast):
    from heedful.conversations.services import assign

    conversation = cast.conversation_a()
    assign(conversation=conversation, agent=cast.lead_a, actor=cast.lead_a)

    result = bulk_apply(
        actor=cast.agent_a,
        targets=[Target(conversation.pk, None)],  # the agent saw it unassigned
        action="assign",
        agent=cast.agent_a,
    )

    assert result.updated == 0
    assert "has this conversation now" in result.failed[0]


def test_too_many_or_none_is_refused_before_anything_changes(cast, monkeypatch):
    monkeypatch.setattr(bulk, "LIMIT", 1)
    first, second = cast.conversation_a(), cast.conversation_a(subject="Another")

    with pytest.raises(ServiceError, match="at most 1"):
        bulk_apply(
            actor=cast.agent_a,
            targets=[Target(first.pk), Target(second.pk)],
            action="tag",
            tag_name="vip",
        )
    with pytest.raises(ServiceError, match="at least one"):
        bulk_apply(actor=cast.agent_a, targets=[], action="tag", tag_name="vip")
    with pytest.raises(ServiceError, match="Unknown bulk action"):
        bulk_apply(actor=cast.agent_a, targets=[Target(first.pk)], action="delete")
    assert not first.tags.exists()
