"""Dashboard figures read from the daily rollups, never from conversations.

A request asks for a date range (local days, as the rollups store them), a grain
(day, ISO week from Monday, month), an optional breakdown and filters. Reading it
costs a fixed handful of queries whatever the range: the sums grouped by day over
the range and the one before it, one aggregate for everything earlier (backlog),
the sums grouped by the breakdown key, and the duration histograms of the rows that
have durations (percentiles cannot be summed, so they are merged here). Every figure
comes from a formula in `heedful.insights.metrics`.

Who sees what is decided once, in `viewer_scope`.
"""

import hashlib
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from typing import TYPE_CHECKING, Any

import numpy as np
from django.core.cache import cache
from django.core.exceptions import EmptyResultSet
from django.db import connection
from django.db.models import F, Q, QuerySet, Sum

from heedful.insights import metrics as m
from heedful.insights.models import DailyRollup, RollupSums, TagRollup

if TYPE_CHECKING:
    from heedful.accounts.models import User

GRAINS = ("day", "week", "month")
BREAKDOWNS = ("channel", "inbox", "team", "agent", "tag")
HISTOGRAMS = (
    "first_response_hist",
    "first_response_business_hist",
    "resolution_hist",
    "resolution_business_hist",
)
SUM_FIELDS = tuple(
    f.name for f in RollupSums._meta.get_fields() if f.concrete and f.name not in HISTOGRAMS
)
# The longest range one request may ask for: a day grain over years would draw
# thousands of points and read thousands of rows for nothing.
MAX_DAYS = 3 * 366
MAX_DAY_POINTS = 200


# --- who sees what -----------------------------------------------------------------


@dataclass(frozen=True)
class Scope:
    """The rollup rows (and survey responses) a viewer may read.

    `team_ids` None means every team; `agent_id` None means every agent. Tag rollups
    are not keyed by team or agent, so only a scope over everything may read them.
    """

    team_ids: frozenset[int] | None = None
    agent_id: int | None = None
    personal: bool = False

    @property
    def everything(self) -> bool:
        return self.team_ids is None and self.agent_id is None

    @property
    def breakdowns(self) -> tuple[str, ...]:
        if self.everything:
            return BREAKDOWNS
        if self.agent_id is not None:
            return ("channel", "inbox")
        return ("channel", "inbox", "team", "agent")

    def rollup_q(self) -> Q:
        q = Q()
        if self.team_ids is not None:
            q &= Q(team_id__in=sorted(self.team_ids))
        if self.agent_id is not None:
            q &= Q(agent_id=self.agent_id)
        return q

    def response_q(self) -> Q:
        """The same rule over SurveyResponse (which holds the same team and agent)."""
        q = Q()
        if self.team_ids is not None:
            q &= Q(team_id__in=sorted(self.team_ids))
        if self.agent_id is not None:
            q &= Q(agent_id=self.agent_id)
        return q


def viewer_scope(user: "User | Any", *, personal: bool = False) -> Scope | None:
    """The one access rule of the dashboards; None when the user may see nothing.

    - personal (/app/insights/me/): anyone signed in, only rows credited to themselves.
    - admins: everything.
    - team leads: the teams they lead, that is teams where their membership is marked
      lead, plus every team they belong to when their role is Team lead. Rows of other
      teams (and so those teams' agents) and the workspace-wide tag rollups stay hidden.
    - agents: nothing here (they have the personal dashboard).
    """
    if user is None or not user.is_authenticated or not user.is_active:
        return None
    if personal:
        return Scope(agent_id=user.pk, personal=True)
    if user.is_admin:
        return Scope()
    from heedful.accounts.models import Role, TeamMembership

    led = TeamMembership.objects.filter(user=user)
    if user.role != Role.LEAD:
        led = led.filter(is_lead=True)
    team_ids = frozenset(led.values_list("team_id", flat=True))
    if not team_ids:
        return None
    return Scope(team_ids=team_ids)


# --- the request ---------------------------------------------------------------------


