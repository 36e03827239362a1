"""Dashboards: the overview for admins and team leads, the personal one for every
agent, survey comments, annotations and CSV downloads.

Figures come from `heedful.insights.query` (daily rollups only); who sees what is
`viewer_scope`, the one access rule. Views parse input, read, render.
"""

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db import connection
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import path, reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_POST

from heedful.accounts.models import Team, TeamMembership, User
from heedful.conversations.access import visible_filter
from heedful.conversations.models import Conversation, Tag
from heedful.inboxes.models import Inbox
from heedful.inboxes.registry import kinds
from heedful.insights import metrics as m
from heedful.insights.annotations import (
    annotation_add,
    annotation_delete,
    annotations_between,
    may_annotate,
)
from heedful.insights.export import csv_response
from heedful.insights.query import (
    BREAKDOWN_METRICS,
    METRICS,
    METRICS_BY_KEY,
    Figures,
    Filters,
    Metric,
    Request,
    Scope,
    change,
    check_request,
    default_grain,
    read_figures,
    short_label,
    viewer_scope,
)
from heedful.surveys.models import SurveyKind, SurveyResponse

MAX_ID = 2**62
DEFAULT_DAYS = 30
COMMENTS_PER_PAGE = 50
# The breakdown chart shows the largest groups; the table below lists them all.
BREAKDOWN_BARS = 20
# The metrics shown as cards at the top; every metric has a chart and a column.
CARD_METRICS = (
    "volume",
    "solved",
    "backlog",
    "frt_median",
    "resolution_median",
    "fcr",
    "reopen",
    "csat",
    "ces",
    "nps",
)
SECTIONS = (
    ("Volume", ("volume", "solved", "backlog", "reopen", "replies_per_resolution")),
    (
        "Speed",
        (
            "frt_median",
            "frt_p90",
            "frt_mean",
            "frt_business_median",
            "frt_business_p90",
            "frt_business_mean",
            "resolution_median",
            "resolution_p90",
            "resolution_mean",
            "resolution_business_median",
            "resolution_business_p90",
            "resolution_business_mean",
        ),
    ),
    ("Resolution and satisfaction", ("fcr", "csat", "csat_mean", "ces", "nps")),
    (
        "Surveys",
        ("csat_rate", "ces_rate", "nps_rate", "csat_responses", "ces_responses", "nps_responses"),
    ),
)
UNIT_SUFFIX = {"minutes": " (min)", "hours": " (h)", "percent": " (%)"}


# --- formatting ----------------------------------------------------------------------


def display_number(metric: Metric, value: float | None) -> float | None:
    """The value in the unit charts and CSV use (durations in minutes or hours)."""
    if value is None:
        return None
    if metric.unit == "minutes":
        return round(value / 60, 2)
    if metric.unit == "hours":
        return round(value / 3600, 2)
    if metric.unit == "count":
        return round(value)
    return round(value, 2)


def display_text(metric: Metric, value: float | None) -> str:
    if value is None:
        return "—"
    if metric.unit == "count":
        return f"{round(value):,}".replace(",", "\N{THIN SPACE}")
    if metric.unit == "percent":
        return f"{value:.1f} %"
    if metric.unit == "nps":
        return f"{value:+.0f}"
    if metric.unit in ("minutes", "hours"):
        return _duration_text(value)
    return f"{value:.2f}"


def _duration_text(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.0f} s"
    minutes = seconds / 60
    if minutes < 60:
        return f"{minutes:.0f} min"
    hours = minutes / 60
    if hours < 48:
        return f"{int(hours)} h {int(minutes % 60):02d} min"
    return f"{hours / 24:.1f} days"


def _change_text(metric: Metric, current: float | None, previous: float | None) -> tuple[str, str]:
    """(text, css class) of the change against the previous period."""
    if metric.unit in ("percent", "nps") and current is not None and previous is not None:
        delta = current - previous
        text = f"{delta:+.1f} pts" if metric.unit == "percent" else f"{delta:+.0f}"
    else:
        relative = change(current, previous)
        if relative is None:
            return "", ""
        delta = relative
        text = f"{relative:+.0f} %"
    if text.lstrip("+-").startswith(("0 ", "0.0 ")) or text.lstrip("+-") == "0":
        return text.lstrip("+-").replace("0", "±0", 1), "flat"  # no "-0 %" in red
    if metric.higher_is_better is None:
        return text, "flat"
    good = (delta > 0) == metric.higher_is_better
    return text, "good" if good else "bad"


