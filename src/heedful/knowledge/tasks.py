"""Scheduled knowledge-base work: settling help sessions' deflection outcomes.

Every five minutes, so the stored outcomes (HelpSession.followed_at) are never much
behind even when nobody opens the dashboard (which settles too, before it reads)."""

from huey import crontab
from huey.contrib.djhuey import db_periodic_task

from heedful.knowledge.deflection import settle


@db_periodic_task(crontab(minute="*/5"))
def settle_deflection() -> int:
    return settle()