@dataclass(frozen=True)
class Filters:
    channels: tuple[str, ...] = ()
    inbox_ids: tuple[int, ...] = ()
    team_ids: tuple[int, ...] = ()
    agent_ids: tuple[int, ...] = ()
    tag_ids: tuple[int, ...] = ()

    @property
    def on_keys(self) -> bool:
        """Filters on the DailyRollup keys (which tag rollups do not have)."""
        return bool(self.channels or self.inbox_ids or self.team_ids or self.agent_ids)


@dataclass(frozen=True)
class Request:
    start: date
    end: date  # inclusive
    grain: str = "day"
    breakdown: str | None = None
    filters: Filters = field(default_factory=Filters)

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1

    @property
    def previous_start(self) -> date:
        return self.start - timedelta(days=self.days)

    @property
    def previous_end(self) -> date:
        return self.start - timedelta(days=1)


def default_grain(start: date, end: date) -> str:
    days = (end - start).days + 1
    if days <= 62:
        return "day"
    if days <= 190:
        return "week"
    return "month"


def check_request(request: Request, scope: Scope) -> list[str]:
    """What is wrong with a request for this scope, in words (empty when fine)."""
    errors = []
    if request.end < request.start:
        errors.append("The end date is before the start date.")
    elif request.days > MAX_DAYS:
        errors.append(f"Choose at most {MAX_DAYS} days.")
    elif request.grain == "day" and request.days > MAX_DAY_POINTS:
        errors.append(f"A daily trend covers at most {MAX_DAY_POINTS} days: choose week or month.")
    if request.grain not in GRAINS:
        errors.append("Choose a grain: day, week or month.")
    if request.breakdown and request.breakdown not in scope.breakdowns:
        errors.append("That breakdown is not available to you.")
    uses_tags = request.breakdown == "tag" or bool(request.filters.tag_ids)
    if uses_tags and not scope.everything:
        errors.append("Tag figures are workspace-wide; only admins see them.")
    elif uses_tags and (request.filters.on_keys or request.breakdown not in (None, "tag")):
        errors.append(
            "Tag figures cannot be combined with channel, inbox, team or agent "
            "filters or breakdowns (tag rollups are kept per tag only)."
        )
    return errors


# --- periods -----------------------------------------------------------------------


@dataclass(frozen=True)
class Period:
    start: date
    end: date  # inclusive, clipped to the range

    @property
    def label(self) -> str:
        if self.start == self.end:
            return f"{self.start.day} {self.start:%b %Y}"
        return f"{self.start.day} {self.start:%b} \N{EN DASH} {self.end.day} {self.end:%b %Y}"


def short_label(period: Period, grain: str) -> str:
    """A chart axis label: the day, the Monday of the week, or the month."""
    if grain == "month":
        return f"{period.start:%b %Y}"
    return f"{period.start.day} {period.start:%b}"


def period_start(day: date, grain: str) -> date:
    if grain == "week":
        return day - timedelta(days=day.weekday())  # ISO weeks start on Monday
    if grain == "month":
        return day.replace(day=1)
    return day


def cut_periods(start: date, end: date, grain: str) -> list[Period]:
    """The range cut at day, ISO week or month boundaries; the first and last may be
    partial. Days are already local days (the rollups are cut in TIME_ZONE)."""
    periods = []
    first = start
    while first <= end:
        following = _next_start(period_start(first, grain), grain)
        last = min(end, following - timedelta(days=1))
        periods.append(Period(first, last))
        first = last + timedelta(days=1)
    return periods


def _next_start(begin: date, grain: str) -> date:
    if grain == "week":
        return begin + timedelta(days=7)
    if grain == "month":
        return (begin.replace(day=28) + timedelta(days=4)).replace(day=1)
    return begin + timedelta(days=1)


# --- metrics -----------------------------------------------------------------------

Sums = dict[str, float]
Hists = dict[str, dict[int, int]]


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str  # count, percent, score, nps, minutes, hours, ratio
    value: Callable[[Mapping[str, float], Mapping[str, Mapping[int, int]]], float | None]
    higher_is_better: bool | None = True