# --- the filters form ----------------------------------------------------------------


def add_date_range(form: forms.Form) -> None:
    """The `from` and `to` fields (Python keywords, so not class attributes)."""
    form.fields["from"] = forms.DateField(required=False, label="From")
    form.fields["to"] = forms.DateField(required=False, label="To")
    form.order_fields(["from", "to"])


def take_date_range(data: dict[str, Any]) -> None:
    """`from`/`to` as `start`/`end` in cleaned data, the names the code uses."""
    data["start"], data["end"] = data.pop("from", None), data.pop("to", None)


class FiltersForm(forms.Form):
    grain = forms.ChoiceField(
        required=False,
        choices=[("", "Auto"), ("day", "Day"), ("week", "Week"), ("month", "Month")],
    )
    breakdown = forms.ChoiceField(required=False)
    metric = forms.ChoiceField(
        required=False, label="Breakdown chart", choices=[(x.key, x.label) for x in METRICS]
    )
    channel = forms.ChoiceField(required=False)
    inbox = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    team = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    agent = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    tag = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)

    def __init__(self, data: Any, *, scope: Scope) -> None:
        super().__init__(data)
        add_date_range(self)
        self.scope = scope
        allowed = scope.breakdowns
        labels = {"channel": "Channel", "inbox": "Inbox", "team": "Team", "agent": "Agent"}
        labels["tag"] = "Tag"
        _choices(self, "breakdown").choices = [("", "None")] + [(b, labels[b]) for b in allowed]
        _choices(self, "channel").choices = [("", "All channels"), *kinds().items()]
        _choices(self, "inbox").choices = [("", "All inboxes")] + [
            (pk, name) for pk, name in Inbox.objects.order_by("name").values_list("pk", "name")
        ]
        teams = Team.objects.order_by("name")
        if scope.team_ids is not None:
            teams = teams.filter(pk__in=scope.team_ids)
        _choices(self, "team").choices = [("", "All teams"), *teams.values_list("pk", "name")]
        _choices(self, "agent").choices = [("", "All agents"), *_agent_choices(scope)]
        _choices(self, "tag").choices = [("", "All tags"), *Tag.objects.values_list("pk", "name")]
        # Filters outside the scope are not offered, and a hand-made URL naming one is
        # ignored: the scope restricts the rows whatever the parameters say.
        for name in ("team", "agent", "tag"):
            if name not in allowed:
                del self.fields[name]

    def clean_from(self) -> date | None:
        return _plausible(self.cleaned_data.get("from"))

    def clean_to(self) -> date | None:
        return _plausible(self.cleaned_data.get("to"))

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        take_date_range(data)
        today = timezone.localdate()
        end = data.get("end") or today
        start = data.get("start") or end - timedelta(days=DEFAULT_DAYS - 1)
        data["start"], data["end"] = start, end
        data["grain"] = data.get("grain") or default_grain(start, end)
        data["breakdown"] = data.get("breakdown") or None
        data["metric"] = data.get("metric") or "volume"
        if not self.errors:
            request = self.to_request(data)
            for error in check_request(request, self.scope):
                self.add_error(None, error)
        return data

    @staticmethod
    def to_request(data: dict[str, Any]) -> Request:
        def ids(name: str) -> tuple[int, ...]:
            return (data[name],) if data.get(name) else ()

        return Request(
            start=data["start"],
            end=data["end"],
            grain=data["grain"],
            breakdown=data["breakdown"],
            filters=Filters(
                channels=(data["channel"],) if data.get("channel") else (),
                inbox_ids=ids("inbox"),
                team_ids=ids("team"),
                agent_ids=ids("agent"),
                tag_ids=ids("tag"),
            ),
        )


def _choices(form: forms.Form, name: str) -> forms.ChoiceField:
    field = form.fields[name]
    assert isinstance(field, forms.ChoiceField)
    return field


EARLIEST, LATEST = date(1970, 1, 1), date(2999, 12, 31)


