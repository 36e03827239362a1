"""The fact row per conversation, from stored conversations and events only.

`fact_values` is the single definition; the outbox consumer, `rebuild_metrics`
and the demo generator all call it, so demo data carries exactly the facts the
services would. The daily rollups drawn from the facts live in insights.rollups.

Facts depend only on what is stored, never on the current time, so a fact
refreshed by the consumer and one recomputed by a rebuild are always equal.
"""

import logging
import zoneinfo
from collections import defaultdict
from collections.abc import Iterable
from datetime import date, datetime, timedelta
from typing import Any

from django.conf import settings
from django.db.models import Count, Q

from heedful.conversations.models import (
    Conversation,
    ConversationEvent,
    ConversationTag,
    DeliveryStatus,
    Direction,
    EventType,
    Status,
)
from heedful.core.outbox import consumer
from heedful.inboxes.registry import get_adapter
from heedful.insights.models import ConversationFact
from heedful.service_levels.hours import ScheduleError, business_seconds
from heedful.service_levels.models import BusinessHours

log = logging.getLogger(__name__)

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
    "customer_id",
    "team_id",
    "tag_ids",
    "first_response_business_seconds",
    "resolution_business_seconds",
    "first_contact_resolved",
]

SOLVED = (Status.SOLVED, Status.CLOSED)


def fcr_reopen_window() -> timedelta:
    return timedelta(days=settings.HEEDFUL_FCR_REOPEN_DAYS)


def fcr_new_conversation_window() -> timedelta:
    return timedelta(hours=settings.HEEDFUL_FCR_NEW_CONVERSATION_HOURS)


def _seconds(start: datetime | None, end: datetime | None) -> float | None:
    # Whole seconds: the rollups add and take back these sums in any order, and
    # whole numbers keep a float sum exact, so incremental and rebuilt sums agree.
    if start is None or end is None:
        return None
    return float(round(max(0.0, (end - start).total_seconds())))


def _business(
    start: datetime | None, end: datetime | None, hours: BusinessHours | None
) -> float | None:
    if start is None or end is None or hours is None:
        return None
    try:
        found = business_seconds(start, end, hours)
    except ScheduleError as error:
        # The admin refuses such settings; one saved around it must not stop the metrics.
        log.warning("business hours %s unusable (%s); business times left empty", hours, error)
        return None
    return None if found is None else float(round(found))


def is_synchronous(channel: str) -> bool:
    """Live chat and phone: a conversation is one session. Unknown kinds count as asynchronous."""
    try:
        return bool(get_adapter(channel).synchronous)
    except LookupError:
        return False


def first_contact_resolved(
    *,
    channel: str,
    solved_at: datetime | None,
    public_reply_count: int,
    reopen_count: int,
    first_solved_at: datetime | None = None,
    first_reopened_at: datetime | None = None,
    next_conversation_at: datetime | None = None,
) -> bool | None:
    """Issue 5's definition: solved, no reopen within HEEDFUL_FCR_REOPEN_DAYS of the
    first solve, no new conversation from the same customer within
    HEEDFUL_FCR_NEW_CONVERSATION_HOURS of it; and on an asynchronous channel exactly
    one public agent reply, on a synchronous one (live chat, phone) one session: never
    reopened at all. None while unsolved.

    Decided from what has happened so far: a conversation solved an hour ago counts
    as resolved until a reopen or a new conversation inside the windows turns it.
    """
    if solved_at is None:
        return None
    first_solve = first_solved_at or solved_at
    if reopen_count > 0:
        if is_synchronous(channel):
            return False
        # A reopen we cannot date (counters carried over by a merge) counts as early.
        if first_reopened_at is None or first_reopened_at - first_solve <= fcr_reopen_window():
            return False
    if next_conversation_at is not None and (
        next_conversation_at - first_solve <= fcr_new_conversation_window()
    ):
        return False
    # Asynchronous channels: resolved by the one reply it took.
    return is_synchronous(channel) or public_reply_count == 1


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
    customer_id: int | None = None,
    team_id: int | None = None,
    tag_ids: Iterable[int] = (),
    business_hours: BusinessHours | None = None,
    first_solved_at: datetime | None = None,
    first_reopened_at: datetime | None = None,
    next_conversation_at: datetime | None = None,
) -> dict[str, Any]:
    """One conversation's fact row (the keys of FACT_FIELDS plus conversation_id).

    first_response_at is the first public, non-automatic agent reply (as
    Conversation.first_response_at keeps it); first response time runs from
    created_at, the first customer message. See `first_contact_resolved` for the
    FCR inputs; business times are None without business hours.
    """
    solved = solved_at if status in SOLVED else None
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
        "customer_id": customer_id,
        "team_id": team_id,
        "tag_ids": sorted(set(tag_ids)),
        "first_response_business_seconds": _business(created_at, first_response_at, business_hours),
        "resolution_business_seconds": _business(created_at, solved, business_hours),
        "first_contact_resolved": first_contact_resolved(
            channel=channel,
            solved_at=solved,
            public_reply_count=public_reply_count,
            reopen_count=reopen_count,
            first_solved_at=first_solved_at,
            first_reopened_at=first_reopened_at,
            next_conversation_at=next_conversation_at,
        ),
    }