def _duration(hist: str, q: float) -> Callable[..., float | None]:
    return lambda s, h: m.percentile(h.get(hist, {}), q)


def _business_mean(total: str, hist: str) -> Callable[..., float | None]:
    """Business-hours means divide by the durations measured in business hours (the
    histogram's count): inboxes without business hours add nothing to the sum."""
    return lambda s, h: m.mean(s.get(total, 0), sum(h.get(hist, {}).values()))


def _count(name: str) -> Callable[..., float | None]:
    return lambda s, h: s.get(name)


METRICS: tuple[Metric, ...] = (
    Metric("volume", "Conversations", "count", _count("created"), None),
    Metric("solved", "Solved", "count", _count("solved")),
    Metric("backlog", "Backlog (open at end)", "count", _count("backlog"), False),
    Metric("frt_median", "First response, median", "minutes",
           _duration("first_response_hist", 50), False),
    Metric("frt_p90", "First response, 90th pct", "minutes",
           _duration("first_response_hist", 90), False),
    Metric("frt_mean", "First response, mean", "minutes",
           lambda s, h: m.mean(s.get("first_response_seconds_sum", 0),
                               int(s.get("first_responses", 0))), False),
    Metric("frt_business_median", "First response, business hours, median", "minutes",
           _duration("first_response_business_hist", 50), False),
    Metric("frt_business_p90", "First response, business hours, 90th pct", "minutes",
           _duration("first_response_business_hist", 90), False),
    Metric("frt_business_mean", "First response, business hours, mean", "minutes",
           _business_mean("first_response_business_sum", "first_response_business_hist"),
           False),
    Metric("resolution_median", "Resolution, median", "hours",
           _duration("resolution_hist", 50), False),
    Metric("resolution_p90", "Resolution, 90th pct", "hours",
           _duration("resolution_hist", 90), False),
    Metric("resolution_mean", "Resolution, mean", "hours",
           lambda s, h: m.mean(s.get("resolution_seconds_sum", 0), int(s.get("solved", 0))),
           False),
    Metric("resolution_business_median", "Resolution, business hours, median", "hours",
           _duration("resolution_business_hist", 50), False),
    Metric("resolution_business_p90", "Resolution, business hours, 90th pct", "hours",
           _duration("resolution_business_hist", 90), False),
    Metric("resolution_business_mean", "Resolution, business hours, mean", "hours",
           _business_mean("resolution_business_sum", "resolution_business_hist"), False),
    Metric("fcr", "First contact resolution", "percent",
           lambda s, h: m.fcr_rate(int(s.get("fcr_yes", 0)), int(s.get("fcr_known", 0)))),
    Metric("reopen", "Reopen rate", "percent",
           lambda s, h: m.reopen_rate(int(s.get("reopened", 0)), int(s.get("created", 0))),
           False),
    Metric("replies_per_resolution", "Replies per resolution", "ratio",
           lambda s, h: m.replies_per_resolution(int(s.get("solved_replies", 0)),
                                                 int(s.get("solved", 0))), False),
    Metric("csat", "CSAT (% 4-5)", "percent",
           lambda s, h: m.csat_score(int(s.get("csat_positive", 0)),
                                     int(s.get("csat_responses", 0)))),
    Metric("csat_mean", "CSAT mean", "score",
           lambda s, h: m.mean(s.get("csat_sum", 0), int(s.get("csat_responses", 0)))),
    Metric("ces", "CES (mean)", "score",
           lambda s, h: m.mean(s.get("ces_sum", 0), int(s.get("ces_responses", 0)))),
    Metric("nps", "NPS", "nps",
           lambda s, h: m.nps(int(s.get("nps_promoters", 0)), int(s.get("nps_detractors", 0)),
                              int(s.get("nps_responses", 0)))),
    Metric("csat_rate", "CSAT response rate", "percent",
           lambda s, h: m.response_rate(int(s.get("csat_answered", 0)),
                                        int(s.get("csat_sent", 0)))),
    Metric("ces_rate", "CES response rate", "percent",
           lambda s, h: m.response_rate(int(s.get("ces_answered", 0)), int(s.get("ces_sent", 0)))),
    Metric("nps_rate", "NPS response rate", "percent",
           lambda s, h: m.response_rate(int(s.get("nps_answered", 0)), int(s.get("nps_sent", 0)))),
    Metric("csat_responses", "CSAT responses", "count", _count("csat_responses"), None),
    Metric("ces_responses", "CES responses", "count", _count("ces_responses"), None),
    Metric("nps_responses", "NPS responses", "count", _count("nps_responses"), None),
)  # fmt: skip
METRICS_BY_KEY = {metric.key: metric for metric in METRICS}
# A breakdown has no "open at end" per key worth the extra query; the rest apply.
BREAKDOWN_METRICS = tuple(metric for metric in METRICS if metric.key != "backlog")


