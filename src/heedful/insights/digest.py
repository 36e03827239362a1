"""The weekly insights digest: last week's findings and headline figures, by email to
every active admin, once per week."""

from datetime import date, timedelta
from typing import Any

from django.conf import settings
from django.core.mail import EmailMultiAlternatives, get_connection
from django.db import transaction
from django.db.models import Q, Sum
from django.template.loader import render_to_string
from django.urls import reverse

from heedful.accounts.models import Role, User
from heedful.core.models import Counter
from heedful.insights import metrics
from heedful.insights.changes import format_duration
from heedful.insights.models import DailyRollup, Insight

# core.Counter holds the ordinal of the last Monday a digest went out for, so a
# second run in the same week (a retry, a second worker) sends nothing.
DIGEST_COUNTER = "insights-weekly-digest"
SUM_FIELDS = (
    "created",
    "csat_responses",
    "csat_positive",
    "csat_sum",
    "ces_responses",
    "ces_sum",
    "nps_responses",
    "nps_promoters",
    "nps_detractors",
    "fcr_known",
    "fcr_yes",
)


def week_monday(day: date) -> date:
    return day - timedelta(days=day.weekday())


def headline(*, start: date, end: date) -> dict[str, float | None]:
    """The week's figures, from the daily rollups and the formulas in metrics."""
    rows = DailyRollup.objects.filter(day__gte=start, day__lte=end)
    sums = {k: v or 0 for k, v in rows.aggregate(**{f: Sum(f) for f in SUM_FIELDS}).items()}
    histogram = metrics.merge_histograms(rows.values_list("first_response_hist", flat=True))
    return {
        "volume": sums["created"],
        "csat": metrics.csat_score(sums["csat_positive"], sums["csat_responses"]),
        "csat_mean": metrics.mean(sums["csat_sum"], sums["csat_responses"]),
        "ces": metrics.mean(sums["ces_sum"], sums["ces_responses"]),
        "nps": metrics.nps(sums["nps_promoters"], sums["nps_detractors"], sums["nps_responses"]),
        "fcr": metrics.fcr_rate(sums["fcr_yes"], sums["fcr_known"]),
        "first_response_median": metrics.percentile(histogram, 50),
    }


def _figures(week: date) -> list[dict[str, str]]:
    this = headline(start=week - timedelta(days=7), end=week - timedelta(days=1))
    last = headline(start=week - timedelta(days=14), end=week - timedelta(days=8))
    shown = [
        ("Conversations", "volume", "{:.0f}"),
        ("CSAT (% satisfied)", "csat", "{:.0f}%"),
        ("CSAT (mean)", "csat_mean", "{:.2f}"),
        ("CES (mean)", "ces", "{:.2f}"),
        ("NPS", "nps", "{:.0f}"),
        ("First contact resolution", "fcr", "{:.0f}%"),
        ("Median first response", "first_response_median", "duration"),
    ]

    def show(value: float | None, form: str) -> str:
        if value is None:
            return "n/a"
        return format_duration(value) if form == "duration" else form.format(value)

    return [
        {"name": name, "value": show(this[key], form), "previous": show(last[key], form)}
        for name, key, form in shown
    ]


def digest_context(*, week: date) -> dict[str, Any]:
    """What the digest for the week before Monday `week` says."""
    insights = Insight.objects.filter(
        detected_on__gte=week - timedelta(days=6), detected_on__lte=week
    ).select_related("annotation")
    return {
        "week_start": week - timedelta(days=7),
        "week_end": week - timedelta(days=1),
        "insights": list(insights.order_by("-detected_on", "dimension", "segment_id", "q_value")),
        "figures": _figures(week),
        "feed_url": settings.BASE_URL + reverse("workspace:insight_feed"),
    }


def recipients() -> list[str]:
    admins = User.objects.filter(Q(role=Role.ADMIN) | Q(is_superuser=True), is_active=True)
    return sorted(set(admins.exclude(email="").values_list("email", flat=True)))


def claim(name: str, value: int) -> int | None:
    """Move counter `name` up to `value` unless it is there already; the value it had,
    or None when another run got there first. The transaction is short on purpose:
    on SQLite it holds the only write lock, so the slow part runs after it."""
    with transaction.atomic():
        Counter.objects.get_or_create(name=name)
        counter = Counter.objects.select_for_update().get(name=name)
        if counter.value >= value:
            return None
        previous = counter.value
        counter.value = value
        counter.save(update_fields=["value"])
    return previous


def release(name: str, value: int, previous: int) -> None:
    """Undo a claim whose work failed, so the next run tries again."""
    Counter.objects.filter(name=name, value=value).update(value=previous)


def send_weekly_digest(*, week: date) -> int:
    """Send the digest for the week before Monday `week` to every active admin, unless
    it went out already; returns how many messages were sent."""
    week = week_monday(week)
    previous = claim(DIGEST_COUNTER, week.toordinal())
    if previous is None:
        return 0
    try:
        context = digest_context(week=week)
        subject = f"Heedful insights for the week of {context['week_start']:%-d %b %Y}"
        text = render_to_string("insights/digest.txt", context)
        html = render_to_string("insights/digest.html", context)
        messages = []
        for address in recipients():
            message = EmailMultiAlternatives(subject, text, to=[address])
            message.attach_alternative(html, "text/html")
            messages.append(message)
        return (get_connection().send_messages(messages) or 0) if messages else 0
    except Exception:
        # Nothing was sent (or the mail server refused): the next hourly run retries.
        release(DIGEST_COUNTER, week.toordinal(), previous)
        raise
