"""Worker tasks for inbound raw input: process one row, and sweep what a lost
doorbell left behind."""

import logging
from datetime import timedelta

from django.utils import timezone
from huey import crontab
from huey.contrib.djhuey import db_periodic_task, db_task

from heedful.inboxes.models import RawInbound

log = logging.getLogger(__name__)


def process_one(raw_id: int) -> str:
    """Process a stored raw input through its channel; returns the row's status."""
    from heedful.conversations.services.receive import Quarantined

    raw = RawInbound.objects.select_related("inbox").filter(pk=raw_id).first()
    if raw is None or raw.status != RawInbound.Status.RECEIVED:
        return "skipped"
    process = getattr(raw.inbox.adapter, "process", None)
    if process is None:
        return "skipped"  # kinds that receive synchronously (the web form) process themselves
    try:
        result = process(raw)
    except Quarantined as exc:
        log.warning("raw inbound %s quarantined: %s", raw_id, exc.reason)
        return RawInbound.Status.QUARANTINED
    if result is not None:
        return RawInbound.Status.DUPLICATE if result.duplicate else RawInbound.Status.PROCESSED
    return RawInbound.objects.values_list("status", flat=True).get(pk=raw_id)


@db_task(retries=0)
def process_raw(raw_id: int) -> str:
    return process_one(raw_id)


def pending_raw(older_than_seconds: int = 30, limit: int = 1000) -> list[int]:
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    return list(
        RawInbound.objects.filter(status=RawInbound.Status.RECEIVED, received_at__lt=cutoff)
        .order_by("pk")
        .values_list("pk", flat=True)[:limit]
    )


@db_periodic_task(crontab(minute="*"))
def process_raw_sweep() -> int:
    """Safety net: raw input whose doorbell was lost in a crash waits a minute at most."""
    ids = pending_raw()
    for raw_id in ids:
        try:
            process_one(raw_id)
        except Exception:  # logged; the rows behind it still get their turn
            log.exception("processing raw inbound %s failed; it stays for the next sweep", raw_id)
    return len(ids)