def figures_of(sums: Mapping[str, float] | None, hists: Mapping[str, Mapping[int, int]]) -> dict:
    """Every metric of one period; all None when the period has no rollup row at all."""
    if sums is None:
        return {metric.key: None for metric in METRICS}
    return {metric.key: metric.value(sums, hists) for metric in METRICS}


# --- reading -----------------------------------------------------------------------


@dataclass
class BreakdownRow:
    key: Any
    label: str
    values: dict[str, float | None]


@dataclass
class Figures:
    request: Request
    periods: list[Period]
    series: dict[str, list[float | None]]
    previous: dict[str, list[float | None]]
    totals: dict[str, float | None]
    previous_totals: dict[str, float | None]
    breakdown: list[BreakdownRow]


def read_figures(*, scope: Scope, request: Request) -> Figures:
    """The figures of one dashboard request (validated with `check_request` first)."""
    uses_tags = request.breakdown == "tag" or bool(request.filters.tag_ids)
    rows = _rows(scope=scope, request=request, tags=uses_tags)
    periods = cut_periods(request.start, request.end, request.grain)
    shift = timedelta(days=request.days)
    previous_periods = [Period(p.start - shift, p.end - shift) for p in periods]

    key = _key_field(request.breakdown)
    by_day = {
        row.pop("day"): row
        for row in rows.filter(day__gte=request.previous_start, day__lte=request.end)
        .values("day")
        .annotate(**_sum_annotations(), **_key_checksums(key))
        .order_by()
    }
    earlier = rows.filter(day__lt=request.previous_start).aggregate(
        created=Sum("created"), solved=Sum("solved")
    )
    backlog_base = (earlier["created"] or 0) - (earlier["solved"] or 0)
    has_earlier = earlier["created"] is not None
    groups = previous_periods + periods
    hists = _histograms(rows, groups, key, by_day)
    period_hists = [per_key.get(TOTAL, _empty_hists()) for per_key in hists]
    split = len(previous_periods)
    series, totals = _series(periods, by_day, period_hists[split:], backlog_base, has_earlier)
    previous, previous_totals = _series(
        previous_periods, by_day, period_hists[:split], backlog_base, has_earlier
    )
    breakdown = []
    if key:
        breakdown = _breakdown(rows, request, key, hists[split:])
    return Figures(request, periods, series, previous, totals, previous_totals, breakdown)


def _rows(*, scope: Scope, request: Request, tags: bool) -> QuerySet[Any]:
    f = request.filters
    if tags:
        qs: QuerySet[Any] = TagRollup.objects.all()
        if f.tag_ids:
            qs = qs.filter(tag_id__in=f.tag_ids)
        return qs
    qs = DailyRollup.objects.filter(scope.rollup_q())
    if f.channels:
        from heedful.inboxes.models import Inbox

        qs = qs.filter(
            inbox_id__in=list(
                Inbox.objects.filter(kind__in=f.channels).values_list("pk", flat=True)
            )
        )
    if f.inbox_ids:
        qs = qs.filter(inbox_id__in=f.inbox_ids)
    if f.team_ids:
        qs = qs.filter(team_id__in=f.team_ids)
    if f.agent_ids:
        qs = qs.filter(agent_id__in=f.agent_ids)
    return qs


