"""The help-center dashboard (/app/insights/help/): deflection, articles, content gaps.

Figures come from `heedful.knowledge.deflection` (the one definition of deflection).
Who sees it follows the insights pages' rule (`viewer_scope`): help-center visits
belong to no team, so, like the workspace-wide tag figures, only a scope over
everything (admins) reads them; leads get a page that says so, agents a 403.
"""

from datetime import date, timedelta
from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET

from heedful.insights.export import csv_response
from heedful.insights.query import (
    GRAINS,
    MAX_DAY_POINTS,
    MAX_DAYS,
    default_grain,
    short_label,
    viewer_scope,
)
from heedful.knowledge import deflection
from heedful.knowledge.deflection import ArticleRow, GapRow, Report
from heedful.workspace.views.insights import (
    DEFAULT_DAYS,
    _plausible,
    add_date_range,
    take_date_range,
)

TABLES = ("trend", "articles", "rewrite", "no-results", "followed-searches")
MAX_MIN_VIEWS = 1_000_000


class HelpFiltersForm(forms.Form):
    grain = forms.ChoiceField(
        required=False,
        choices=[("", "Auto"), ("day", "Day"), ("week", "Week"), ("month", "Month")],
    )
    min_views = forms.IntegerField(
        required=False,
        min_value=1,
        max_value=MAX_MIN_VIEWS,
        label="Rewrite: min. views",
    )

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        add_date_range(self)
        self.order_fields(["from", "to", "grain", "min_views"])

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        take_date_range(data)
        if self.errors:
            return data
        end = data.get("end") or timezone.localdate()
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        data["start"], data["end"] = start, end
        data["grain"] = data.get("grain") or default_grain(start, end)
        data["min_views"] = data.get("min_views") or deflection.REWRITE_MIN_VIEWS
        days = (end - start).days + 1
        if end < start:
            self.add_error(None, "The end date is before the start date.")
        elif days > MAX_DAYS:
            self.add_error(None, f"Choose at most {MAX_DAYS} days.")
        elif data["grain"] == "day" and days > MAX_DAY_POINTS:
            self.add_error(
                None, f"A daily trend covers at most {MAX_DAY_POINTS} days: choose week or month."
            )
        if data["grain"] not in GRAINS:
            self.add_error("grain", "Choose a grain: day, week or month.")
        return data

    def clean_from(self) -> date | None:
        return _plausible(self.cleaned_data.get("from"))

    def clean_to(self) -> date | None:
        return _plausible(self.cleaned_data.get("to"))


@login_required
@require_GET
def help_dashboard(request: HttpRequest) -> HttpResponse:
    """Admins: the figures. Leads: a page that explains why not (help-center visits
    have no team, like the tag figures). Agents: 403, as the overview dashboard."""
    scope = viewer_scope(request.user)
    if scope is None:
        raise PermissionDenied
    context: dict[str, Any] = {"section": "insights", "definition": deflection.DEFINITION}
    if not scope.everything:
        # A lead: explain rather than hide the tab's target.
        return render(request, "workspace/insights_help.html", {**context, "lead_only": True})
    form = HelpFiltersForm(request.GET)
    context["form"] = form
    if not form.is_valid():
        return render(request, "workspace/insights_help.html", context, status=400)
    data = form.cleaned_data
    table = request.GET.get("format") == "csv" and request.GET.get("table", "")
    if table and table not in TABLES:
        context["bad_table"] = table
        return render(request, "workspace/insights_help.html", context, status=400)
    found = deflection.cached_report(
        data["start"], data["end"], data["grain"], min_views=data["min_views"]
    )
    if table:
        return _export(found, table)
    context.update(
        report=found,
        cards=_cards(found),
        chart_data=_chart_data(found),
        csv={n.replace("-", "_"): _with(request, format="csv", table=n) for n in TABLES},
        articles=[_linked(r) for r in found.articles],
        rewrite=[_linked(r) for r in found.rewrite],
    )
    return render(request, "workspace/insights_help.html", context)


def _with(request: HttpRequest, **params: str) -> str:
    query = request.GET.copy()
    for key, value in params.items():
        query[key] = value
    return "?" + query.urlencode()


def percent(value: float | None) -> str:
    return "—" if value is None else f"{value:.1f} %"