def _plausible(day: date | None) -> date | None:
    """Dates far out would overflow when the previous period is taken; refuse them."""
    if day is not None and not EARLIEST <= day <= LATEST:
        raise forms.ValidationError(f"Choose a date between {EARLIEST} and {LATEST}.")
    return day


def _agent_choices(scope: Scope) -> list[tuple[Any, str]]:
    users = User.objects.filter(is_active=True).order_by("name", "email")
    if scope.team_ids is not None:
        members = TeamMembership.objects.filter(team_id__in=scope.team_ids).values("user_id")
        users = users.filter(pk__in=members)
    return [(u.pk, u.display_name) for u in users.only("name", "email")]


# --- pages ---------------------------------------------------------------------------


@login_required
@require_GET
def overview(request: HttpRequest) -> HttpResponse:
    scope = viewer_scope(request.user)
    if scope is None:
        return redirect("workspace:insights_me")
    return _dashboard(request, scope)


@login_required
@require_GET
def personal(request: HttpRequest) -> HttpResponse:
    scope = viewer_scope(request.user, personal=True)
    if scope is None:
        raise PermissionDenied
    return _dashboard(request, scope)


def _dashboard(request: HttpRequest, scope: Scope) -> HttpResponse:
    form = FiltersForm(request.GET, scope=scope)
    context: dict[str, Any] = {
        "section": "insights",
        "form": form,
        "personal": scope.personal,
        "may_annotate": may_annotate(request.user) and not scope.personal,
        "feed_url": _feed_url(),
    }
    if not form.is_valid():
        return render(request, "workspace/insights.html", context, status=400)
    query = FiltersForm.to_request(form.cleaned_data)
    figures = read_figures(scope=scope, request=query)
    export = request.GET.get("format")
    if export == "csv":
        return _export(request, figures, personal=scope.personal)
    metric = METRICS_BY_KEY[form.cleaned_data["metric"]]
    annotations = list(annotations_between(query.start, query.end))
    context.update(
        figures=figures,
        cards=_cards(figures),
        period_rows=_period_rows(figures),
        breakdown_rows=_breakdown_rows(figures),
        sections=[(title, [METRICS_BY_KEY[k] for k in keys]) for title, keys in SECTIONS],
        columns=METRICS,
        breakdown_columns=BREAKDOWN_METRICS,
        breakdown_metric=metric,
        chart_data=_chart_data(figures, annotations, metric),
        annotations=annotations,
        csv_periods=_with(request, format="csv", table="periods"),
        csv_breakdown=_with(request, format="csv", table="breakdown"),
        comments=_recent_comments(request.user) if scope.personal else [],
    )
    return render(request, "workspace/insights.html", context)


def _feed_url() -> str:
    try:
        return reverse("workspace:insight_feed")
    except Exception:
        return "/app/insights/feed/"


def _with(request: HttpRequest, **params: str) -> str:
    query = request.GET.copy()
    for key, value in params.items():
        query[key] = value
    return "?" + query.urlencode()


@dataclass
class Card:
    label: str
    value: str
    previous: str
    change: str
    tone: str


def _cards(figures: Figures) -> list[Card]:
    cards = []
    for key in CARD_METRICS:
        metric = METRICS_BY_KEY[key]
        current, previous = figures.totals[key], figures.previous_totals[key]
        text, tone = _change_text(metric, current, previous)
        cards.append(
            Card(
                metric.label,
                display_text(metric, current),
                display_text(metric, previous),
                text,
                tone,
            )
        )
    return cards


def _period_rows(figures: Figures) -> list[tuple[str, list[str]]]:
    return [
        (period.label, [display_text(x, figures.series[x.key][i]) for x in METRICS])
        for i, period in enumerate(figures.periods)
    ]


def _breakdown_rows(figures: Figures) -> list[tuple[str, list[str]]]:
    return [
        (row.label, [display_text(x, row.values[x.key]) for x in BREAKDOWN_METRICS])
        for row in figures.breakdown
    ]