def _sum_annotations() -> dict[str, Sum]:
    return {f"s_{name}": Sum(name) for name in SUM_FIELDS}


def _unprefix(row: Mapping[str, Any]) -> Sums:
    return {name: row[f"s_{name}"] or 0 for name in SUM_FIELDS}


def _key_field(breakdown: str | None) -> str | None:
    return {
        "channel": "inbox_id",
        "inbox": "inbox_id",
        "team": "team_id",
        "agent": "agent_id",
        "tag": "tag_id",
    }.get(breakdown or "")


# Percentiles need each period's histograms summed bucket by bucket, which costs the
# database a pass over every JSON object of the range. A period's sums are cached,
# keyed by what was asked and by a fingerprint of the period's rows (counts and
# duration sums, from the per-day query the page makes anyway): when a late first
# response or a rebuild changes a period, its fingerprint changes and it is summed
# again. So a page reads only the periods that changed since it was last drawn,
# typically the current one.
FINGERPRINT_FIELDS = (
    "first_responses",
    "solved",
    "first_response_seconds_sum",
    "first_response_business_sum",
    "resolution_seconds_sum",
    "resolution_business_sum",
)
HISTOGRAM_CACHE_SECONDS = 24 * 3600
TOTAL = "total"  # the histograms of all keys of a period, beside each key's own


def _key_checksums(key: str | None) -> dict[str, Sum]:
    """Sums weighted by the breakdown key: they change when durations move from one
    key to another (a reassignment) even though the period's totals do not."""
    if not key:
        return {}
    return {
        "k_first_responses": Sum(F(key) * F("first_responses")),
        "k_solved": Sum(F(key) * F("solved")),
        "k_first_response_seconds": Sum(F(key) * F("first_response_seconds_sum")),
        "k_resolution_seconds": Sum(F(key) * F("resolution_seconds_sum")),
    }


def _fingerprint(by_day: Mapping[date, Mapping[str, Any]], period: Period) -> str | None:
    """None when the period has no duration at all (nothing to read)."""
    totals: dict[str, float] = {}
    for day in _days(period.start, period.end):
        row = by_day.get(day)
        if row is None:
            continue
        for name, value in row.items():
            if name.startswith("k_") or name[2:] in FINGERPRINT_FIELDS:
                totals[name] = totals.get(name, 0) + (value or 0)
    if not totals.get("s_first_responses") and not totals.get("s_solved"):
        return None
    return repr(sorted((name, round(value, 3)) for name, value in totals.items()))


def _histograms(
    rows: QuerySet[Any],
    groups: list[Period],
    key: str | None,
    by_day: Mapping[date, Mapping[str, Any]],
) -> list[dict[Any, Hists]]:
    """For each period, {TOTAL: histograms, and per breakdown key value: histograms}."""
    try:
        rows_sql, rows_params = rows.order_by().query.sql_with_params()
    except EmptyResultSet:  # a filter that can match nothing (a channel with no inbox)
        return [{} for _ in groups]
    asked = hashlib.sha256(f"{rows_sql}|{rows_params}|{key}".encode()).hexdigest()[:24]
    names: dict[int, str] = {}
    for index, period in enumerate(groups):
        fingerprint = _fingerprint(by_day, period)
        if fingerprint is not None:
            digest = hashlib.sha256(fingerprint.encode()).hexdigest()[:24]
            names[index] = f"insights:hist:{asked}:{period.start}:{period.end}:{digest}"
    found = cache.get_many(list(names.values()))
    missing = [index for index, name in names.items() if name not in found]
    if missing:
        computed = _summed_histograms(rows, [groups[i] for i in missing], key)
        fresh = {names[i]: computed.get(n, {}) for n, i in enumerate(missing)}
        cache.set_many(fresh, timeout=HISTOGRAM_CACHE_SECONDS)
        found.update(fresh)
    return [found.get(names[i], {}) if i in names else {} for i in range(len(groups))]