def _cards(found: Report) -> list[tuple[str, str, str]]:
    """(label, value, note) of the key figures."""
    o = found.overview
    return [
        ("Help-center sessions", f"{o.sessions:,}", f"{o.engaged:,} engaged"),
        (
            "Deflected (24 h)",
            percent(o.day.rate),
            f"{o.day.deflected:,} of {o.day.closed:,}; {o.day.pending:,} pending",
        ),
        (
            "Deflected (7 days)",
            percent(o.week.rate),
            f"{o.week.deflected:,} of {o.week.closed:,}; {o.week.pending:,} pending",
        ),
        ("Searches", f"{o.searches:,}", f"{o.searches_without_results:,} without results"),
        ("Article views", f"{o.views:,}", ""),
        (
            "Helpful",
            percent(o.helpful_rate),
            f"{o.helpful_yes:,} yes, {o.helpful_no:,} no",
        ),
        (
            "Suggestions clicked",
            percent(found.suggestions.click_rate),
            f"{found.suggestions.sessions_clicked:,} of {found.suggestions.sessions_shown:,} "
            "sessions shown suggestions",
        ),
        (
            "Deflected after suggestions (24 h)",
            percent(found.suggestions.day.rate),
            f"{found.suggestions.day.deflected:,} of {found.suggestions.day.closed:,}",
        ),
    ]


def _chart_data(found: Report) -> dict[str, Any]:
    """In the shape insights.js draws (one line per chart; no previous period here)."""
    points = found.points
    return {
        "labels": [short_label(p.period, found.grain) for p in points],
        "titles": [p.period.label for p in points],
        "charts": [
            {
                "key": "deflected_24h",
                "label": "Deflected within 24 h (%)",
                "current": [p.day.rate for p in points],
                "previous": [],
            },
            {
                "key": "deflected_7d",
                "label": "Deflected within 7 days (%)",
                "current": [p.week.rate for p in points],
                "previous": [],
            },
            {
                "key": "sessions",
                "label": "Help-center sessions",
                "current": [p.sessions for p in points],
                "previous": [],
            },
            {
                "key": "engaged",
                "label": "Engaged sessions",
                "current": [p.day.engaged for p in points],
                "previous": [],
            },
        ],
        "annotations": [],
    }


def _linked(row: ArticleRow) -> tuple[ArticleRow, str, str]:
    """The row with its public page (public articles only) and its editor page."""
    public = reverse("help:article-by-id", args=[row.article_id]) if row.is_public else ""
    return row, public, f"/app/knowledge/{row.article_id}/"


# --- CSV -------------------------------------------------------------------------------


def _export(found: Report, table: str) -> HttpResponse:
    stem = f"heedful-help-{table}-{found.start}-{found.end}"
    if table == "trend":
        return csv_response(f"{stem}-by-{found.grain}.csv", TREND_HEADER, _trend_rows(found))
    if table in ("articles", "rewrite"):
        chosen = found.articles if table == "articles" else found.rewrite
        return csv_response(f"{stem}.csv", ARTICLE_HEADER, [_article_cells(r) for r in chosen])
    gaps = found.no_results if table == "no-results" else found.followed_searches
    header = ["query", "searches", "last seen", "followed by a conversation within 24 h"]
    return csv_response(f"{stem}.csv", header, [_gap_cells(g) for g in gaps])


TREND_HEADER = [
    "period start", "period end", "sessions", "engaged", "deflected 24 h", "closed 24 h",
    "deflected 24 h (%)", "pending 24 h", "deflected 7 d", "closed 7 d", "deflected 7 d (%)",
    "pending 7 d",
]  # fmt: skip


def _trend_rows(found: Report) -> list[list[Any]]:
    return [
        [
            p.period.start.isoformat(),
            p.period.end.isoformat(),
            p.sessions,
            p.day.engaged,
            p.day.deflected,
            p.day.closed,
            p.day.rate,
            p.day.pending,
            p.week.deflected,
            p.week.closed,
            p.week.rate,
            p.week.pending,
        ]
        for p in found.points
    ]


ARTICLE_HEADER = [
    "article id", "title", "public", "views", "sessions", "helpful yes", "helpful no",
    "helpful (%)", "sessions closed 24 h", "followed within 24 h", "followed 24 h (%)",
    "sessions closed 7 d", "followed within 7 d", "followed 7 d (%)",
]  # fmt: skip


def _article_cells(row: ArticleRow) -> list[Any]:
    return [
        row.article_id, row.title, row.is_public, row.views, row.sessions, row.helpful_yes,
        row.helpful_no, row.helpful_rate, row.day.closed, row.day.contacted,
        row.followed_rate_24h, row.week.closed, row.week.contacted, row.followed_rate_7d,
    ]  # fmt: skip


def _gap_cells(gap: GapRow) -> list[Any]:
    last = gap.last_seen.isoformat() if gap.last_seen else None
    return [gap.query, gap.searches, last, gap.followed]


urlpatterns = [
    path("insights/help/", help_dashboard, name="insights_help"),
]
