"""Factories per model; tests build what they need and nothing more."""

from datetime import datetime

import factory
from django.utils import timezone

from heedful.accounts.models import Role, Team, TeamMembership, User
from heedful.conversations.models import Conversation, Message
from heedful.customers.models import Customer, Identity
from heedful.inboxes.models import Inbox


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"agent{n}@heedful.test")
    username = factory.SelfAttribute("email")
    name = factory.Sequence(lambda n: f"Agent {n}")
    role = Role.AGENT
    password = factory.PostGenerationMethodCall("set_password", "correct horse battery")

    @factory.post_generation
    def teams(self, create: bool, extracted: list[Team] | None, **kwargs: object) -> None:
        for team in extracted or []:
            TeamMembership.objects.create(team=team, user=self)
        if create:
            self.save()


class TeamFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Team

    name = factory.Sequence(lambda n: f"Team {n}")


class InboxFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Inbox
        django_get_or_create = ["name"]

    kind = "webform"
    name = factory.Sequence(lambda n: f"Inbox {n}")


class CustomerFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Customer

    name = factory.Sequence(lambda n: f"Customer {n}")


class IdentityFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Identity

    customer = factory.SubFactory(CustomerFactory)
    kind = "email"
    address = factory.Sequence(lambda n: f"customer{n}@example.com")


def _now() -> datetime:
    return timezone.now()


class ConversationFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Conversation

    number = factory.Sequence(lambda n: 100000 + n)
    subject = "Help please"
    customer = factory.SubFactory(CustomerFactory)
    inbox = factory.SubFactory(InboxFactory)
    created_at = factory.LazyFunction(_now)
    updated_at = factory.LazyFunction(_now)
    last_message_at = factory.LazyFunction(_now)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    conversation = factory.SubFactory(ConversationFactory)
    inbox = factory.SelfAttribute("conversation.inbox")
    direction = "in"
    author_type = "customer"
    body_text = "Hello"
    created_at = factory.LazyFunction(_now)