# Histogram JSON holds only non-negative integer keys and counts (insights.metrics).
_NOT_DIGITS = re.compile(r"[^0-9]+")


def _summed_histograms(
    rows: QuerySet[Any], groups: list[Period], key: str | None
) -> dict[int, dict[Any, Hists]]:
    """{group index: {key value and TOTAL: histograms}}.

    The database concatenates each group's JSON texts (the ORM cannot sum JSON
    objects, and SQL's json_each is slower than this on SQLite); the buckets and
    counts are then read as plain numbers and summed by numpy, since
    decoding and merging every row's JSON in Python costs seconds over a year."""
    when = " ".join("WHEN r.day BETWEEN %s AND %s THEN " + str(i) for i in range(len(groups)))
    adapt = connection.ops.adapt_datefield_value
    when_params = [adapt(day) for g in groups for day in (g.start, g.end)]
    inner = rows.filter(day__gte=min(g.start for g in groups), day__lte=max(g.end for g in groups))
    inner = inner.filter(Q(first_responses__gt=0) | Q(solved__gt=0))
    inner = inner.values("day", *([key] if key else []), *HISTOGRAMS).order_by()
    inner_sql, inner_params = inner.query.sql_with_params()
    key_sql = f"r.{key}" if key else "0"
    if connection.vendor == "postgresql":
        texts = ", ".join(f"string_agg(CAST(r.{name} AS TEXT), ' ')" for name in HISTOGRAMS)
    else:
        texts = ", ".join(f"group_concat(r.{name}, ' ')" for name in HISTOGRAMS)
    sql = f"SELECT CASE {when} END, {key_sql}, {texts} FROM ({inner_sql}) AS r GROUP BY 1, 2"
    found: dict[int, dict[Any, Hists]] = {}
    with connection.cursor() as cursor:
        cursor.execute(sql, [*when_params, *inner_params])
        for group, value, *joined in cursor.fetchall():
            if group is None:
                continue
            per_key = found.setdefault(group, {})
            summed = {
                name: _sum_pairs(text or "") for name, text in zip(HISTOGRAMS, joined, strict=True)
            }
            if key:
                per_key[value] = summed
            total = per_key.setdefault(TOTAL, _empty_hists())
            for name, hist in summed.items():
                target = total[name]
                for bucket, count in hist.items():
                    target[bucket] = target.get(bucket, 0) + count
    return found


