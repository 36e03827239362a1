"""The workspace's conversation lists: which conversations each list holds, how they
are filtered and sorted, and keyset pages over them.

Every list is an equality on the stored `queue` column (plus, for some, on the
assignee, team or inbox) followed by its sort key, so the database walks one of
the indexes on Conversation in order and stops after a page, however deep the
page and however many conversations there are. Pages are keyset pages: the
cursor holds the sort key of the last row shown, and the next page is a
row-value comparison `(sort key) < (cursor)`, which both SQLite and PostgreSQL
turn into an index seek. Counts are exact up to a cap and never a full count.
"""

import base64
import binascii
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.core.cache import cache
from django.db import connections
from django.db.models import Exists, OuterRef

from heedful.conversations.access import visible_filter
from heedful.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationQuerySet,
    ConversationTag,
    EventType,
    Priority,
    Queue,
    Status,
    Tag,
)
from heedful.customers.models import Identity

if TYPE_CHECKING:
    from heedful.accounts.models import User

PAGE_SIZE = 50
COUNT_CAP = 1000
COUNT_CACHE_SECONDS = 30
# SQLite binds 64-bit integers; anything larger in a cursor is tampering.
_MAX_ID = 2**63 - 1
_QUEUE_OF_STATUS = {
    Status.NEW: Queue.OPEN,
    Status.OPEN: Queue.OPEN,
    Status.PENDING: Queue.PENDING,
    Status.ON_HOLD: Queue.ON_HOLD,
    Status.SOLVED: Queue.SOLVED,
    Status.CLOSED: Queue.SOLVED,
}


@dataclass(frozen=True)
class ListView:
    key: str
    label: str
    queue: Queue
    # Who the list is about: "mine", "unassigned", "teams" or "all".
    scope: str
    empty: str

    @property
    def statuses(self) -> list[str]:
        """The statuses this list can narrow to. Lists by person (mine, unassigned,
        teams) cover every status: choosing one moves the list to that status's queue."""
        if self.scope != "all":
            return list(Status.values)
        return [s for s, q in _QUEUE_OF_STATUS.items() if q == self.queue]


VIEWS: dict[str, ListView] = {
    v.key: v
    for v in (
        ListView("mine", "My open", Queue.OPEN, "mine", "Nothing assigned to you is open."),
        ListView("unassigned", "Unassigned", Queue.OPEN, "unassigned", "Nothing unassigned."),
        ListView("teams", "My teams", Queue.OPEN, "teams", "Nothing open in your teams."),
        ListView("all_open", "All open", Queue.OPEN, "all", "Nothing is open."),
        ListView("pending", "Pending", Queue.PENDING, "all", "Nothing is waiting on a customer."),
        ListView("on_hold", "On hold", Queue.ON_HOLD, "all", "Nothing is on hold."),
        ListView("solved", "Solved", Queue.SOLVED, "all", "Nothing solved yet."),
    )
}
DEFAULT_VIEW = "all_open"


@dataclass(frozen=True)
class Sort:
    key: str
    label: str
    fields: tuple[str, ...]  # model fields of the sort key, the last one unique (id)
    descending: bool
    # Only conversations with a value for the first field (the waiting sort shows
    # only conversations waiting on us).
    needs_first: bool = False
    help: str = ""

    @property
    def order_by(self) -> list[str]:
        return [f"-{f}" if self.descending else f for f in self.fields]


SORTS: dict[str, Sort] = {
    s.key: s
    for s in (
        Sort("newest", "Newest activity", ("last_message_at", "id"), descending=True),
        Sort(
            "waiting",
            "Oldest waiting",
            ("waiting_since", "id"),
            descending=False,
            needs_first=True,
            help="Only conversations waiting on us (the customer wrote last), longest first.",
        ),
        Sort("priority", "Priority", ("priority", "last_message_at", "id"), descending=True),
    )
}
DEFAULT_SORT = "newest"


@dataclass
class Filters:
    status: str | None = None
    priority: int | None = None
    inbox: int | None = None
    channel: str | None = None
    tag: str | None = None
    assignee: int | None = None
    unassigned: bool = False  # assignee=none
    team: int | None = None
    no_team: bool = False  # team=none
    customer: int | None = None

    def as_params(self) -> dict[str, str]:
        """The filters as query parameters, for links that keep them."""
        params: dict[str, str] = {}
        for name in ("status", "priority", "inbox", "channel", "tag", "customer"):
            value = getattr(self, name)
            if value is not None:
                params[name] = str(value)
        if self.assignee is not None or self.unassigned:
            params["assignee"] = "none" if self.unassigned else str(self.assignee)
        if self.team is not None or self.no_team:
            params["team"] = "none" if self.no_team else str(self.team)
        return params

    @property
    def active(self) -> bool:
        return bool(self.as_params())


