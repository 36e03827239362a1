"""Deflection: does the help center answer questions before they become conversations?

The one definition, used by every figure below and on every page that shows one:

A help-center visit (bots are never counted) is *engaged* when it viewed an article
or was shown suggested articles while writing a request; the first such moment starts
its windows. An engaged visit is *deflected (24 h)* when the same visitor or customer
opened no new conversation within the next 24 hours; the 7-day figure is reported
beside it. "The same visitor" is the same browser (the help center's own visitor
cookie) sending a request through the help center or the portal; "the same customer"
is any conversation on any channel (email, chat, phone…) from the customer who signed
in to the portal during the visit. A request sent in the same visit after the
engagement counts as not deflected. Visits whose window has not closed yet are
pending: only closed windows count in the rate.

In the models: a visit is a HelpSession; its windows start at engaged_at; the same
visitor is a CONTACT HelpEvent from any session with the same `visitor` value; the
customer is HelpSession.customer, set only by a portal sign-in (a contact form's typed
address proves nothing).

How it is computed: a window is [engaged_at, engaged_at + 24 h) (or 7 days). Each
engaged session's first contact within 7 days (HelpSession.followed_at) is *settled*
by `settle`, set-based in SQL: every five minutes (knowledge.tasks), at the start of
every report (so open windows are never stale), by the demo and by the migration that
added the column. A session stays open to settling until its 7-day window plus a
day's margin has closed (HelpSession.settled_at), so a contact or a customer link
recorded late still counts; closed windows are then final. Reports only read the
stored columns. Date ranges are local days in the workspace's
time zone (TIME_ZONE), and a session belongs to the day it started. On SQLite the
window's end is computed to the millisecond.

Every report takes a date range (`start`, `end`, inclusive local days) and `now` (the
moment that decides which windows have closed; the current time by default).
"""

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any