def _sum_pairs(text: str) -> dict[int, int]:
    """{bucket: count} summed over every '{"bucket": count}' object in `text`: with
    everything but digits blanked, the numbers alternate bucket, count."""
    numbers = np.fromstring(_NOT_DIGITS.sub(" ", text), dtype=np.int64, sep=" ")
    if numbers.size < 2:
        return {}
    table = numbers[: numbers.size // 2 * 2].reshape(-1, 2)
    buckets, counts = table[:, 0], table[:, 1]
    keep = (buckets <= m.MAX_BUCKET) & (counts > 0)
    sums = np.bincount(buckets[keep], weights=counts[keep])
    return {int(b): int(sums[b]) for b in np.flatnonzero(sums)}


def _days(start: date, end: date) -> list[date]:
    return [start + timedelta(days=n) for n in range((end - start).days + 1)]


def _empty_hists() -> Hists:
    return {name: {} for name in HISTOGRAMS}


def _merge(hists: Iterable[Hists]) -> Hists:
    merged = _empty_hists()
    for one in hists:
        for name, hist in one.items():
            target = merged[name]
            for bucket, count in hist.items():
                target[bucket] = target.get(bucket, 0) + count
    return merged


def _add(total: Sums | None, sums: Mapping[str, float]) -> Sums:
    total = dict(total or {})
    for name, value in sums.items():
        total[name] = total.get(name, 0) + value
    return total


def _series(
    periods: list[Period],
    by_day: Mapping[date, Mapping[str, Any]],
    period_hists: list[Hists],
    backlog_base: float,
    has_earlier: bool,
) -> tuple[dict[str, list[float | None]], dict[str, float | None]]:
    series: dict[str, list[float | None]] = {metric.key: [] for metric in METRICS}
    first = periods[0].start
    # Backlog: everything created minus everything solved up to each period's end.
    running = backlog_base
    seen_any = has_earlier
    for day in sorted(d for d in by_day if d < first):
        running += (by_day[day]["s_created"] or 0) - (by_day[day]["s_solved"] or 0)
        seen_any = True
    total: Sums | None = None
    for period, hists in zip(periods, period_hists, strict=True):
        days = _days(period.start, period.end)
        sums: Sums | None = None
        for day in days:
            if day in by_day:
                sums = _add(sums, _unprefix(by_day[day]))
        if sums is not None:
            running += sums["created"] - sums["solved"]
            seen_any = True
            total = _add(total, sums)
        values = figures_of(sums, hists)
        values["backlog"] = running if seen_any else None
        for metric_key, value in values.items():
            series[metric_key].append(value)
    totals = figures_of(total, _merge(period_hists))
    totals["backlog"] = running if seen_any else None
    return series, totals


def _breakdown(
    rows: QuerySet[Any], request: Request, key: str, hists: list[dict[Any, Hists]]
) -> list[BreakdownRow]:
    grouped = (
        rows.filter(day__gte=request.start, day__lte=request.end)
        .values(key)
        .annotate(**_sum_annotations())
        .order_by()
    )
    fold = _folder(request.breakdown)
    sums_by: dict[Any, Sums] = {}
    for row in grouped:
        group = fold(row[key])
        sums_by[group] = _add(sums_by.get(group), _unprefix(row))
    hists_by: dict[Any, list[Hists]] = {}
    for per_key in hists:
        for value, one in per_key.items():
            if value != TOTAL:
                hists_by.setdefault(fold(value), []).append(one)
    labels = breakdown_labels(request.breakdown or "", sums_by.keys())
    result = []
    for group, sums in sums_by.items():
        values = figures_of(sums, _merge(hists_by.get(group, [])))
        values.pop("backlog")
        result.append(BreakdownRow(group, labels.get(group, str(group)), values))
    result.sort(key=lambda r: (-(r.values["volume"] or 0), r.label.lower()))
    return result


def _folder(breakdown: str | None) -> Callable[[Any], Any]:
    """Maps a row's key to its group: inboxes fold into their channel kind."""
    if breakdown != "channel":
        return lambda value: value
    from heedful.inboxes.models import Inbox

    kinds = dict(Inbox.objects.values_list("pk", "kind"))
    return lambda value: kinds.get(value, "")


def breakdown_labels(breakdown: str, keys: Iterable[Any]) -> dict[Any, str]:
    """Readable names for breakdown keys (0 or "" is "none" in the rollups)."""
    keys = list(keys)
    ids = [k for k in keys if k]
    names: dict[Any, str] = {}
    if breakdown == "channel":
        from heedful.inboxes.registry import channel_display

        names = {k: channel_display(k)[0] for k in ids}
        names[""] = "No channel (relationship survey)"
    elif breakdown == "inbox":
        from heedful.inboxes.models import Inbox

        names = dict(Inbox.objects.filter(pk__in=ids).values_list("pk", "name"))
        names[0] = "No inbox (relationship survey)"
    elif breakdown == "team":
        from heedful.accounts.models import Team

        names = dict(Team.objects.filter(pk__in=ids).values_list("pk", "name"))
        names[0] = "No team"
    elif breakdown == "agent":
        from heedful.accounts.models import User

        for user in User.objects.filter(pk__in=ids).only("name", "email"):
            names[user.pk] = user.display_name
        names[0] = "Unassigned"
    elif breakdown == "tag":
        from heedful.conversations.models import Tag

        names = dict(Tag.objects.filter(pk__in=ids).values_list("pk", "name"))
    return names


def change(current: float | None, previous: float | None) -> float | None:
    """Relative change in % from the previous period; None when either is missing or
    the previous is 0 (no meaningful ratio)."""
    if current is None or previous is None or previous == 0:
        return None
    return 100.0 * (current - previous) / abs(previous)
