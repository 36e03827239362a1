import pytest

from heedful.automation.macros import render_macro
from heedful.automation.models import Macro

pytestmark = pytest.mark.django_db


def test_placeholders_are_filled_from_customer_agent_and_conversation(cast) -> None:
    conversation = cast.conversation_a(name="Ann Lee")
    macro = Macro.objects.create(
        name="Thanks",
        body=(
            "Hi {{ customer.first_name }}, {{agent.first_name}} here about "
            "#{{ conversation.number }}."
        ),
    )
    text = render_macro(macro=macro, conversation=conversation, agent=cast.agent_a)
    first = cast.agent_a.name.split()[0]
    assert text == f"Hi Ann, {first} here about #{conversation.number}."


def test_a_customer_without_a_name_is_greeted_politely(cast) -> None:
    conversation = cast.conversation_a()
    macro = Macro.objects.create(name="Hello", body="Hi {{ customer.first_name }}!")
    assert render_macro(macro=macro, conversation=conversation, agent=cast.agent_a) == "Hi there!"


def test_unknown_placeholders_stay_visible_and_nothing_else_is_reachable(cast) -> None:
    conversation = cast.conversation_a()
    macro = Macro.objects.create(
        name="Sneaky",
        body="{{ settings.SECRET_KEY }} {{ customer.password }} {% load static %}",
    )
    text = render_macro(macro=macro, conversation=conversation, agent=cast.agent_a)
    assert text == macro.body
