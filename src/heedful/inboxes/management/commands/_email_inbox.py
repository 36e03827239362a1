"""Shared by the email commands: find the inbox a command names."""

from django.core.management.base import CommandError

from heedful.inboxes.models import Inbox


def email_inbox(name: str) -> Inbox:
    """The active email inbox called `name` (or with that address)."""
    inbox = (
        Inbox.objects.filter(kind="email", name=name).first()
        or Inbox.objects.filter(kind="email", address__iexact=name).first()
    )
    if inbox is None:
        known = ", ".join(Inbox.objects.filter(kind="email").values_list("name", flat=True))
        raise CommandError(f"no email inbox named {name!r} (email inboxes: {known or 'none'})")
    if not inbox.is_active:
        raise CommandError(f"the inbox {name!r} is switched off (is_active) in the admin")
    return inbox
