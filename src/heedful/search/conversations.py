"""The agents' search: conversations (subject and every message, notes included),
customers and articles from one box.

Conversations, newest first: the newest WINDOW matching messages (and WINDOW
matching subjects) are read from the index in id order, which stays fast for a word
found in most messages because the read stops after WINDOW rows; they are grouped
by conversation, newest match first. `sort=relevance` ranks the same window by how
well each conversation's newest matching message (and subject, counted twice)
matches. Counts are of that window ("500+" past it).

What shows is decided inside the query: the access rule of conversations/access.py
(compiled into the SQL), the filters, withdrawn replies left out, spam left out
unless asked for, merged conversations left out (their messages moved to the
conversation they were merged into, which is found instead).
"""

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any, Literal

from django.db import connection
from django.db.models import Q
from django.utils import timezone
from django.utils.html import escape
from django.utils.safestring import SafeString

from heedful.conversations.access import visible_filter
from heedful.conversations.models import Conversation, DeliveryStatus, Message, Status
from heedful.search import backends, text
from heedful.search.text import Query

if TYPE_CHECKING:
    from heedful.accounts.models import User

WINDOW = 500
PAGE_SIZE = 20
Sort = Literal["newest", "relevance"]
NO_ASSIGNEE = "none"


@dataclass
class Filters:
    status: str = ""
    channel: str = ""  # an inbox kind
    since: date | None = None
    until: date | None = None
    assignee: str = ""  # a user id, NO_ASSIGNEE, or "" for anyone
    tag: str = ""
    spam: bool = False


@dataclass
class ConversationHit:
    conversation: Conversation
    # The newest matching message, or None when only the subject matched.
    message: Message | None
    snippet: SafeString
    subject: SafeString
    rank: float = 0.0


@dataclass
class ConversationResults:
    query: str
    hits: list[ConversationHit] = field(default_factory=list)
    total: int = 0
    capped: bool = False
    page: int = 1
    pages: int = 1


def access_where(user: "User | Any") -> tuple[str, list[Any]] | None:
    """visible_filter compiled to SQL over the alias `c`; None: sees nothing."""
    return _compile(Conversation.objects.filter(visible_filter(user)))


def _compile(queryset: Any) -> tuple[str, list[Any]] | None:
    from django.core.exceptions import EmptyResultSet, FullResultSet

    compiler = queryset.query.get_compiler(connection=connection)
    try:
        sql, params = compiler.compile(queryset.query.where)
    except EmptyResultSet:
        return None
    except FullResultSet:
        return "1 = 1", []
    table = f"{connection.ops.quote_name(Conversation._meta.db_table)}."
    return sql.replace(table, "c.") or "1 = 1", list(params)


def _conversation_where(user: "User | Any", filters: Filters) -> tuple[str, list[Any]] | None:
    from heedful.conversations.models import ConversationTag
    from heedful.inboxes.models import Inbox

    condition = visible_filter(user) & Q(merged_into__isnull=True)
    if not filters.spam:
        condition &= Q(is_spam=False)
    if filters.status:
        condition &= Q(status=filters.status)
    if filters.channel:
        # Inbox ids rather than a join: the compiled SQL reads the conversation only.
        inboxes = Inbox.objects.filter(kind=filters.channel).values_list("id", flat=True)
        condition &= Q(inbox_id__in=list(inboxes))
    if filters.assignee == NO_ASSIGNEE:
        condition &= Q(assignee__isnull=True)
    elif filters.assignee:
        condition &= Q(assignee_id=int(filters.assignee))
    if filters.tag:
        tagged = ConversationTag.objects.filter(tag__name=filters.tag).values("conversation_id")
        condition &= Q(pk__in=tagged)
    return _compile(Conversation.objects.filter(condition))


def _day_bounds(filters: Filters) -> tuple[datetime | None, datetime | None]:
    zone = timezone.get_current_timezone()
    since = datetime.combine(filters.since, time.min, zone) if filters.since else None
    until = (
        datetime.combine(filters.until + timedelta(days=1), time.min, zone)
        if filters.until
        else None
    )
    return since, until


