"""The Insights feed: what the daily change detector found, newest day first.

Access follows the dashboards' one rule (insights.query.viewer_scope): admins see
every finding; team leads see the findings about the teams they lead (workspace-wide
and per-tag figures stay hidden from them, as on the dashboards); agents get 403.
"""

from datetime import date
from itertools import groupby

from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import path
from django.views.decorators.http import require_GET

from heedful.insights.models import Insight
from heedful.insights.query import Scope, viewer_scope

DAYS_PER_PAGE = 14
METRIC_NAMES = {
    "volume": "Conversations",
    "csat": "CSAT",
    "ces": "CES",
    "nps": "NPS",
    "first_response": "First response time",
    "fcr": "First contact resolution",
}


def visible_insights(scope: Scope) -> QuerySet[Insight]:
    rows = Insight.objects.select_related("annotation")
    if scope.team_ids is not None:
        rows = rows.filter(dimension="team", segment_id__in=sorted(scope.team_ids))
    return rows


def _before(value: str) -> date | None:
    try:
        return date.fromisoformat(value) if value else None
    except ValueError:
        return None


@login_required
@require_GET
def insight_feed(request: HttpRequest) -> HttpResponse:
    scope = viewer_scope(request.user)
    if scope is None or scope.personal:
        raise PermissionDenied
    raw_before = request.GET.get("before", "")
    before = _before(raw_before)
    context: dict[str, object] = {"section": "insights", "days": [], "older": None}
    if raw_before and before is None:
        context["error"] = "The “before” date must look like 2025-03-31."
        return render(request, "workspace/insight_feed.html", context, status=400)
    rows = visible_insights(scope)
    if before is not None:
        rows = rows.filter(detected_on__lt=before)
    # A page is whole days: the newest DAYS_PER_PAGE days that have findings.
    day_list = list(
        rows.order_by("-detected_on")
        .values_list("detected_on", flat=True)
        .distinct()[: DAYS_PER_PAGE + 1]
    )
    if len(day_list) > DAYS_PER_PAGE:
        context["older"] = day_list[DAYS_PER_PAGE - 1].isoformat()
        day_list = day_list[:DAYS_PER_PAGE]
    if day_list:
        page = rows.filter(detected_on__gte=day_list[-1]).order_by(
            "-detected_on", "dimension", "segment_id", "q_value"
        )
        context["days"] = [
            {"day": day, "groups": _groups(list(items))}
            for day, items in groupby(page, key=lambda i: i.detected_on)
        ]
    context["paged"] = before is not None
    context["newest"] = before is None
    return render(request, "workspace/insight_feed.html", context)


def _groups(items: list[Insight]) -> list[dict[str, object]]:
    """One group per segment: the lead row (its sentence tells the whole story) first."""
    groups = []
    for _, members in groupby(items, key=lambda i: (i.dimension, i.segment_id)):
        found = sorted(members, key=lambda i: (i.metric != "volume", i.q_value))
        groups.append(
            {
                "lead": found[0],
                "rows": [
                    {"insight": i, "metric_name": METRIC_NAMES.get(i.metric, i.metric)}
                    for i in found
                ],
            }
        )
    return groups


urlpatterns = [path("insights/feed/", insight_feed, name="insight_feed")]
