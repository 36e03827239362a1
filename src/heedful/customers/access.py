"""Who may open a customer record.

Customer records are the team's shared directory: every active agent, whatever
their role or team, may open a profile and edit its details and notes (a
customer who wrote to team A yesterday may write to team B today, and team B
must know who they are). What a profile shows of their *conversations* is
filtered by the conversation access rule (`customers.history.conversations_of`),
so a profile never reveals a conversation the agent's lists would hide.
"""

from typing import TYPE_CHECKING, Any

from django.http import Http404

from heedful.customers.models import Customer

if TYPE_CHECKING:
    from heedful.accounts.models import User


def may_open_customers(user: "User | Any") -> bool:
    return bool(user is not None and user.is_authenticated and user.is_active)


def get_customer_for(user: "User | Any", pk: int | str) -> Customer:
    """The customer, or 404. A customer merged into another comes back as the survivor,
    so callers compare primary keys and redirect to the surviving record."""
    if not may_open_customers(user):
        raise Http404("No such customer")
    try:
        customer = Customer.objects.select_related("organization").get(pk=pk)
    except (Customer.DoesNotExist, ValueError, TypeError, OverflowError):
        raise Http404("No such customer") from None
    if customer.merged_into_id is None:
        return customer
    survivor = customer.resolve()
    return Customer.objects.select_related("organization").get(pk=survivor.pk)
