"""Deflection: does the help center answer questions before they become conversations?

The one definition, used by every figure below and on every page that shows one:

A help-center session (HelpSession, one visit; bots are never recorded) is *engaged*
when it viewed an article or was shown suggestions while writing a request
(HelpSession.engaged_at is the first such moment). An engaged session is *deflected
(24 h)* when no new conversation was opened by the same visitor or customer within 24
hours of engaged_at; the 7-day figure is reported beside it. "The same visitor or
customer": a CONTACT HelpEvent from any session with the same `visitor` cookie value,
or any conversation (any channel: email, chat, phone…) created by the session's
customer (HelpSession.customer, set when the visitor signs in to the portal or sends a
request) in the window. A contact in the same session after the engagement counts as
not deflected. Windows that have not fully elapsed yet are reported as "pending", not
as deflected (right-censoring): only sessions whose window closed count in the rate.

How it is computed: a window is [engaged_at, engaged_at + 24 h) (or 7 days). Whether
a contact fell in it is one correlated EXISTS per session over indexed columns
(help sessions by visitor, help events by session and time, conversations by
customer); no Python loop over rows. Date ranges are local days in the workspace's
time zone (TIME_ZONE), and a session belongs to the day it started. On SQLite the
window's end is computed to the millisecond.

Every report takes a date range (`start`, `end`, inclusive local days) and `now` (the
moment that decides which windows have closed; the current time by default).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.db.models import (
    Case,
    Count,
    DateTimeField,
    Exists,
    Func,
    IntegerField,
    Max,
    OuterRef,
    Q,
    QuerySet,
    Value,
    When,
)
from django.utils import timezone

from heedful.conversations.models import Conversation
from heedful.insights.facts import workspace_zone
from heedful.insights.query import Period, cut_periods
from heedful.knowledge.models import (
    Article,
    ArticleFeedback,
    ArticleTranslation,
    HelpEvent,
    HelpEventKind,
    HelpSession,
)

# The definition paragraph of this docstring, for the dashboard and the README.
DEFINITION = " ".join((__doc__ or "").split("\n\n")[2].replace("*", "").split())
DAY = timedelta(hours=24)
WEEK = timedelta(days=7)
# Rewrite candidates: articles viewed at least this often in the range.
REWRITE_MIN_VIEWS = 20
LIST_LIMIT = 100


# --- the definition, in SQL ----------------------------------------------------------


class _Later(Func):
    """A datetime column plus a fixed number of seconds, in SQL.

    Django's own datetime + timedelta calls a Python function per row on SQLite;
    this stays in SQL on both backends, so the EXISTS below can use the index range.
    """

    output_field = DateTimeField()

    def __init__(self, expression: Any, seconds: int) -> None:
        super().__init__(expression)
        self.seconds = int(seconds)

    def as_sqlite(self, compiler: Any, connection: Any, **extra: Any) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        # Django stores "YYYY-MM-DD HH:MM:SS[.ffffff]"; %f is seconds with milliseconds.
        return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {sql}, '+{self.seconds} seconds')", params

    def as_sql(
        self,
        compiler: Any,
        connection: Any,
        function: str | None = None,
        template: str | None = None,
        arg_joiner: str | None = None,
        **extra: Any,
    ) -> Any:
        sql, params = compiler.compile(self.source_expressions[0])
        return f"({sql} + interval '{self.seconds} seconds')", params


def contact_after(window: timedelta, *, session: str = "", since: str = "engaged_at") -> Q:
    """True when the same visitor or customer opened a conversation in
    [since, since + window). `session` is the path from the outer row to its
    HelpSession ("" when the outer row is one, "session__" from a HelpEvent);
    `since` is the outer field the window starts at."""
    start = OuterRef(since)
    end = _Later(OuterRef(since), int(window.total_seconds()))
    by_visitor = HelpEvent.objects.filter(
        kind=HelpEventKind.CONTACT,
        session__visitor=OuterRef(f"{session}visitor"),
        created_at__gte=start,
        created_at__lt=end,
    )
    by_customer = Conversation.objects.filter(
        customer_id=OuterRef(f"{session}customer_id"),
        created_at__gte=start,
        created_at__lt=end,
    )
    return Q(Exists(by_visitor)) | Q(Exists(by_customer))


# --- ranges ----------------------------------------------------------------------------


def bounds(start: date, end: date) -> tuple[datetime, datetime]:
    """[local midnight of start, local midnight after end) as aware datetimes."""
    zone = workspace_zone()
    return (
        datetime.combine(start, time.min, tzinfo=zone),
        datetime.combine(end + timedelta(days=1), time.min, tzinfo=zone),
    )


def sessions_between(start: date, end: date) -> QuerySet[HelpSession]:
    low, high = bounds(start, end)
    return HelpSession.objects.filter(started_at__gte=low, started_at__lt=high)


def events_between(start: date, end: date, kind: str) -> QuerySet[HelpEvent]:
    low, high = bounds(start, end)
    return HelpEvent.objects.filter(kind=kind, created_at__gte=low, created_at__lt=high)


def rate(part: int, whole: int) -> float | None:
    """A percentage, or None when there is nothing to divide by."""
    return round(100.0 * part / whole, 1) if whole else None


# --- outcomes --------------------------------------------------------------------------


@dataclass
class Outcome:
    """Engaged sessions under one window: how many closed, and of those how many were
    followed by a contact. `deflected` and `rate` only count closed windows."""

    engaged: int = 0
    closed: int = 0
    contacted: int = 0

    @property
    def deflected(self) -> int:
        return self.closed - self.contacted

    @property
    def pending(self) -> int:
        return self.engaged - self.closed

    @property
    def rate(self) -> float | None:
        return rate(self.deflected, self.closed)

    def add(self, other: "Outcome") -> None:
        self.engaged += other.engaged
        self.closed += other.closed
        self.contacted += other.contacted


def _outcome_counts(now: datetime, *, prefix: str = "", distinct: str = "") -> dict[str, Count]:
    """Aggregates for both windows. On sessions (`prefix` "") they count rows; on events
    (`prefix` "session__", `distinct` "session") they count distinct sessions."""
    target = distinct or "id"
    is_distinct = bool(distinct)
    engaged_at = f"{prefix}engaged_at"
    counts = {
        "engaged": Count(target, distinct=is_distinct, filter=Q(**{f"{engaged_at}__isnull": False}))
    }
    for key, window in (("24h", DAY), ("7d", WEEK)):
        closed = Q(**{f"{engaged_at}__lt": now - window})
        counts[f"closed_{key}"] = Count(target, distinct=is_distinct, filter=closed)
        counts[f"contacted_{key}"] = Count(
            target,
            distinct=is_distinct,
            # The cheap test first: the EXISTS runs only for closed windows.
            filter=closed & contact_after(window, session=prefix, since=engaged_at),
        )
    return counts


def _outcomes(row: dict[str, Any]) -> tuple[Outcome, Outcome]:
    engaged = row.get("engaged") or 0
    return (
        Outcome(engaged, row.get("closed_24h") or 0, row.get("contacted_24h") or 0),
        Outcome(engaged, row.get("closed_7d") or 0, row.get("contacted_7d") or 0),
    )


# --- overall and trend -------------------------------------------------------------------


@dataclass
class TrendPoint:
    period: Period
    sessions: int = 0
    day: Outcome = field(default_factory=Outcome)
    week: Outcome = field(default_factory=Outcome)


def trend(
    start: date, end: date, grain: str = "day", *, now: datetime | None = None
) -> list[TrendPoint]:
    """Sessions and deflection per day, ISO week or month of the range (one query)."""
    now = now or timezone.now()
    periods = cut_periods(start, end, grain)
    points = [TrendPoint(p) for p in periods]
    rows = (
        sessions_between(start, end)
        .annotate(bucket=_bucket([bounds(p.start, p.end)[0] for p in periods]))
        .values("bucket")
        .annotate(sessions=Count("id"), **_outcome_counts(now))
        .order_by()
    )
    for row in rows:
        point = points[row["bucket"]]
        point.sessions = row["sessions"]
        point.day, point.week = _outcomes(row)
    return points


def _bucket(starts: list[datetime]) -> Case:
    """The index of the period a session started in: the last start at or before it.
    A CASE in SQL rather than a time-zone function per row (SQLite runs those in
    Python)."""
    whens = [
        When(started_at__gte=moment, then=Value(index))
        for index, moment in reversed(list(enumerate(starts)))
    ]
    return Case(*whens, default=Value(0), output_field=IntegerField())


@dataclass
class Overview:
    sessions: int = 0
    day: Outcome = field(default_factory=Outcome)
    week: Outcome = field(default_factory=Outcome)
    searches: int = 0
    searches_without_results: int = 0
    views: int = 0
    helpful_yes: int = 0
    helpful_no: int = 0

    @property
    def engaged(self) -> int:
        return self.day.engaged

    @property
    def helpful_rate(self) -> float | None:
        return rate(self.helpful_yes, self.helpful_yes + self.helpful_no)


def overview(
    start: date,
    end: date,
    *,
    now: datetime | None = None,
    points: Iterable[TrendPoint] | None = None,
) -> Overview:
    """The range's totals; pass the range's `trend` to reuse its session counts."""
    if points is None:
        points = trend(start, end, "month", now=now)
    result = Overview()
    for point in points:
        result.sessions += point.sessions
        result.day.add(point.day)
        result.week.add(point.week)
    searches = events_between(start, end, HelpEventKind.SEARCH).aggregate(
        total=Count("id"), empty=Count("id", filter=Q(results=0))
    )
    result.searches = searches["total"]
    result.searches_without_results = searches["empty"]
    result.views = events_between(start, end, HelpEventKind.VIEW).count()
    low, high = bounds(start, end)
    votes = ArticleFeedback.objects.filter(created_at__gte=low, created_at__lt=high).aggregate(
        yes=Count("id", filter=Q(helpful=True)), no=Count("id", filter=Q(helpful=False))
    )
    result.helpful_yes, result.helpful_no = votes["yes"], votes["no"]
    return result


# --- per article ---------------------------------------------------------------------------


@dataclass
class ArticleRow:
    article_id: int
    title: str
    slug: str
    language: str
    is_public: bool
    views: int = 0
    sessions: int = 0
    helpful_yes: int = 0
    helpful_no: int = 0
    day: Outcome = field(default_factory=Outcome)
    week: Outcome = field(default_factory=Outcome)

    @property
    def helpful_rate(self) -> float | None:
        return rate(self.helpful_yes, self.helpful_yes + self.helpful_no)

    @property
    def followed_rate_24h(self) -> float | None:
        """Share of the sessions that viewed it (24 h window closed) followed by a contact."""
        return rate(self.day.contacted, self.day.closed)

    @property
    def followed_rate_7d(self) -> float | None:
        return rate(self.week.contacted, self.week.closed)


def articles(start: date, end: date, *, now: datetime | None = None) -> list[ArticleRow]:
    """Every article viewed or voted on in the range, most viewed first.

    "Followed by a contact" is the session's outcome under the one definition
    (the window runs from the session's engaged_at), among sessions that viewed the
    article."""
    now = now or timezone.now()
    viewed = (
        events_between(start, end, HelpEventKind.VIEW)
        .filter(article__isnull=False)
        .values("article_id")
        .annotate(
            views=Count("id"),
            sessions=Count("session", distinct=True),
            **_outcome_counts(now, prefix="session__", distinct="session"),
        )
        .order_by()
    )
    rows: dict[int, dict[str, Any]] = {row["article_id"]: row for row in viewed}
    low, high = bounds(start, end)
    votes = (
        ArticleFeedback.objects.filter(created_at__gte=low, created_at__lt=high)
        .values("article_id")
        .annotate(yes=Count("id", filter=Q(helpful=True)), no=Count("id", filter=Q(helpful=False)))
        .order_by()
    )
    for vote in votes:
        rows.setdefault(vote["article_id"], {}).update(yes=vote["yes"], no=vote["no"])
    found = _describe(rows)
    result = []
    for article_id, row in rows.items():
        if article_id not in found:
            continue  # deleted since
        item = found[article_id]
        item.views, item.sessions = row.get("views", 0), row.get("sessions", 0)
        item.helpful_yes, item.helpful_no = row.get("yes", 0), row.get("no", 0)
        item.day, item.week = _outcomes(row)
        result.append(item)
    result.sort(key=lambda r: (-r.views, -(r.helpful_yes + r.helpful_no), r.article_id))
    return result


def _describe(ids: Iterable[int]) -> dict[int, ArticleRow]:
    """Title and slug in each article's default language (any language if missing)."""
    found: dict[int, ArticleRow] = {}
    wanted = list(ids)
    states = {
        a.pk: a
        for a in Article.objects.filter(pk__in=wanted).only(
            "status", "visibility", "default_language"
        )
    }
    translations = ArticleTranslation.objects.filter(article_id__in=wanted).order_by(
        "article_id", "id"
    )
    for tr in translations.only("article_id", "language", "title", "slug"):
        article = states.get(tr.article_id)
        if article is None:
            continue
        current = found.get(tr.article_id)
        if current is None or (tr.language == article.default_language != current.language):
            found[tr.article_id] = ArticleRow(
                tr.article_id, tr.title, tr.slug, tr.language, article.is_public
            )
    return found


def rewrite_candidates(
    start: date,
    end: date,
    *,
    min_views: int = REWRITE_MIN_VIEWS,
    limit: int = 20,
    now: datetime | None = None,
    rows: list[ArticleRow] | None = None,
) -> list[ArticleRow]:
    """Articles viewed at least `min_views` times whose readers most often still
    contacted us within 24 h; ties go to the less helpful. Pass `articles(...)` as
    `rows` to reuse it."""
    if rows is None:
        rows = articles(start, end, now=now)
    busy = [r for r in rows if r.views >= min_views and r.followed_rate_24h is not None]
    busy.sort(
        key=lambda r: (
            -(r.followed_rate_24h or 0),
            r.helpful_rate if r.helpful_rate is not None else 100,
            -r.views,
            r.article_id,
        )
    )
    return busy[:limit]


# --- content gaps --------------------------------------------------------------------------


@dataclass
class GapRow:
    query: str
    searches: int
    last_seen: datetime | None = None
    followed: int = 0

    @property
    def followed_rate(self) -> float | None:
        return rate(self.followed, self.searches)


def searches_without_results(start: date, end: date, *, limit: int = LIST_LIMIT) -> list[GapRow]:
    """What visitors looked for and did not find: normalized query, count, last seen."""
    rows = (
        events_between(start, end, HelpEventKind.SEARCH)
        .filter(results=0)
        .exclude(query="")
        .values("query")
        .annotate(searches=Count("id"), last_seen=Max("created_at"))
        .order_by("-searches", "-last_seen", "query")[:limit]
    )
    return [GapRow(r["query"], r["searches"], r["last_seen"]) for r in rows]


def searches_followed_by_contact(
    start: date, end: date, *, now: datetime | None = None, limit: int = LIST_LIMIT
) -> list[GapRow]:
    """Queries after which the same visitor or customer still opened a conversation
    within 24 h of the search (searches whose 24 h have passed), most often first."""
    now = now or timezone.now()
    rows = (
        events_between(start, end, HelpEventKind.SEARCH)
        .exclude(query="")
        .filter(created_at__lt=now - DAY)
        .values("query")
        .annotate(
            searches=Count("id"),
            followed=Count(
                "id", filter=contact_after(DAY, session="session__", since="created_at")
            ),
            last_seen=Max("created_at"),
        )
        .filter(followed__gt=0)
        .order_by("-followed", "-searches", "query")[:limit]
    )
    return [GapRow(r["query"], r["searches"], r["last_seen"], r["followed"]) for r in rows]


# --- suggestions while writing a request ------------------------------------------------------


@dataclass
class Suggestions:
    shown: int = 0  # times suggestions were shown
    sessions_shown: int = 0
    sessions_clicked: int = 0
    clicks: int = 0
    day: Outcome = field(default_factory=Outcome)

    @property
    def click_rate(self) -> float | None:
        """Share of the sessions shown suggestions that opened one."""
        return rate(self.sessions_clicked, self.sessions_shown)


def suggestions(start: date, end: date, *, now: datetime | None = None) -> Suggestions:
    now = now or timezone.now()
    shown = events_between(start, end, HelpEventKind.SUGGESTIONS_SHOWN)
    clicks = events_between(start, end, HelpEventKind.SUGGESTION_CLICKED)
    result = Suggestions()
    totals = shown.aggregate(shown=Count("id"), sessions=Count("session", distinct=True))
    result.shown, result.sessions_shown = totals["shown"], totals["sessions"]
    result.clicks = clicks.count()
    result.sessions_clicked = (
        clicks.filter(session__in=shown.values("session")).values("session").distinct().count()
    )
    outcome = shown.aggregate(**_outcome_counts(now, prefix="session__", distinct="session"))
    result.day = _outcomes(outcome)[0]
    return result


# --- everything for the dashboard ------------------------------------------------------------


@dataclass
class Report:
    start: date
    end: date
    grain: str
    now: datetime
    points: list[TrendPoint]
    overview: Overview
    articles: list[ArticleRow]
    rewrite: list[ArticleRow]
    no_results: list[GapRow]
    followed_searches: list[GapRow]
    suggestions: Suggestions
    min_views: int


def report(
    start: date,
    end: date,
    grain: str = "day",
    *,
    min_views: int = REWRITE_MIN_VIEWS,
    now: datetime | None = None,
) -> Report:
    """Every figure of the help-center dashboard for one range."""
    now = now or timezone.now()
    points = trend(start, end, grain, now=now)
    rows = articles(start, end, now=now)
    return Report(
        start=start,
        end=end,
        grain=grain,
        now=now,
        points=points,
        overview=overview(start, end, now=now, points=points),
        articles=rows,
        rewrite=rewrite_candidates(start, end, min_views=min_views, rows=rows),
        no_results=searches_without_results(start, end),
        followed_searches=searches_followed_by_contact(start, end, now=now),
        suggestions=suggestions(start, end, now=now),
        min_views=min_views,
    )


__all__ = [
    "DEFINITION",
    "ArticleRow",
    "GapRow",
    "Outcome",
    "Overview",
    "Report",
    "Suggestions",
    "TrendPoint",
    "articles",
    "contact_after",
    "overview",
    "report",
    "rewrite_candidates",
    "searches_followed_by_contact",
    "searches_without_results",
    "suggestions",
    "trend",
]