from django.core.cache import cache
from django.db import connection, transaction
from django.db.models import (
    Count,
    Max,
    Min,
    Q,
    QuerySet,
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
REPORT_CACHE_SECONDS = 300
# A session's outcome is recomputed until its 7-day window closed this long ago, for
# contacts and customer links that are recorded late.
SETTLE_MARGIN = DAY
# Backfills settle this much of the history (by session start) per statement.
SETTLE_BATCH = timedelta(days=31)


# --- the definition, in SQL ----------------------------------------------------------
#
# Set-based rather than one lookup per session: contacts are few (a request per ten
# visits or so) and sessions many, so the queries start from the contacts (help-center
# requests by kind and time, conversations by time) and reach the sessions they follow
# through indexes (sessions by visitor, by customer and start; events by session and
# time). Each engaged session gets its first contact within 7 days of engaged_at (the
# CTE "first"); a contact within 24 h is then a comparison.

SESSIONS = HelpSession._meta.db_table
EVENTS = HelpEvent._meta.db_table
CONVERSATIONS = Conversation._meta.db_table


def _later(column: str, seconds: int) -> str:
    """SQL for a datetime column plus `seconds` (negative: minus), on both backends.
    SQLite keeps "YYYY-MM-DD HH:MM:SS[.ffffff]" text: the result, with milliseconds,
    compares as text."""
    if connection.vendor == "sqlite":
        return f"strftime('%%Y-%%m-%%d %%H:%%M:%%f', {column}, '{seconds:+d} seconds')"
    return f"({column} + interval '{seconds:+d} seconds')"


def _join() -> str:
    """SQLite's CROSS JOIN keeps the written order (contacts first); PostgreSQL plans
    its own and takes no ON after CROSS JOIN."""
    return "CROSS JOIN" if connection.vendor == "sqlite" else "JOIN"


def _param(moment: datetime) -> Any:
    return connection.ops.adapt_datetimefield_value(moment)


def _first_contacts(low: datetime, high: datetime) -> tuple[str, list[Any]]:
    """The CTE "first"(sid, at): for each engaged session started in [low, high), the
    first contact by the same visitor or customer in [engaged_at, engaged_at + 7 d)."""
    week, join = int(WEEK.total_seconds()), _join()
    sql = f"""first AS (
        SELECT sid, MIN(at) AS at FROM (
            SELECT s.id AS sid, e.created_at AS at
            FROM {EVENTS} e
            {join} {SESSIONS} w ON w.id = e.session_id
            {join} {SESSIONS} s ON s.visitor = w.visitor
            WHERE e.kind = %s AND e.created_at >= %s AND e.created_at < %s
              AND s.started_at >= %s AND s.started_at < %s AND s.engaged_at IS NOT NULL
              AND e.created_at >= s.engaged_at AND e.created_at < {_later("s.engaged_at", week)}
            UNION ALL
            SELECT s.id AS sid, c.created_at AS at
            FROM {SESSIONS} s
            JOIN {CONVERSATIONS} c ON c.customer_id = s.customer_id
            WHERE c.created_at >= %s AND c.created_at < %s
              AND s.started_at >= %s AND s.started_at < %s AND s.engaged_at IS NOT NULL
              AND c.created_at >= s.engaged_at AND c.created_at < {_later("s.engaged_at", week)}
        ) AS contacts GROUP BY sid
    )"""
    lo, hi, later = _param(low), _param(high), _param(high + WEEK)
    params = [HelpEventKind.CONTACT, lo, later, lo, hi, lo, later, lo, hi]
    return sql, params


def _outcome_sql(now: datetime, *, distinct: bool) -> tuple[str, list[Any]]:
    """Select-list aggregates of both windows over rows with s (a settled session);
    `distinct` counts sessions once when rows are events."""
    day = int(DAY.total_seconds())

    def count(condition: str) -> str:
        if distinct:
            return f"COUNT(DISTINCT CASE WHEN {condition} THEN s.id END)"
        return f"SUM(CASE WHEN {condition} THEN 1 ELSE 0 END)"

    within_day = "s.engaged_at < %s AND s.followed_at < " + _later("s.engaged_at", day)
    sql = ", ".join(
        [
            count("s.engaged_at IS NOT NULL") + " AS engaged",
            count("s.engaged_at < %s") + " AS closed_24h",
            count(within_day) + " AS contacted_24h",
            count("s.engaged_at < %s") + " AS closed_7d",
            count("s.engaged_at < %s AND s.followed_at IS NOT NULL") + " AS contacted_7d",
        ]
    )
    cut_day, cut_week = _param(now - DAY), _param(now - WEEK)
    return sql, [cut_day, cut_day, cut_week, cut_week]


def _rows(sql: str, params: list[Any]) -> list[dict[str, Any]]:
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        names = [column[0] for column in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]


# --- settling: each session's outcome, computed once ----------------------------------


def settle(*, now: datetime | None = None) -> int:
    """Store the first contact within 7 days (followed_at) of every engaged session
    not yet final, and mark final (settled_at) those whose window plus the margin
    has closed. Idempotent; rewrites only the rows whose answer changed. Normally
    the last week or so of sessions; everything on the first run (month by month).
    The number of sessions whose followed_at changed."""
    now = now or timezone.now()
    pending = HelpSession.objects.filter(settled_at__isnull=True, engaged_at__isnull=False)
    span = pending.aggregate(low=Min("started_at"), high=Max("started_at"))
    if span["low"] is None:
        return 0
    changed, low, top = 0, span["low"], span["high"] + timedelta(microseconds=1)
    while low < top:
        high = min(low + SETTLE_BATCH, top)
        with transaction.atomic():
            changed += _settle_between(low, high)
            pending.filter(
                started_at__gte=low, started_at__lt=high, engaged_at__lt=now - WEEK - SETTLE_MARGIN
            ).update(settled_at=now)
        low = high
    return changed


def _settle_between(low: datetime, high: datetime) -> int:
    """One UPDATE: followed_at of the unsettled sessions started in [low, high)."""
    first, params = _first_contacts(low, high)
    differs = "IS NOT" if connection.vendor == "sqlite" else "IS DISTINCT FROM"
    # UPDATE first (the WITH inside): Python's sqlite3 reports no rowcount otherwise.
    sql = f"""UPDATE {SESSIONS} SET followed_at = fresh.at FROM (
            WITH {first}
            SELECT s.id AS sid, f.at AS at FROM {SESSIONS} s LEFT JOIN first f ON f.sid = s.id
            WHERE s.settled_at IS NULL AND s.engaged_at IS NOT NULL
              AND s.started_at >= %s AND s.started_at < %s
        ) AS fresh
        WHERE fresh.sid = {SESSIONS}.id AND {SESSIONS}.followed_at {differs} fresh.at"""
    with connection.cursor() as cursor:
        cursor.execute(sql, [*params, _param(low), _param(high)])
        return max(cursor.rowcount, 0)


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
    settle()
    return _trend(start, end, grain, now=now or timezone.now())


def _trend(start: date, end: date, grain: str, *, now: datetime) -> list[TrendPoint]:
    periods = cut_periods(start, end, grain)
    points = [TrendPoint(p) for p in periods]
    low, high = bounds(start, end)
    outcome, outcome_params = _outcome_sql(now, distinct=False)
    # The period a session started in: the last period start at or before it (a CASE
    # in SQL rather than a time-zone function per row, which SQLite runs in Python).
    starts = [bounds(p.start, p.end)[0] for p in periods]
    whens = " ".join(
        f"WHEN s.started_at >= %s THEN {index}" for index in reversed(range(len(starts)))
    )
    sql = (
        f"SELECT CASE {whens} ELSE 0 END AS bucket, COUNT(*) AS sessions, "
        f"{outcome} FROM {SESSIONS} s "
        "WHERE s.started_at >= %s AND s.started_at < %s GROUP BY 1"
    )
    params = [
        *[_param(m) for m in reversed(starts)],
        *outcome_params,
        _param(low),
        _param(high),
    ]
    for row in _rows(sql, params):
        point = points[row["bucket"]]
        point.sessions = row["sessions"]
        point.day, point.week = _outcomes(row)
    return points


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
    settle()
    return _articles(start, end, now=now or timezone.now())


def _articles(start: date, end: date, *, now: datetime) -> list[ArticleRow]:
    viewed = _by_event(start, end, now, HelpEventKind.VIEW, group="e.article_id")
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
        item.views, item.sessions = row.get("events", 0), row.get("sessions", 0)
        item.helpful_yes, item.helpful_no = row.get("yes", 0), row.get("no", 0)
        item.day, item.week = _outcomes(row)
        result.append(item)
    result.sort(key=lambda r: (-r.views, -(r.helpful_yes + r.helpful_no), r.article_id))
    return result


def _by_event(
    start: date, end: date, now: datetime, kind: str, *, group: str = ""
) -> list[dict[str, Any]]:
    """Events of `kind` in the range (grouped by `group`, a column of e), with their
    sessions' outcomes: views, distinct sessions, and both windows."""
    low, high = bounds(start, end)
    outcome, outcome_params = _outcome_sql(now, distinct=True)
    select = f"{group} + 0 AS {group.split('.')[-1]}, " if group else ""
    sql = (
        f"SELECT {select}COUNT(*) AS events, "
        f"COUNT(DISTINCT e.session_id) AS sessions, {outcome} "
        f"FROM {EVENTS} e JOIN {SESSIONS} s ON s.id = e.session_id "
        "WHERE e.kind = %s AND e.created_at >= %s AND e.created_at < %s"
    )
    if group:
        # "+ 0": SQLite would otherwise walk the whole events table in `group` order
        # (to skip a sort) instead of the range of events by kind and time.
        sql += f" AND {group} + 0 IS NOT NULL GROUP BY {group} + 0"
    params = [*outcome_params, kind, _param(low), _param(high)]
    return _rows(sql, params)


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
    limit: int = 10,
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
    low, high = bounds(start, end)
    high = min(high, now - DAY)
    day, join = int(DAY.total_seconds()), _join()
    # From each contact back to the searches of the same visitor or customer in the
    # 24 h before it.
    sql = f"""WITH followed AS (
            SELECT q.id AS qid
            FROM {EVENTS} e
            {join} {SESSIONS} w ON w.id = e.session_id
            {join} {SESSIONS} qs ON qs.visitor = w.visitor
            {join} {EVENTS} q ON q.session_id = qs.id
            WHERE e.kind = %s AND e.created_at >= %s AND e.created_at < %s
              AND q.kind = %s AND q.created_at >= %s AND q.created_at < %s
              AND q.created_at <= e.created_at AND q.created_at > {_later("e.created_at", -day)}
            UNION
            SELECT q.id AS qid
            FROM {CONVERSATIONS} c
            {join} {SESSIONS} qs ON qs.customer_id = c.customer_id
            {join} {EVENTS} q ON q.session_id = qs.id
            WHERE c.created_at >= %s AND c.created_at < %s
              AND q.kind = %s AND q.created_at >= %s AND q.created_at < %s
              AND q.created_at <= c.created_at AND q.created_at > {_later("c.created_at", -day)}
        )
        SELECT q.query AS query, COUNT(*) AS searches,
            SUM(CASE WHEN q.id IN (SELECT qid FROM followed) THEN 1 ELSE 0 END) AS followed,
            MAX(q.created_at) AS last_seen
        FROM {EVENTS} q
        WHERE q.kind = %s AND q.created_at >= %s AND q.created_at < %s AND q.query <> ''
        GROUP BY q.query
        HAVING SUM(CASE WHEN q.id IN (SELECT qid FROM followed) THEN 1 ELSE 0 END) > 0
        ORDER BY followed DESC, searches DESC, query LIMIT %s"""
    lo, hi, until = _param(low), _param(high), _param(high + DAY)
    search = HelpEventKind.SEARCH
    params = [
        *(HelpEventKind.CONTACT, lo, until, search, lo, hi),
        *(lo, until, search, lo, hi),
        *(search, lo, hi, limit),
    ]
    return [GapRow(r["query"], r["searches"], None, r["followed"]) for r in _rows(sql, params)]


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
    settle()
    return _suggestions(start, end, now=now or timezone.now())


def _suggestions(start: date, end: date, *, now: datetime) -> Suggestions:
    shown = events_between(start, end, HelpEventKind.SUGGESTIONS_SHOWN)
    clicks = events_between(start, end, HelpEventKind.SUGGESTION_CLICKED)
    result = Suggestions()
    totals = shown.aggregate(shown=Count("id"), sessions=Count("session", distinct=True))
    result.shown, result.sessions_shown = totals["shown"], totals["sessions"]
    result.clicks = clicks.count()
    result.sessions_clicked = (
        clicks.filter(session__in=shown.values("session")).values("session").distinct().count()
    )
    result.day = _outcomes(_by_event(start, end, now, HelpEventKind.SUGGESTIONS_SHOWN)[0])[0]
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


def cached_report(
    start: date, end: date, grain: str = "day", *, min_views: int = REWRITE_MIN_VIEWS
) -> Report:
    """`report` as of the last five-minute mark, cached until the next one: the
    dashboard and its CSV downloads then agree and a reload costs nothing."""
    now = timezone.now()
    moment = now - timedelta(seconds=now.timestamp() % REPORT_CACHE_SECONDS)
    key = f"heedful:help-report:{start}:{end}:{grain}:{min_views}:{int(moment.timestamp())}"
    found: Report | None = cache.get(key)
    if found is None:
        found = report(start, end, grain, min_views=min_views, now=moment)
        cache.set(key, found, REPORT_CACHE_SECONDS)
    return found


def report(
    start: date,
    end: date,
    grain: str = "day",
    *,
    min_views: int = REWRITE_MIN_VIEWS,
    now: datetime | None = None,
) -> Report:
    """Every figure of the help-center dashboard for one range (settled first)."""
    now = now or timezone.now()
    settle()
    points = _trend(start, end, grain, now=now)
    rows = _articles(start, end, now=now)
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
        suggestions=_suggestions(start, end, now=now),
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
    "overview",
    "report",
    "rewrite_candidates",
    "searches_followed_by_contact",
    "searches_without_results",
    "settle",
    "suggestions",
    "trend",
]
