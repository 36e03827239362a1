"""The customer directory's search, newest customers first, 50 at a time.

One query string is read several ways at once, each an index-backed lookup
capped with LIMIT, so a search costs the same at a thousand customers and at a
million:

* `#123`: a customer number.
* an address: identities whose normalized address starts with what was typed
  (email lower-cased; phone numbers normalized to E.164 like inbound ones;
  `network:handle`), a range scan on the unique (kind, address) index;
* a name: names that start with what was typed, in any case, a range scan on
  the name index per case spelling (ann, Ann, ANN);
* an organization: organizations whose name contains it (a small table), then
  their customers through the foreign-key index.

Each reading returns at most one page below the cursor (`before`, a customer
id); the union is cut to a page, so paging is a keyset on -id throughout. An
index range is read in index order while it is small (at most DENSE rows, then
sorted); a dense one ("a", "+1212") is instead walked newest customer first, which
finds a page within a few thousand rows when matches are spread over time.
A name in the middle ("smith" in "Ann Smith") is found by a capped scan of the
newest customers (`SCAN_ROWS`) — a full substring search over a million names
would be a table scan on every keystroke.
"""

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import phonenumbers
from django.conf import settings
from django.db.models import Exists, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery

from heedful.conversations.models import Conversation
from heedful.customers.identities import IdentityKind, InvalidAddress, normalize
from heedful.customers.models import Customer, Identity, Organization

if TYPE_CHECKING:
    from heedful.accounts.models import User

PAGE_SIZE = 50
# Conversation counts in the list stop here ("999+").
COUNT_CAP = 1000
MAX_QUERY = 200
# Substring matches in names are looked for among this many newest customers.
SCAN_ROWS = 20_000
# An index range finding more rows than this is read newest-first instead.
DENSE = 5_000
_PHONE_RE = re.compile(r"^\+?[\d\s().\-/]{4,}$")
_ID_RE = re.compile(r"^#\s*(\d{1,18})$")


@dataclass
class Reading:
    """Customers matching one interpretation of the query.

    `walk` is correct on its own, read newest first: fast when matches are dense
    (a page turns up within the first few thousand rows). `probe`, when given, reads
    the same matches' customer ids from an index range in index order: fast when they
    are sparse. The probe is tried first and abandoned past DENSE rows."""

    walk: "QuerySet[Customer]"
    probe: "QuerySet[Any] | None" = None


@dataclass
class SearchPage:
    query: str
    customer_ids: list[int] = field(default_factory=list)
    next_before: int | None = None


def search_customers(
    query: str, *, before: int | None = None, limit: int = PAGE_SIZE
) -> SearchPage:
    """Ids of surviving customers matching `query`, newest first, below `before`."""
    # NUL cannot reach PostgreSQL; whitespace runs are one space.
    text = " ".join((query or "").replace("\x00", "").split())[:MAX_QUERY]
    page = SearchPage(query=text)
    found: set[int] = set()
    for reading in _readings(text):
        found.update(_newest_ids(reading, before, limit + 1))
    candidates = sorted(found, reverse=True)[: limit + 1]
    if len(candidates) > limit:
        page.next_before = candidates[limit - 1]
    # Merged-away records are dropped last: as a filter inside each reading, SQLite
    # would walk the (almost all NULL) merged_into index instead of the one that
    # serves the reading. A page can come out a little short; the cursor stays right.
    survivors = set(
        Customer.objects.filter(pk__in=candidates[:limit], merged_into__isnull=True).values_list(
            "pk", flat=True
        )
    )
    page.customer_ids = [pk for pk in candidates[:limit] if pk in survivors]
    return page


def customer_rows(customer_ids: list[int], user: "User | Any") -> list[Customer]:
    """The page's customers in order, each with `conversation_count` (what `user` may see,
    counted up to COUNT_CAP) and `last_contact_at`: one query, plus one for identities."""
    visible = Conversation.objects.visible_to(user).filter(
        customer_id=OuterRef("pk"), merged_into__isnull=True
    )
    rows = (
        Customer.objects.filter(pk__in=customer_ids)
        .select_related("organization")
        .prefetch_related(Prefetch("identities", queryset=Identity.objects.order_by("kind", "pk")))
        .annotate(
            conversation_count=CountRows(visible.order_by().values("pk")[:COUNT_CAP]),
            last_contact_at=Subquery(
                visible.order_by("-last_message_at").values("last_message_at")[:1]
            ),
        )
        .order_by("-pk")
    )
    return list(rows)


class CountRows(Subquery):
    """COUNT(*) over a (sliced) subquery: a count that stops at the slice's LIMIT."""

    template = "(SELECT COUNT(*) FROM (%(subquery)s) AS capped)"
    output_field = IntegerField()


