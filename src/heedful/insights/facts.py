"""The fact row per conversation and the daily rollups, from stored facts only.

`fact_values` is the single definition; the outbox consumer and the demo
generator both call it, so demo data carries exactly the facts services would.
"""

import zoneinfo
from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Count, F, Q, Sum
from django.db.models.functions import TruncDate

from heedful.conversations.models import (
    Conversation,
    ConversationEvent,
    DeliveryStatus,
    Direction,
    EventType,
    Status,
)
from heedful.core.outbox import consumer
from heedful.insights.models import ConversationFact, DailyRollup

FACT_FIELDS = [
    "inbox_id",
    "channel",
    "status",
    "created_at",
    "first_response_at",
    "first_response_seconds",
    "solved_at",
    "resolution_seconds",
    "public_reply_count",
    "customer_message_count",
    "reopen_count",
    "solved_by_id",
]


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    if start is None or end is None:
        return None
    return max(0.0, (end - start).total_seconds())


def fact_values(
    *,
    conversation_id: int,
    inbox_id: int,
    channel: str,
    status: str,
    created_at: datetime,
    first_response_at: datetime | None,
    solved_at: datetime | None,
    public_reply_count: int,
    customer_message_count: int,
    reopen_count: int,
    solved_by_id: int | None,
) -> dict[str, Any]:
    solved = solved_at if status in (Status.SOLVED, Status.CLOSED) else None
    return {
        "conversation_id": conversation_id,
        "inbox_id": inbox_id,
        "channel": channel,
        "status": status,
        "created_at": created_at,
        "first_response_at": first_response_at,
        "first_response_seconds": _seconds(created_at, first_response_at),
        "solved_at": solved,
        "resolution_seconds": _seconds(created_at, solved),
        "public_reply_count": public_reply_count,
        "customer_message_count": customer_message_count,
        "reopen_count": reopen_count,
        "solved_by_id": solved_by_id if solved else None,
    }


def refresh_facts(conversation_ids: Iterable[int]) -> list[ConversationFact]:
    ids = sorted(set(conversation_ids))
    if not ids:
        return []
    rows = (
        Conversation.objects.filter(pk__in=ids, merged_into__isnull=True)
        .annotate(
            replies=Count(
                "messages",
                # A reply taken back inside its undo window was never said.
                filter=Q(
                    messages__direction=Direction.OUTBOUND,
                    messages__is_note=False,
                    messages__is_automatic=False,
                )
                & ~Q(messages__delivery_status=DeliveryStatus.CANCELLED),
            ),
            inbound=Count("messages", filter=Q(messages__direction=Direction.INBOUND)),
        )
        .values(
            "pk",
            "inbox_id",
            "inbox__kind",
            "status",
            "created_at",
            "first_response_at",
            "solved_at",
            "replies",
            "inbound",
            "reopen_count",
            "assignee_id",
        )
    )
    facts = [
        ConversationFact(
            **fact_values(
                conversation_id=r["pk"],
                inbox_id=r["inbox_id"],
                channel=r["inbox__kind"],
                status=r["status"],
                created_at=r["created_at"],
                first_response_at=r["first_response_at"],
                solved_at=r["solved_at"],
                public_reply_count=r["replies"],
                customer_message_count=r["inbound"],
                reopen_count=r["reopen_count"],
                solved_by_id=r["assignee_id"],
            )
        )
        for r in rows
    ]
    # Merged-away conversations no longer stand on their own.
    ConversationFact.objects.filter(
        conversation_id__in=ids, conversation__merged_into__isnull=False
    ).delete()
    ConversationFact.objects.bulk_create(
        facts, update_conflicts=True, unique_fields=["conversation"], update_fields=FACT_FIELDS
    )
    return facts


def workspace_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_day(moment: datetime) -> date:
    return moment.astimezone(workspace_zone()).date()


