"""Scheduled insight work: the daily change detection and the Monday digest.

Both run hourly and act once per day / week in the workspace's time zone (Huey's
crontab is in UTC): a missed hour, a restart or a second worker neither skips nor
repeats a run. A detection run for a day replaces that day's findings, so even a
repeat would be harmless."""

from datetime import datetime
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from heedful.insights.changes import detect_changes
from heedful.insights.digest import claim, release, send_weekly_digest, week_monday

DETECT_HOUR = 5  # 05:30 local: yesterday is complete and people read it in the morning
DIGEST_HOUR = 7  # Monday 07:40 local, after that day's detection
DETECT_COUNTER = "insights-daily-detection"


def local_now() -> datetime:
    return timezone.now().astimezone(ZoneInfo(settings.TIME_ZONE))


def run_daily_detection() -> int | None:
    """Detect today's changes if that has not happened yet; the number of findings."""
    now = local_now()
    today = now.date()
    if now.hour < DETECT_HOUR:
        return None
    previous = claim(DETECT_COUNTER, today.toordinal())
    if previous is None:
        return None
    try:
        found = detect_changes(day=today)
    except Exception:
        release(DETECT_COUNTER, today.toordinal(), previous)
        raise
    return len(found)


def run_weekly_digest() -> int | None:
    """Send this week's digest once detection has run on Monday morning."""
    now = local_now()
    if now.weekday() == 0 and now.hour < DIGEST_HOUR:
        return None
    return send_weekly_digest(week=week_monday(now.date()))


@db_periodic_task(crontab(minute="30"))
def daily_change_detection() -> int | None:
    return run_daily_detection()


@db_periodic_task(crontab(minute="40"))
def weekly_insights_digest() -> int | None:
    return run_weekly_digest()