@dataclass
class ListRequest:
    view: ListView
    sort: Sort
    filters: Filters
    after: tuple[Any, ...] | None = None  # the decoded cursor
    cursor: str = ""
    problems: list[str] = field(default_factory=list)

    def params(self, **extra: str) -> dict[str, str]:
        params = {"view": self.view.key, "sort": self.sort.key, **self.filters.as_params()}
        params.update(extra)
        return params


def parse_request(params: Mapping[str, Any]) -> ListRequest:
    """Read a list request from query parameters. Garbage never raises: a value that
    cannot be used is left out and named in `problems`, for the page to show."""
    problems: list[str] = []
    view = VIEWS.get(_text(params, "view") or DEFAULT_VIEW)
    if view is None:
        problems.append("Unknown list; showing all open conversations.")
        view = VIEWS[DEFAULT_VIEW]
    sort = SORTS.get(_text(params, "sort") or DEFAULT_SORT)
    if sort is None:
        problems.append("Unknown sort order; showing newest first.")
        sort = SORTS[DEFAULT_SORT]
    filters = Filters()
    status = _text(params, "status")
    if status:
        if status in view.statuses:
            filters.status = status
        else:
            problems.append(f"“{view.label}” has no conversations with status “{status[:20]}”.")
    filters.priority = _number(params, "priority", problems, choices=Priority.values)
    filters.inbox = _number(params, "inbox", problems)
    filters.customer = _number(params, "customer", problems)
    channel = _text(params, "channel")
    if channel:
        from heedful.inboxes.registry import kinds

        if channel in kinds():
            filters.channel = channel
        else:
            problems.append(f"Unknown channel “{channel[:20]}”.")
    tag = _text(params, "tag").strip().lower()
    if tag:
        filters.tag = tag[:50]
    if _text(params, "assignee") == "none":
        filters.unassigned = True
    else:
        filters.assignee = _number(params, "assignee", problems)
    if _text(params, "team") == "none":
        filters.no_team = True
    else:
        filters.team = _number(params, "team", problems)
    request = ListRequest(view=view, sort=sort, filters=filters, problems=problems)
    cursor = _text(params, "cursor")
    if cursor:
        after = decode_cursor(cursor, sort)
        if after is None:
            problems.append("That page link is not valid any more; showing the first page.")
        else:
            request.after, request.cursor = after, cursor
    return request


def _text(params: Mapping[str, Any], name: str) -> str:
    value = params.get(name)
    return value[:200] if isinstance(value, str) else ""


def _number(
    params: Mapping[str, Any], name: str, problems: list[str], choices: list[int] | None = None
) -> int | None:
    raw = _text(params, name)
    if not raw:
        return None
    try:
        value = int(raw)
    except ValueError:
        value = -1
    if not 0 <= value <= _MAX_ID or (choices is not None and value not in choices):
        problems.append(f"Ignored the {name} filter: “{raw[:20]}” is not a valid choice.")
        return None
    return value


# Cursors ------------------------------------------------------------------------------