def search_conversations(
    query: str,
    *,
    user: "User | Any",
    filters: Filters | None = None,
    sort: Sort = "newest",
    page: int = 1,
    per_page: int = PAGE_SIZE,
) -> ConversationResults:
    filters = filters or Filters()
    parsed = text.parse(query)
    results = ConversationResults(query=query, page=max(1, page))
    scope = _conversation_where(user, filters)
    if not parsed or scope is None:
        return results
    newest = _window(parsed, scope, filters)
    results.capped = newest.capped
    ordered = _order(newest, parsed, sort)
    results.total = len(ordered)
    results.pages = max(1, -(-len(ordered) // per_page))
    results.page = min(results.page, results.pages)
    start = (results.page - 1) * per_page
    results.hits = _hits(ordered[start : start + per_page], parsed)
    return results


@dataclass
class _Window:
    # conversation id -> (newest matching message id or None, time of that match)
    found: dict[int, tuple[int | None, Any]]
    subject_ids: set[int]
    capped: bool


def _window(query: Query, scope: tuple[str, list[Any]], filters: Filters) -> _Window:
    where, params = scope
    since, until = _day_bounds(filters)
    message_where = f"{where} AND m.delivery_status != %s"
    message_params = [*params, DeliveryStatus.CANCELLED]
    subject_where, subject_params = where, list(params)
    for bound, op in ((since, ">="), (until, "<")):
        if bound:
            message_where += f" AND m.created_at {op} %s"
            subject_where += f" AND c.created_at {op} %s"
            message_params.append(bound)
            subject_params.append(bound)
    messages = backends.match_messages(
        query, where=message_where, params=message_params, limit=WINDOW
    )
    subjects = backends.match_subjects(
        query, where=subject_where, params=subject_params, limit=WINDOW
    )
    found: dict[int, tuple[int | None, Any]] = {}
    for message_id, conversation_id, created_at, _ in messages:  # newest first
        found.setdefault(conversation_id, (message_id, created_at))
    for conversation_id, created_at, _ in subjects:
        found.setdefault(conversation_id, (None, created_at))
    capped = len(messages) >= WINDOW or len(subjects) >= WINDOW
    return _Window(found, {row[0] for row in subjects}, capped)


def _order(window: _Window, query: Query, sort: Sort) -> list[tuple[int, int | None, bool]]:
    """(conversation id, message id, subject matched), in the order shown. Times are
    datetimes (PostgreSQL) or ISO text (SQLite): either sorts as time does."""
    rows = [
        (cid, mid, cid in window.subject_ids, when) for cid, (mid, when) in window.found.items()
    ]
    rows.sort(key=lambda r: (r[3], r[0]), reverse=True)
    if sort == "relevance":
        scores = _scores(rows, query)
        rows.sort(key=lambda r: scores[r[0]], reverse=True)  # stable: newest first on a tie
    return [(cid, mid, subject) for cid, mid, subject, _ in rows]


def _scores(rows: list[tuple[int, int | None, bool, Any]], query: Query) -> dict[int, float]:
    """Relevance of each conversation: its newest matching message's score, plus twice
    its subject's when that matched. Computed here rather than by the database, so
    both order alike (FTS5's bm25 also counts every match of a phrase first, which
    took a second for common words at three million messages)."""
    bodies = dict(
        Message.objects.filter(pk__in=[r[1] for r in rows if r[1]]).values_list("pk", "body_text")
    )
    subjects = dict(
        Conversation.objects.filter(pk__in=[r[0] for r in rows if r[2]]).values_list(
            "pk", "subject"
        )
    )
    return {
        cid: (text.score(bodies.get(mid, ""), query) if mid else 0.0)
        + (2 * text.score(subjects.get(cid, ""), query) if subject_hit else 0.0)
        for cid, mid, subject_hit, _ in rows
    }


def _hits(rows: list[tuple[int, int | None, bool]], query: Query) -> list[ConversationHit]:
    conversations = Conversation.objects.select_related("customer", "inbox", "assignee").in_bulk(
        [cid for cid, _, _ in rows]
    )
    messages = Message.objects.select_related("author_agent").in_bulk(
        [mid for _, mid, _ in rows if mid]
    )
    hits = []
    for cid, mid, _ in rows:
        conversation = conversations.get(cid)
        if conversation is None:
            continue
        message = messages.get(mid) if mid else None
        # The index said so; the current text must agree (never show a stale row).
        snippet = text.highlight(message.body_text, query) if message else None
        if snippet is None:
            message = None
            if not text.matches(conversation.subject, query):
                continue
        subject = conversation.subject
        hits.append(
            ConversationHit(
                conversation=conversation,
                message=message,
                snippet=snippet or SafeString(""),
                subject=text.snippet(subject, query, width=255)
                if subject
                else SafeString(escape("(no subject)")),
            )
        )
    return hits


STATUS_CHOICES = Status.choices