def _chart_data(figures: Figures, annotations: list[Any], breakdown_metric: Metric) -> dict:
    """What insights.js draws; passed through json_script, never into a script."""
    periods = figures.periods
    marks = []
    for note in annotations:
        for index, period in enumerate(periods):
            if period.start <= note.day <= period.end:
                marks.append({"index": index, "title": note.title, "day": note.day.isoformat()})
                break
    charts = [
        {
            "key": x.key,
            "label": x.label + UNIT_SUFFIX.get(x.unit, ""),
            "current": [display_number(x, v) for v in figures.series[x.key]],
            "previous": [display_number(x, v) for v in figures.previous[x.key]],
        }
        for x in METRICS
    ]
    breakdown = {
        "label": breakdown_metric.label + UNIT_SUFFIX.get(breakdown_metric.unit, ""),
        "labels": [row.label for row in figures.breakdown[:BREAKDOWN_BARS]],
        "values": [
            display_number(breakdown_metric, row.values.get(breakdown_metric.key))
            for row in figures.breakdown[:BREAKDOWN_BARS]
        ],
    }
    return {
        "labels": [short_label(p, figures.request.grain) for p in periods],
        "titles": [p.label for p in periods],
        "charts": charts,
        "annotations": marks,
        "breakdown": breakdown,
    }


def _export(request: HttpRequest, figures: Figures, *, personal: bool) -> HttpResponse:
    q = figures.request
    stem = f"heedful-{'my-' if personal else ''}insights-{q.start}-{q.end}"
    if request.GET.get("table") == "breakdown":
        header = [q.breakdown or "breakdown"] + [
            x.label + UNIT_SUFFIX.get(x.unit, "") for x in BREAKDOWN_METRICS
        ]
        rows = [
            [row.label] + [display_number(x, row.values[x.key]) for x in BREAKDOWN_METRICS]
            for row in figures.breakdown
        ]
        return csv_response(f"{stem}-by-{q.breakdown or 'none'}.csv", header, rows)
    header = ["period start", "period end"] + [
        x.label + UNIT_SUFFIX.get(x.unit, "") for x in METRICS
    ]
    rows = [
        [p.start.isoformat(), p.end.isoformat()]
        + [display_number(x, figures.series[x.key][i]) for x in METRICS]
        for i, p in enumerate(figures.periods)
    ]
    return csv_response(f"{stem}-by-{q.grain}.csv", header, rows)


# --- survey comments -----------------------------------------------------------------

BANDS = {"low": "Low", "neutral": "Neutral", "high": "High"}


def band_filter(band: str) -> Q:
    """Low = the scores that notify (metrics.LOW_SCORE); high = CSAT/CES 4-5, NPS 9-10."""
    low = Q(kind=SurveyKind.NPS, score__lte=m.LOW_SCORE["nps"]) | Q(
        kind__in=[SurveyKind.CSAT, SurveyKind.CES], score__lte=m.LOW_SCORE["csat"]
    )
    high = Q(kind=SurveyKind.NPS, score__gte=m.NPS_PROMOTER) | Q(
        kind__in=[SurveyKind.CSAT, SurveyKind.CES], score__gte=m.CSAT_POSITIVE
    )
    if band == "low":
        return low
    if band == "high":
        return high
    return ~low & ~high


def band_of(kind: str, score: int) -> str:
    if m.is_low(kind, score):
        return "low"
    if (kind == SurveyKind.NPS and m.is_promoter(score)) or (
        kind != SurveyKind.NPS and m.is_positive_csat(score)
    ):
        return "high"
    return "neutral"