def rebuild_rollups(days: Iterable[date] | None = None) -> int:
    """Recompute DailyRollup rows for `days` (all days when None) from the facts."""
    zone = workspace_zone()
    day_list = sorted(set(days)) if days is not None else None
    created = _per_day("created_at", zone, day_list).annotate(
        created=Count("pk"),
        first_responses=Count("first_response_seconds"),
        first_response_seconds_sum=Sum("first_response_seconds"),
        reopened=Count("pk", filter=Q(reopen_count__gt=0)),
        replies=Sum("public_reply_count"),
    )
    solved = _per_day("solved_at", zone, day_list).annotate(
        solved=Count("pk"), resolution_seconds_sum=Sum("resolution_seconds")
    )
    table: dict[tuple[date, int], dict[str, Any]] = {}
    for row in created:
        table.setdefault((row["day"], row["inbox_id"]), {}).update(
            created=row["created"],
            first_responses=row["first_responses"],
            first_response_seconds_sum=row["first_response_seconds_sum"] or 0.0,
            reopened=row["reopened"],
            replies=row["replies"] or 0,
        )
    for row in solved:
        table.setdefault((row["day"], row["inbox_id"]), {}).update(
            solved=row["solved"], resolution_seconds_sum=row["resolution_seconds_sum"] or 0.0
        )
    with transaction.atomic():
        stale = DailyRollup.objects.all()
        if day_list is not None:
            stale = stale.filter(day__in=day_list)
        stale.delete()
        DailyRollup.objects.bulk_create(
            [
                DailyRollup(day=day, inbox_id=inbox_id, **values)
                for (day, inbox_id), values in table.items()
            ],
            batch_size=2000,
        )
    return len(table)


def _per_day(field: str, zone: zoneinfo.ZoneInfo, days: list[date] | None) -> Any:
    qs = ConversationFact.objects.filter(**{f"{field}__isnull": False})
    if days:
        # A range on the indexed column first, so a consumer batch touching a few
        # days reads those days' facts, not every fact (the local day is computed
        # per row and no index can answer it). A day of slack each side covers any
        # time-zone offset; the exact day filter below decides.
        start = datetime.combine(days[0] - timedelta(days=1), time.min, tzinfo=zone)
        end = datetime.combine(days[-1] + timedelta(days=2), time.min, tzinfo=zone)
        qs = qs.filter(**{f"{field}__gte": start, f"{field}__lt": end})
    qs = qs.annotate(day=TruncDate(field, tzinfo=zone))
    if days is not None:
        qs = qs.filter(day__in=days)
    return qs.values("day", "inbox_id").order_by()


ROLLUP_SUMS = (
    "created",
    "solved",
    "replies",
    "reopened",
    "first_responses",
    "first_response_seconds_sum",
    "resolution_seconds_sum",
)


def _contributions(fact: ConversationFact) -> dict[tuple[date, int], dict[str, float]]:
    """What one fact adds to the daily rollups: the same sums rebuild_rollups makes."""
    found: dict[tuple[date, int], dict[str, float]] = {}
    created = found.setdefault((local_day(fact.created_at), fact.inbox_id), {})
    created["created"] = 1
    created["first_responses"] = int(fact.first_response_seconds is not None)
    created["first_response_seconds_sum"] = fact.first_response_seconds or 0.0
    created["reopened"] = int(fact.reopen_count > 0)
    created["replies"] = fact.public_reply_count
    if fact.solved_at is not None:
        solved = found.setdefault((local_day(fact.solved_at), fact.inbox_id), {})
        solved["solved"] = 1
        solved["resolution_seconds_sum"] = fact.resolution_seconds or 0.0
    return found


def apply_rollup_changes(
    before: Iterable[ConversationFact], after: Iterable[ConversationFact]
) -> int:
    """Move the daily rollups by the difference between old and new facts.

    Rebuilding every touched day instead would read every fact of those days: a
    batch of replies to conversations opened across three months reads them all.
    Returns how many (day, inbox) rows changed.
    """
    delta: dict[tuple[date, int], dict[str, float]] = {}
    for sign, facts in ((-1, before), (1, after)):
        for fact in facts:
            for key, values in _contributions(fact).items():
                row = delta.setdefault(key, {})
                for name, value in values.items():
                    row[name] = row.get(name, 0) + sign * value
    changed = {key: row for key, row in delta.items() if any(row.values())}
    for (day, inbox_id), row in sorted(changed.items()):
        rollup, _ = DailyRollup.objects.get_or_create(day=day, inbox_id=inbox_id)
        DailyRollup.objects.filter(pk=rollup.pk).update(
            **{name: F(name) + value for name, value in row.items() if value}
        )
    if changed:
        # A day left with nothing on it has no row, as a rebuild would leave it.
        empty = Q(**{name: 0 for name in ROLLUP_SUMS})
        days = {day for day, _ in changed}
        DailyRollup.objects.filter(empty, day__in=days).delete()
    return len(changed)


@consumer("insights.facts")
def handle_events(events: list[ConversationEvent]) -> None:
    ids = {e.conversation_id for e in events}
    for e in events:
        if e.type == EventType.MERGED_INTO and "target_id" in e.data:
            ids.add(int(e.data["target_id"]))
    before = list(ConversationFact.objects.filter(conversation_id__in=ids))
    facts = refresh_facts(ids)
    apply_rollup_changes(before, facts)