def encode_cursor(sort: Sort, row: Conversation) -> str:
    values: list[Any] = [sort.key]
    for name in sort.fields:
        value = getattr(row, name)
        values.append(value.isoformat() if isinstance(value, datetime) else value)
    raw = json.dumps(values, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, sort: Sort) -> tuple[Any, ...] | None:
    """The sort key a cursor holds, or None if it is not one this sort made."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        return None
    if not isinstance(values, list) or len(values) != len(sort.fields) + 1:
        return None
    if values[0] != sort.key:
        return None
    key: list[Any] = []
    for name, value in zip(sort.fields, values[1:], strict=True):
        parsed = _key_value(name, value)
        if parsed is None:
            return None
        key.append(parsed)
    return tuple(key)


def _key_value(name: str, value: Any) -> Any:
    if name in ("last_message_at", "waiting_since"):
        if not isinstance(value, str):
            return None
        try:
            moment = datetime.fromisoformat(value)
            if moment.tzinfo is None:
                return None
            return moment.astimezone(UTC)
        except (ValueError, OverflowError):
            return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _MAX_ID:
        return None
    return value


# Queries ------------------------------------------------------------------------------


class Viewer:
    """The signed-in agent with the access rule and their teams read once, so a page
    that builds many lists asks the database for them once."""

    def __init__(self, user: "User") -> None:
        self.user = user
        self._team_ids: list[int] | None = None
        self._visible: Any = None

    @property
    def visible(self) -> Any:
        if self._visible is None:
            user = self.user
            # Read once here and reused by the "my teams" list; admins need none.
            reads_teams = user.is_authenticated and user.is_active and not user.is_admin
            teams = self.team_ids if reads_teams else None
            self._visible = visible_filter(self.user, team_ids=teams)
        return self._visible

    @property
    def team_ids(self) -> list[int]:
        if self._team_ids is None:
            self._team_ids = list(self.user.teams.values_list("id", flat=True))
        return self._team_ids


def list_queryset(viewer: Viewer, view: ListView, *, queue: int | None = None) -> Any:
    """A list's conversations, in no particular order: the access rule, the list's
    scope and queue, and never merged-away or spam conversations."""
    qs: ConversationQuerySet = Conversation.objects.filter(viewer.visible)
    qs = qs.filter(
        queue=view.queue if queue is None else queue, merged_into__isnull=True, is_spam=False
    )
    if view.scope == "mine":
        qs = qs.filter(assignee=viewer.user)
    elif view.scope == "unassigned":
        qs = qs.filter(assignee__isnull=True)
    elif view.scope == "teams":
        qs = qs.filter(team_id__in=viewer.team_ids)
    return qs


def filtered_queryset(viewer: Viewer, request: ListRequest) -> Any:
    f = request.filters
    queue = _QUEUE_OF_STATUS[f.status] if f.status else None  # type: ignore[index]
    qs = list_queryset(viewer, request.view, queue=queue)
    if f.status:
        qs = qs.filter(status=f.status)
    if f.priority is not None:
        qs = qs.filter(priority=f.priority)
    if f.inbox is not None:
        qs = qs.filter(inbox_id=f.inbox)
    if f.channel:
        from heedful.inboxes.models import Inbox

        qs = qs.filter(inbox_id__in=list(Inbox.objects.filter(kind=f.channel).values_list("id")))
    if f.tag:
        tag_id = Tag.objects.filter(name=f.tag).values_list("id", flat=True).first()
        if tag_id is None:
            return qs.none()
        # EXISTS keeps the list's index order and stops after a page; `id IN (tagged)`
        # reads every conversation with the tag and sorts them (60 ms for a tag on
        # 20,000 conversations, against 1 ms).
        tagged = ConversationTag.objects.filter(conversation=OuterRef("pk"), tag_id=tag_id)
        qs = qs.filter(Exists(tagged))
    if f.unassigned:
        qs = qs.filter(assignee__isnull=True)
    elif f.assignee is not None:
        qs = qs.filter(assignee_id=f.assignee)
    if f.no_team:
        qs = qs.filter(team__isnull=True)
    elif f.team is not None:
        qs = qs.filter(team_id=f.team)
    if f.customer is not None:
        qs = qs.filter(customer_id=f.customer)
    sort = request.sort
    if sort.needs_first:
        qs = qs.filter(**{f"{sort.fields[0]}__isnull": False})
    qs = qs.order_by(*sort.order_by)
    if request.after is not None:
        qs = after_key(qs, sort, request.after)
    return qs


def after_key(qs: Any, sort: Sort, key: tuple[Any, ...]) -> Any:
    """Rows after `key` in the sort order, as one row-value comparison that the
    database turns into a seek on the list's index."""
    connection = connections[qs.db]
    quote = connection.ops.quote_name
    table = quote(Conversation._meta.db_table)
    columns = ", ".join(f"{table}.{quote(_column(n))}" for n in sort.fields)
    params = [
        connection.ops.adapt_datetimefield_value(v) if isinstance(v, datetime) else v for v in key
    ]
    placeholders = ", ".join(["%s"] * len(params))
    operator = "<" if sort.descending else ">"
    # Safe: column names come from the model, the operator is fixed, values are bound.
    # The ORM has no row-value comparison, and OR-ed per-column conditions do not seek.
    where = f"({columns}) {operator} ({placeholders})"
    return qs.extra(where=[where], params=params)  # noqa: S610


def _column(name: str) -> str:
    field = Conversation._meta.get_field(name)
    return str(field.column)  # type: ignore[union-attr]


@dataclass
class Page:
    rows: list[Conversation]
    next_cursor: str | None
    is_first: bool
    tags: dict[int, list[str]] = field(default_factory=dict)  # conversation id -> names
    # customer id -> [(identity kind, address)]
    identities: dict[int, list[tuple[str, str]]] = field(default_factory=dict)


# What a list row shows, and no more: the list is the hottest page, and every
# unused column (most of them timestamps) costs a conversion per row.
ROW_FIELDS = (
    "id",
    "number",
    "subject",
    "status",
    "priority",
    "last_message_at",
    "last_message_preview",
    "waiting_since",
    "assignee_id",
    "customer__id",
    "customer__name",
    "inbox__id",
    "inbox__kind",
    "inbox__name",
    "assignee__id",
    "assignee__name",
    "assignee__email",
)