class CommentsForm(forms.Form):
    kind = forms.ChoiceField(required=False, choices=[("", "All kinds"), *SurveyKind.choices])
    band = forms.ChoiceField(
        required=False, label="Score", choices=[("", "Any score"), *BANDS.items()]
    )
    score = forms.IntegerField(required=False, min_value=0, max_value=10, label="Exact score")
    tag = forms.TypedChoiceField(required=False, coerce=int, empty_value=None)
    before = forms.CharField(required=False, widget=forms.HiddenInput)

    def __init__(self, data: Any) -> None:
        super().__init__(data)
        add_date_range(self)
        self.order_fields(["kind", "band", "score", "tag", "from", "to"])
        _choices(self, "tag").choices = [("", "All tags"), *Tag.objects.values_list("pk", "name")]

    def clean_from(self) -> date | None:
        return _plausible(self.cleaned_data.get("from"))

    def clean_to(self) -> date | None:
        return _plausible(self.cleaned_data.get("to"))

    def clean_before(self) -> tuple[datetime, int] | None:
        """The keyset cursor: "<responded_at ISO>_<pk>" of the last row shown."""
        raw = self.cleaned_data.get("before") or ""
        if not raw:
            return None
        moment, _, pk = raw.rpartition("_")
        try:
            when = datetime.fromisoformat(moment)
            number = int(pk)
        except ValueError:
            raise forms.ValidationError("That page link is broken; start again.") from None
        # Far years overflow when the database adapter converts them to UTC.
        if timezone.is_naive(when) or not 0 < number < MAX_ID:
            raise forms.ValidationError("That page link is broken; start again.")
        if not EARLIEST <= when.date() <= LATEST:
            raise forms.ValidationError("That page link is broken; start again.")
        return when, number

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        take_date_range(data)
        if data["start"] and data["end"] and data["end"] < data["start"]:
            self.add_error("to", "The end date is before the start date.")
        return data


@dataclass
class CommentRow:
    when: datetime
    kind: str
    score: int
    band: str
    comment: str
    tags: list[str]
    agent: str
    channel: str
    conversation_url: str
    conversation_number: int | None


def _comment_scope(user: Any) -> Scope | None:
    """Admins and leads read comments as their dashboard scope; agents their own."""
    return viewer_scope(user) or viewer_scope(user, personal=True)


def comment_queryset(user: Any, data: dict[str, Any]) -> QuerySet[SurveyResponse]:
    scope = _comment_scope(user)
    if scope is None:
        return SurveyResponse.objects.none()
    qs: QuerySet[SurveyResponse] = SurveyResponse.objects.filter(scope.response_q())
    qs = qs.exclude(comment="")
    if data.get("kind"):
        qs = qs.filter(kind=data["kind"])
    if data.get("band"):
        qs = qs.filter(band_filter(data["band"]))
    if data.get("score") is not None:
        qs = qs.filter(score=data["score"])
    if data.get("tag"):
        qs = _with_tag(qs, data["tag"])
    zone = timezone.get_current_timezone()
    if data.get("start"):
        qs = qs.filter(responded_at__gte=_local_midnight(data["start"], zone))
    if data.get("end"):
        qs = qs.filter(responded_at__lt=_local_midnight(data["end"] + timedelta(days=1), zone))
    if data.get("before"):
        when, pk = data["before"]
        qs = qs.filter(Q(responded_at__lt=when) | Q(responded_at=when, pk__lt=pk))
    return qs.order_by("-responded_at", "-pk")


def _local_midnight(day: date, zone: Any) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=zone)


def _with_tag(qs: QuerySet[SurveyResponse], tag_id: int) -> QuerySet[SurveyResponse]:
    """Responses whose tags (copied from the conversation when it came in) hold the tag.
    JSON containment has no portable lookup: jsonb @> on PostgreSQL, json_each on SQLite."""
    if connection.vendor == "postgresql":
        return qs.filter(tag_ids__contains=[tag_id])
    table = SurveyResponse._meta.db_table
    # The table name is ours and the tag id a bound parameter.
    return qs.extra(  # noqa: S610
        where=[f"EXISTS (SELECT 1 FROM json_each({table}.tag_ids) WHERE json_each.value = %s)"],
        params=[tag_id],
    )


def comment_rows(user: Any, responses: list[SurveyResponse]) -> list[CommentRow]:
    """Rows ready to print; a conversation is linked only when the viewer may open it."""
    conversation_ids = {r.conversation_id for r in responses if r.conversation_id}
    visible = dict(
        Conversation.objects.filter(visible_filter(user), pk__in=conversation_ids).values_list(
            "pk", "number"
        )
    )
    tag_ids = {t for r in responses for t in (r.tag_ids or []) if isinstance(t, int)}
    tag_names = dict(Tag.objects.filter(pk__in=tag_ids).values_list("pk", "name"))
    agent_ids = {r.agent_id for r in responses if r.agent_id}
    agents = {u.pk: u.display_name for u in User.objects.filter(pk__in=agent_ids)}
    rows = []
    for r in responses:
        number = visible.get(r.conversation_id or 0)
        rows.append(
            CommentRow(
                when=r.responded_at,
                kind=r.get_kind_display(),
                score=r.score,
                band=band_of(r.kind, r.score),
                comment=r.comment,
                tags=[tag_names[t] for t in (r.tag_ids or []) if t in tag_names],
                agent=agents.get(r.agent_id or 0, ""),
                channel=r.channel,
                conversation_url=reverse("workspace:conversation", args=[r.conversation_id])
                if number is not None
                else "",
                conversation_number=number,
            )
        )
    return rows