# --- reading the inputs ----------------------------------------------------------------


def _rows(ids: list[int]) -> list[dict[str, Any]]:
    return list(
        Conversation.objects.filter(pk__in=ids, merged_into__isnull=True, is_spam=False)
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
            "inbox__business_hours_id",
            "status",
            "created_at",
            "first_response_at",
            "solved_at",
            "replies",
            "inbound",
            "reopen_count",
            "assignee_id",
            "customer_id",
            "team_id",
        )
        .order_by()
    )


def _tags(ids: list[int]) -> dict[int, list[int]]:
    found: dict[int, list[int]] = defaultdict(list)
    for conversation_id, tag_id in ConversationTag.objects.filter(
        conversation_id__in=ids
    ).values_list("conversation_id", "tag_id"):
        found[conversation_id].append(tag_id)
    return found


def _solve_history(ids: list[int]) -> dict[int, tuple[datetime | None, datetime | None]]:
    """(first solve, first reopen after it) of reopened conversations, from their events.

    Conversation.solved_at only keeps the latest solve: a reopen clears it.
    """
    if not ids:
        return {}
    events = ConversationEvent.objects.filter(
        conversation_id__in=ids, type__in=(EventType.STATUS_CHANGED, EventType.REOPENED)
    ).values_list("conversation_id", "type", "data", "created_at")
    solves: dict[int, list[datetime]] = defaultdict(list)
    reopens: dict[int, list[datetime]] = defaultdict(list)
    for conversation_id, kind, data, at in events.order_by():
        if kind == EventType.REOPENED:
            reopens[conversation_id].append(at)
        elif isinstance(data, dict) and data.get("to") in SOLVED:
            solves[conversation_id].append(at)
    history = {}
    for conversation_id in ids:
        first_solve = min(solves[conversation_id], default=None)
        later = [at for at in reopens[conversation_id] if first_solve and at >= first_solve]
        history[conversation_id] = (first_solve, min(later, default=None))
    return history


def _next_conversations(wanted: list[tuple[int, int, datetime]]) -> dict[int, datetime]:
    """For (conversation, customer, first solve): the customer's first other conversation
    created from the first solve to the end of the FCR window, if any.

    Merged-away conversations count (the customer did come back); spam does not.
    """
    if not wanted:
        return {}
    window = fcr_new_conversation_window()
    customers = {customer for _, customer, _ in wanted}
    low = min(at for _, _, at in wanted)
    high = max(at for _, _, at in wanted) + window
    created: dict[int, list[tuple[datetime, int]]] = defaultdict(list)
    for pk, customer, at in Conversation.objects.filter(
        customer_id__in=customers, created_at__gte=low, created_at__lte=high, is_spam=False
    ).values_list("pk", "customer_id", "created_at"):
        created[customer].append((at, pk))
    found = {}
    for conversation_id, customer, first_solve in wanted:
        later = [
            at
            for at, pk in created[customer]
            if pk != conversation_id and first_solve <= at <= first_solve + window
        ]
        if later:
            found[conversation_id] = min(later)
    return found


class _HoursCache:
    def __init__(self) -> None:
        self.known: dict[int, BusinessHours | None] = {}

    def get(self, pk: int | None) -> BusinessHours | None:
        if pk is None:
            return None
        if pk not in self.known:
            self.known[pk] = BusinessHours.objects.filter(pk=pk).first()
        return self.known[pk]


def compute_facts(
    conversation_ids: Iterable[int], hours: _HoursCache | None = None
) -> list[ConversationFact]:
    """The current facts of these conversations (none for merged-away or spam ones)."""
    return [ConversationFact(**values) for values in compute_fact_values(conversation_ids, hours)]


def compute_fact_values(
    conversation_ids: Iterable[int], hours: _HoursCache | None = None
) -> list[dict[str, Any]]:
    """`fact_values` of these conversations, read from the database in a few queries."""
    ids = sorted(set(conversation_ids))
    if not ids:
        return []
    hours = hours or _HoursCache()
    rows = _rows(ids)
    tags = _tags(ids)
    history = _solve_history([r["pk"] for r in rows if r["reopen_count"] > 0])
    first_solves: dict[int, datetime] = {}
    for r in rows:
        if r["status"] in SOLVED and r["solved_at"] is not None:
            first_solves[r["pk"]] = history.get(r["pk"], (None, None))[0] or r["solved_at"]
    following = _next_conversations(
        [
            (r["pk"], r["customer_id"], first_solves[r["pk"]])
            for r in rows
            if r["pk"] in first_solves
        ]
    )
    return [
        fact_values(
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
            customer_id=r["customer_id"],
            team_id=r["team_id"],
            tag_ids=tags.get(r["pk"], ()),
            business_hours=hours.get(r["inbox__business_hours_id"]),
            first_solved_at=first_solves.get(r["pk"]),
            first_reopened_at=history.get(r["pk"], (None, None))[1],
            next_conversation_at=following.get(r["pk"]),
        )
        for r in rows
    ]