def fetch_page(viewer: Viewer, request: ListRequest, *, size: int | None = None) -> Page:
    """One page of a list: the rows (with ROW_FIELDS and their customer, inbox and
    assignee), each row's tag names and each customer's identities, in three queries."""
    size = size or PAGE_SIZE
    qs = filtered_queryset(viewer, request).select_related("customer", "inbox", "assignee")
    rows = list(qs.only(*ROW_FIELDS)[: size + 1])
    next_cursor = encode_cursor(request.sort, rows[size - 1]) if len(rows) > size else None
    rows = rows[:size]
    # Plain tuples, not prefetched model instances: half the cost for the same facts.
    tags: dict[int, list[str]] = {}
    identities: dict[int, list[tuple[str, str]]] = {}
    if rows:
        tagged = ConversationTag.objects.filter(conversation_id__in=[r.pk for r in rows])
        for conversation_id, name in tagged.order_by("tag__name").values_list(
            "conversation_id", "tag__name"
        ):
            tags.setdefault(conversation_id, []).append(name)
        customers = {r.customer_id for r in rows}
        for customer_id, kind, address in (
            Identity.objects.filter(customer_id__in=customers)
            .order_by("id")
            .values_list("customer_id", "kind", "address")
        ):
            identities.setdefault(customer_id, []).append((kind, address))
    return Page(
        rows=rows,
        next_cursor=next_cursor,
        is_first=request.after is None,
        tags=tags,
        identities=identities,
    )


@dataclass(frozen=True)
class Count:
    value: int

    @property
    def label(self) -> str:
        return f"{COUNT_CAP - 1}+" if self.value >= COUNT_CAP else str(self.value)


# Events after which a conversation may be in other lists than before.
MEMBERSHIP_EVENTS = (
    EventType.CREATED,
    EventType.ASSIGNED,
    EventType.STATUS_CHANGED,
    EventType.REOPENED,
    EventType.MERGED_INTO,
    EventType.MERGED_FROM,
    EventType.SPAM_MARKED,
    EventType.CUSTOMER_MERGED,
)


def cached_list_counts(viewer: Viewer) -> dict[str, Count]:
    """`list_counts`, reused until the next conversation event.

    Every change to a conversation writes a ConversationEvent in its own
    transaction, so the newest event id versions every count; the key also holds
    what the access rule depends on (role, teams, active). On PostgreSQL an event
    can commit after a higher id, so a short expiry bounds how long a count can lag.
    """
    # The newest event that can move a conversation between lists; a note or a
    # delivery receipt leaves every count as it was. (ORDER BY id DESC LIMIT 1 walks
    # the primary key backwards; MAX() with a WHERE would read every event on SQLite.)
    latest = (
        ConversationEvent.objects.filter(type__in=MEMBERSHIP_EVENTS)
        .order_by("-id")
        .values_list("id", flat=True)
        .first()
    ) or 0
    user = viewer.user
    who = f"{user.pk}:{user.role}:{user.is_active}:{user.is_superuser}:{viewer.team_ids}"
    key = f"heedful:list-counts:{latest}:{who}"
    values = cache.get(key)
    if not isinstance(values, dict) or set(values) != set(VIEWS):
        values = {k: c.value for k, c in list_counts(viewer).items()}
        cache.set(key, values, COUNT_CACHE_SECONDS)
    return {k: Count(v) for k, v in values.items()}


def list_counts(viewer: Viewer) -> dict[str, Count]:
    """Each list's size, exact up to the cap: one query per list, each reading at
    most COUNT_CAP index entries."""
    return {key: Count(_capped_count(viewer, view)) for key, view in VIEWS.items()}


def _capped_count(viewer: Viewer, view: ListView) -> int:
    qs = list_queryset(viewer, view).order_by()
    if view.scope == "teams" and len(viewer.team_ids) > 1:
        # `team_id IN (a, b)` makes SQLite pick a poor index and read most of the
        # table; one `team_id = ?` count per team seeks conv_team_queue instead.
        total = 0
        for team_id in viewer.team_ids:
            total += qs.filter(team_id=team_id)[: COUNT_CAP - total].count()
            if total >= COUNT_CAP:
                break
        return total
    return qs[:COUNT_CAP].count()


def has_open_assigned(viewer: Viewer) -> bool:
    return bool(list_queryset(viewer, VIEWS["mine"]).exists())


def waiting_for(since: datetime | None, now: datetime) -> str:
    """'3 h' for a customer waiting since three hours ago; '' when nobody waits."""
    if since is None:
        return ""
    waited = max(now - since, timedelta(0))
    minutes = int(waited.total_seconds() // 60)
    if minutes < 1:
        return "under a minute"
    if minutes < 60:
        return f"{minutes} min"
    if minutes < 60 * 48:
        return f"{minutes // 60} h"
    return f"{minutes // (60 * 24)} d"