def _recent_comments(user: Any) -> list[CommentRow]:
    scope = viewer_scope(user, personal=True)
    if scope is None:
        return []
    responses = list(
        SurveyResponse.objects.filter(scope.response_q())
        .exclude(comment="")
        .order_by("-responded_at", "-pk")[:10]
    )
    return comment_rows(user, responses)


@login_required
@require_GET
def comments(request: HttpRequest) -> HttpResponse:
    form = CommentsForm(request.GET)
    context: dict[str, Any] = {"section": "insights", "form": form, "bands": BANDS}
    if not form.is_valid():
        return render(request, "workspace/insights_comments.html", context, status=400)
    qs = comment_queryset(request.user, form.cleaned_data)
    if request.GET.get("format") == "csv":
        return _export_comments(request.user, list(qs[:10_000]))
    page = list(qs[: COMMENTS_PER_PAGE + 1])
    more = len(page) > COMMENTS_PER_PAGE
    page = page[:COMMENTS_PER_PAGE]
    next_url = ""
    if more:
        last = page[-1]
        next_url = _with(request, before=f"{last.responded_at.isoformat()}_{last.pk}")
    context.update(
        rows=comment_rows(request.user, page),
        next_url=next_url,
        paged=bool(form.cleaned_data.get("before")),
        csv_url=_with(request, format="csv"),
    )
    return render(request, "workspace/insights_comments.html", context)


def _export_comments(user: Any, responses: list[SurveyResponse]) -> HttpResponse:
    header = [
        "responded at",
        "kind",
        "score",
        "comment",
        "tags",
        "agent",
        "channel",
        "conversation",
    ]
    rows = [
        [
            row.when.isoformat(),
            row.kind,
            row.score,
            row.comment,
            " ".join(row.tags),
            row.agent,
            row.channel,
            row.conversation_number,
        ]
        for row in comment_rows(user, responses)
    ]
    return csv_response("heedful-survey-comments.csv", header, rows)


# --- annotations ---------------------------------------------------------------------


class AnnotationForm(forms.Form):
    day = forms.DateField(label="Date")
    title = forms.CharField(max_length=120)
    description = forms.CharField(required=False, widget=forms.Textarea, max_length=2000)


@login_required
@require_POST
def annotation_create(request: HttpRequest) -> HttpResponse:
    if not may_annotate(request.user):
        raise PermissionDenied
    form = AnnotationForm(request.POST)
    if form.is_valid():
        annotation_add(**form.cleaned_data, actor=request.user)
        messages.success(request, f"Marked {form.cleaned_data['day']:%d %b %Y}.")
    else:
        problems = "; ".join(f"{k}: {' '.join(map(str, v))}" for k, v in form.errors.items())
        messages.error(request, f"The annotation was not saved ({problems}).")
    return redirect(_back(request))


@login_required
@require_POST
def annotation_remove(request: HttpRequest, pk: int) -> HttpResponse:
    if not may_annotate(request.user):
        raise PermissionDenied
    if annotation_delete(annotation_id=pk):
        messages.success(request, "Annotation deleted.")
    return redirect(_back(request))


def _back(request: HttpRequest) -> str:
    """Back to the dashboard with its filters; only our own query string is kept."""
    query = request.POST.get("back", "")
    if query.startswith("?") and "//" not in query and "\\" not in query:
        return reverse("workspace:insights") + query
    return reverse("workspace:insights")


urlpatterns = [
    path("insights/", overview, name="insights"),
    path("insights/me/", personal, name="insights_me"),
    path("insights/comments/", comments, name="insights_comments"),
    path("insights/annotations/", annotation_create, name="insights_annotation_add"),
    path(
        "insights/annotations/<int:pk>/delete/",
        annotation_remove,
        name="insights_annotation_delete",
    ),
]