def refresh_facts(
    conversation_ids: Iterable[int], hours: _HoursCache | None = None
) -> list[ConversationFact]:
    """Recompute and store the facts of these conversations; returns the new facts.

    Merged-away and spam conversations lose their fact: they are no contact of
    their own (a merged one lives on in its target).
    """
    fresh = store_facts(conversation_ids, hours)
    return [ConversationFact(**values) for values in fresh]


def store_facts(
    conversation_ids: Iterable[int], hours: _HoursCache | None = None
) -> list[dict[str, Any]]:
    """refresh_facts without building model objects: returns the fact values.

    Only facts that changed are written, so a rebuild over unchanged data mostly reads.
    """
    ids = sorted(set(conversation_ids))
    if not ids:
        return []
    fresh = compute_fact_values(ids, hours)
    stored = {
        row["conversation_id"]: row
        for row in ConversationFact.objects.filter(conversation_id__in=ids).values(
            "conversation_id", *FACT_FIELDS
        )
    }
    kept = {values["conversation_id"] for values in fresh}
    gone = [pk for pk in stored if pk not in kept]
    if gone:
        ConversationFact.objects.filter(conversation_id__in=gone).delete()
    changed = [
        ConversationFact(**values)
        for values in fresh
        if stored.get(values["conversation_id"]) != values
    ]
    if changed:
        ConversationFact.objects.bulk_create(
            changed,
            update_conflicts=True,
            unique_fields=["conversation"],
            update_fields=FACT_FIELDS,
            batch_size=500,
        )
    return fresh


def fcr_neighbours(facts: Iterable[ConversationFact]) -> set[int]:
    """Conversations whose FCR may turn because these conversations (appeared, moved
    customer, changed their start): the same customer's conversations first solved
    in the FCR window before one of them was created.

    A conversation's latest solve is never before its first one, so "solved at or
    after created - window" is a safe (index-friendly) superset of "first solved".
    """
    starts: dict[int, list[datetime]] = defaultdict(list)
    for fact in facts:
        if fact.customer_id is not None:
            starts[fact.customer_id].append(fact.created_at)
    if not starts:
        return set()
    window = fcr_new_conversation_window()
    low = min(min(times) for times in starts.values()) - window
    found = set()
    candidates = ConversationFact.objects.filter(
        customer_id__in=list(starts), solved_at__gte=low
    ).values_list("conversation_id", "customer_id", "created_at", "solved_at")
    for pk, customer, created, solved in candidates:
        if customer is None or solved is None:
            continue
        if any(created <= t and solved >= t - window for t in starts[customer]):
            found.add(pk)
    return found


# --- days -----------------------------------------------------------------------------


def workspace_zone() -> zoneinfo.ZoneInfo:
    return zoneinfo.ZoneInfo(settings.TIME_ZONE)


def local_day(moment: datetime) -> date:
    """The day, in the workspace's time zone, that a moment counts on."""
    return moment.astimezone(workspace_zone()).date()


def rebuild_rollups(days: Iterable[date] | None = None) -> int:
    """Recompute the daily and tag rollups of `days` (all when None) from stored facts
    and survey invitations. Kept here for callers of the first version; see
    insights.rollups.rebuild_rollups."""
    from heedful.insights import rollups

    return rollups.rebuild_rollups(days)


@consumer("insights.facts")
def handle_events(events: list[ConversationEvent]) -> None:
    """Refresh the facts of every conversation an event touched, and of the same
    customer's recently solved conversations whose FCR those can turn, then move
    the rollups by the difference."""
    from heedful.insights import rollups

    ids = {e.conversation_id for e in events}
    for e in events:
        if e.type == EventType.MERGED_INTO and "target_id" in e.data:
            ids.add(int(e.data["target_id"]))
    before = {
        f.conversation_id: f for f in ConversationFact.objects.filter(conversation_id__in=ids)
    }
    hours = _HoursCache()
    after = refresh_facts(ids, hours)
    neighbours = fcr_neighbours([*before.values(), *after]) - ids
    if neighbours:
        before |= {
            f.conversation_id: f
            for f in ConversationFact.objects.filter(conversation_id__in=neighbours)
        }
        after += refresh_facts(neighbours, hours)
    rollups.apply_fact_changes(before.values(), after)