def _readings(text: str) -> Iterable[Reading]:
    everyone = Customer.objects.all()
    if not text:
        yield Reading(everyone)
        return
    if match := _ID_RE.match(text):
        yield Reading(everyone.filter(pk=int(match.group(1))))
        return
    addresses = _address_prefixes(text)
    if addresses:
        yield Reading(
            walk=everyone.filter(
                Exists(Identity.objects.filter(addresses, customer_id=OuterRef("pk")))
            ),
            probe=Identity.objects.filter(addresses).values_list("customer_id", flat=True),
        )
    if "@" in text:
        return  # an address, not a name
    yield Reading(
        # LIKE ignores case, so it cannot use the name index: fine for a walk.
        walk=everyone.filter(name__istartswith=text),
        probe=everyone.filter(_name_prefix(text)).values_list("pk", flat=True),
    )
    if len(text) >= 3:
        yield Reading(_newest(everyone).filter(name__icontains=text))
    org_ids = list(
        Organization.objects.filter(name__icontains=text)
        .order_by("pk")
        .values_list("pk", flat=True)[:PAGE_SIZE]
    )
    if org_ids:
        in_orgs = everyone.filter(organization_id__in=org_ids)
        yield Reading(walk=in_orgs, probe=in_orgs.values_list("pk", flat=True))


def _newest_ids(reading: Reading, before: int | None, count: int) -> list[int]:
    """The `count` highest customer ids a reading finds below `before`."""
    if reading.probe is not None:
        found = list(reading.probe.order_by()[: DENSE + 1])
        if len(found) <= DENSE:  # every match, whatever the cursor
            below = {pk for pk in found if before is None or pk < before}
            return sorted(below, reverse=True)[:count]
    walk = reading.walk if before is None else reading.walk.filter(pk__lt=before)
    return list(walk.order_by("-pk").values_list("pk", flat=True)[:count])


def _newest(everyone: "QuerySet[Customer]") -> "QuerySet[Customer]":
    """The newest SCAN_ROWS customers: one probe at the end of the primary key."""
    top = Customer.objects.order_by("-pk").values_list("pk", flat=True).first()
    return everyone.filter(pk__gt=(top or 0) - SCAN_ROWS)


def _prefix(field_name: str, prefix: str) -> Q:
    """`field` starts with `prefix`, written as a range so a plain B-tree index serves it
    on SQLite (whose LIKE ignores case and so skips the index) and PostgreSQL alike."""
    starts = Q(**{f"{field_name}__startswith": prefix})
    following = ord(prefix[-1]) + 1
    if 0xD800 <= following <= 0xDFFF:
        following = 0xE000  # surrogates cannot be stored; the next character is U+E000
    if following > 0x10FFFF:
        return Q(**{f"{field_name}__gte": prefix}) & starts
    upper = prefix[:-1] + chr(following)
    return Q(**{f"{field_name}__gte": prefix, f"{field_name}__lt": upper}) & starts


def _name_prefix(text: str) -> Q:
    spellings = {text, text.lower(), text.upper(), text.capitalize(), text.title()}
    condition = Q()
    for spelling in sorted(spellings):
        condition |= _prefix("name", spelling)
    return condition


def _address_prefixes(text: str) -> Q:
    """Identity conditions for what `text` could be the start of, on the (kind, address) index."""
    condition = Q()
    compact = text.replace(" ", "")
    phone = _phone_prefix(text)
    if len(compact) >= 3 and " " not in text and not (phone and text.startswith("+")):
        condition |= Q(kind=IdentityKind.EMAIL) & _prefix("address", compact.lower())
    if phone:
        condition |= Q(kind__in=[IdentityKind.PHONE, IdentityKind.WHATSAPP]) & _prefix(
            "address", phone
        )
    if ":" in text:
        try:
            social = normalize(IdentityKind.SOCIAL, text)
        except InvalidAddress:
            social = ""
        if social:
            condition |= Q(kind=IdentityKind.SOCIAL) & _prefix("address", social)
    if text.startswith("visitor-") or (text.isascii() and len(text) >= 8 and " " not in text):
        condition |= Q(kind=IdentityKind.CHAT, address=text)
    return condition


def _phone_prefix(text: str) -> str:
    """E.164 start of a (possibly partial) phone number, or "" if it is not one."""
    if not _PHONE_RE.match(text):
        return ""
    try:
        return normalize(IdentityKind.PHONE, text)
    except InvalidAddress:
        pass
    digits = re.sub(r"\D", "", text)
    if len(digits) < 4:
        return ""
    if text.lstrip().startswith("+"):
        return "+" + digits
    # A partial national number: read it in the configured region, like inbound numbers.
    code = phonenumbers.country_code_for_region(settings.HEEDFUL_PHONE_REGION)
    national = digits.lstrip("0") if code != 1 else digits.removeprefix("1")
    return f"+{code}{national}" if code else ""
