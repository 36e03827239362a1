from heedful.conversations.models import ConversationEvent


def test_receive_opens_conversation_with_events(cast):
    conversation = cast.conversation_a()
    assert conversation.team == cast.team_a
    types = list(
        ConversationEvent.objects.filter(conversation=conversation).values_list("type", flat=True)
    )
    assert types == ["created", "message_received"]
