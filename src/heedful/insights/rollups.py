"""Daily rollups: what each conversation fact and each survey adds to the day it
counts on, kept current by differences and rebuilt from scratch on demand.

One definition of "what a fact contributes" (`fact_contributions`) and one of
"what an invitation and its response contribute" (`survey_contributions`) serve
both paths: the event consumer and `sync_survey` apply the difference between
the old and the new contribution; `rebuild_metrics` adds up every contribution
afresh. So incremental and rebuilt figures agree by construction, and a test
replays a sequence of services and compares them.

Keys. DailyRollup: (local day, inbox_id, team_id, agent_id), 0 meaning none.
TagRollup: (local day, tag_id); a conversation with three tags counts under each.
Days are cut in the workspace time zone (settings.TIME_ZONE).

Credit. All sums of a conversation go to the agent who solved it (the assignee
at the solve: fact.solved_by), as survey responses do; an unsolved conversation
counts under agent 0, and moves to its solver's row when solved. The team is the
conversation's current team.
"""

import json
import time
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

from django.db import connection, transaction
from django.db.models import F, Max, Min, Model, Q

from heedful.core.models import ConsumerCursor
from heedful.insights import metrics
from heedful.insights.facts import compute_facts, local_day, workspace_zone
from heedful.insights.models import ConversationFact, DailyRollup, RollupSums, TagRollup
from heedful.surveys.models import InvitationStatus, SurveyInvitation, SurveyResponse

# Key: ("d", day, inbox_id, team_id, agent_id) or ("t", day, tag_id).
Key = tuple[Any, ...]
Sums = dict[str, Any]  # field -> number, or for *_hist fields {str(bucket): count}
Contributions = dict[Key, Sums]

HIST_FIELDS = frozenset(
    {
        "first_response_hist",
        "first_response_business_hist",
        "resolution_hist",
        "resolution_business_hist",
    }
)
# Every contribution carries at least one of these, so a row whose counts are all 0
# holds nothing (float sums may keep a rounding residue; they are not looked at).
COUNT_FIELDS = (
    "created",
    "replies",
    "reopened",
    "first_responses",
    "solved",
    "solved_replies",
    "fcr_known",
    "fcr_yes",
    "csat_responses",
    "csat_positive",
    "csat_sum",
    "ces_responses",
    "ces_sum",
    "nps_responses",
    "nps_promoters",
    "nps_detractors",
    "csat_sent",
    "csat_answered",
    "ces_sent",
    "ces_answered",
    "nps_sent",
    "nps_answered",
)
FACTS_CURSOR = "insights.facts"
CHUNK = 2000
# Every sum a rollup row holds, in one fixed order (the abstract RollupSums' fields).
SUM_FIELDS = tuple(field.name for field in RollupSums._meta.get_fields())


def _add(into: Contributions, key: Key, sums: Mapping[str, Any], sign: int = 1) -> None:
    row = into.setdefault(key, {})
    for name, value in sums.items():
        if name in HIST_FIELDS:
            hist = row.setdefault(name, {})
            for bucket, count in value.items():
                hist[bucket] = hist.get(bucket, 0) + sign * count
        else:
            row[name] = row.get(name, 0) + sign * value


def _duration(sums: Sums, seconds: float | None, total: str, hist: str) -> None:
    if seconds is not None:
        sums[total] = seconds
        sums[hist] = {str(metrics.bucket_of(seconds)): 1}


# What fact_contributions reads: a rebuild reads these columns only, as named tuples.
FACT_READ = (
    "conversation_id",
    "created_at",
    "solved_at",
    "inbox_id",
    "team_id",
    "solved_by_id",
    "tag_ids",
    "public_reply_count",
    "reopen_count",
    "first_response_seconds",
    "first_response_business_seconds",
    "resolution_seconds",
    "resolution_business_seconds",
    "first_contact_resolved",
)


def fact_contributions(fact: Any, into: Contributions | None = None) -> Contributions:
    """What one conversation adds: volume and first response on the day it was
    created, resolution and FCR on the day it was solved; per inbox/team/agent and
    per tag. `fact` is a ConversationFact or any object with the FACT_READ
    attributes; with `into`, the sums are added there (a rebuild's running total)."""
    agent = fact.solved_by_id or 0
    created: Sums = {
        "created": 1,
        "replies": fact.public_reply_count,
        "reopened": int(fact.reopen_count > 0),
        "first_responses": int(fact.first_response_seconds is not None),
    }
    _duration(
        created, fact.first_response_seconds, "first_response_seconds_sum", "first_response_hist"
    )
    _duration(
        created,
        fact.first_response_business_seconds,
        "first_response_business_sum",
        "first_response_business_hist",
    )
    zone = workspace_zone()
    days = [(fact.created_at.astimezone(zone).date(), created)]
    if fact.solved_at is not None:
        solved: Sums = {
            "solved": 1,
            "solved_replies": fact.public_reply_count,
            "fcr_known": int(fact.first_contact_resolved is not None),
            "fcr_yes": int(bool(fact.first_contact_resolved)),
        }
        _duration(solved, fact.resolution_seconds, "resolution_seconds_sum", "resolution_hist")
        _duration(
            solved,
            fact.resolution_business_seconds,
            "resolution_business_sum",
            "resolution_business_hist",
        )
        days.append((fact.solved_at.astimezone(zone).date(), solved))
    found: Contributions = {} if into is None else into
    for day, sums in days:
        _add(found, ("d", day, fact.inbox_id, fact.team_id or 0, agent), sums)
        for tag_id in fact.tag_ids or ():
            _add(found, ("t", day, int(tag_id)), sums)
    return found


def _response_sums(kind: str, score: int) -> Sums:
    if kind == "csat":
        return {
            "csat_responses": 1,
            "csat_positive": int(metrics.is_positive_csat(score)),
            "csat_sum": score,
        }
    if kind == "ces":
        return {"ces_responses": 1, "ces_sum": score}
    return {
        "nps_responses": 1,
        "nps_promoters": int(metrics.is_promoter(score)),
        "nps_detractors": int(metrics.is_detractor(score)),
    }


def survey_contributions(invitation: Any, response: Any) -> Contributions:
    """Sent and answered count on the day the invitation was sent, under its inbox,
    team and agent; the score on the day of the response, under the response's
    (and per tag of the conversation when it came in). An invitation that failed
    to go out was not sent; a relationship (NPS) survey has no inbox, team or agent.

    Takes a SurveyInvitation and a SurveyResponse or None, or any objects with
    their attributes (a rebuild passes plain rows)."""
    found: Contributions = {}
    kind = invitation.kind
    if invitation.sent_at is not None and invitation.status != InvitationStatus.FAILED:
        key = (
            "d",
            local_day(invitation.sent_at),
            invitation.inbox_id or 0,
            invitation.team_id or 0,
            invitation.agent_id or 0,
        )
        _add(found, key, {f"{kind}_sent": 1, f"{kind}_answered": int(response is not None)})
    if response is not None:
        day = local_day(response.responded_at)
        sums = _response_sums(response.kind, response.score)
        key = ("d", day, response.inbox_id or 0, response.team_id or 0, response.agent_id or 0)
        _add(found, key, sums)
        for tag_id in response.tag_ids or ():
            _add(found, ("t", day, int(tag_id)), sums)
    return _pruned(found)


def survey_state(invitation: SurveyInvitation, response: SurveyResponse | None) -> dict[str, Any]:
    """The rollup_state of an invitation: what it and its response add to the rollups
    now, as JSON ({"rows": [[key..., sums], ...]} with ISO days)."""
    return _to_state(survey_contributions(invitation, response))


def _to_state(found: Contributions) -> dict[str, Any]:
    rows = []
    for key, sums in sorted(found.items(), key=lambda item: _sort_key(item[0])):
        rows.append([key[0], key[1].isoformat(), *key[2:], sums])
    return {"rows": rows} if rows else {}


def _from_state(state: Mapping[str, Any] | None) -> Contributions:
    found: Contributions = {}
    for row in (state or {}).get("rows", []):
        kind, day, *ids, sums = row
        _add(found, (kind, date.fromisoformat(day), *(int(i) for i in ids)), sums)
    return found


def _sort_key(key: Key) -> tuple[Any, ...]:
    return (key[0], key[1], *key[2:])


def _pruned(found: Contributions) -> Contributions:
    clean: Contributions = {}
    for key, sums in found.items():
        row: Sums = {}
        for name, value in sums.items():
            if name in HIST_FIELDS:
                hist = {bucket: count for bucket, count in value.items() if count}
                if hist:
                    row[name] = hist
            elif value:
                row[name] = value
        if row:
            clean[key] = row
    return clean


def difference(before: Iterable[Contributions], after: Iterable[Contributions]) -> Contributions:
    delta: Contributions = {}
    for sign, found in ((-1, before), (1, after)):
        for contributions in found:
            for key, sums in contributions.items():
                _add(delta, key, sums, sign)
    return _pruned(delta)


# --- applying differences ----------------------------------------------------------------


def _target(key: Key) -> tuple[type[Model], dict[str, Any]]:
    if key[0] == "d":
        _, day, inbox_id, team_id, agent_id = key
        return DailyRollup, {
            "day": day,
            "inbox_id": inbox_id,
            "team_id": team_id,
            "agent_id": agent_id,
        }
    _, day, tag_id = key
    return TagRollup, {"day": day, "tag_id": tag_id}


def apply_delta(delta: Contributions) -> int:
    """Move the rollup rows by `delta`; returns how many rows changed.

    Each row is locked (SELECT ... FOR UPDATE) before it moves, in one fixed key
    order, so the consumer and survey writers never deadlock. Sums move with
    F() updates; histograms are read, merged and written under that lock. A row
    left with nothing is deleted, as a rebuild would leave no row for it.
    """
    if not delta:
        return 0
    touched: dict[type[Model], list[int]] = {DailyRollup: [], TagRollup: []}
    with transaction.atomic():
        for key in sorted(delta, key=_sort_key):
            model, lookup = _target(key)
            row, _ = model.objects.select_for_update().get_or_create(**lookup)  # type: ignore[attr-defined]
            updates: dict[str, Any] = {}
            for name, value in delta[key].items():
                if name in HIST_FIELDS:
                    updates[name] = _merged(getattr(row, name), value)
                else:
                    updates[name] = F(name) + value
            model.objects.filter(pk=row.pk).update(**updates)  # type: ignore[attr-defined]
            touched[model].append(row.pk)
        empty = Q(**{name: 0 for name in COUNT_FIELDS})
        for model, pks in touched.items():
            if pks:
                model.objects.filter(empty, pk__in=pks).delete()  # type: ignore[attr-defined]
    return len(delta)


def _merged(current: Mapping[str, int] | None, change: Mapping[str, int]) -> dict[str, int]:
    merged = dict(current or {})
    for bucket, count in change.items():
        merged[bucket] = merged.get(bucket, 0) + count
    return {bucket: count for bucket, count in sorted(merged.items(), key=_bucket) if count}


def _bucket(item: tuple[str, int]) -> int:
    return int(item[0])


def apply_fact_changes(
    before: Iterable[ConversationFact], after: Iterable[ConversationFact]
) -> int:
    """Move the rollups by the difference between old and new facts (the consumer)."""
    return apply_delta(
        difference((fact_contributions(f) for f in before), (fact_contributions(f) for f in after))
    )


def sync_survey(invitation_id: int) -> None:
    """Bring the rollups in line with an invitation and its response as they are now.

    Call in the same transaction as any change to the invitation or its response.
    The invitation row lock serializes two changes to one survey; its
    rollup_state says what it added last time, so only the difference moves.
    """
    with transaction.atomic():
        invitation = SurveyInvitation.objects.select_for_update().filter(pk=invitation_id).first()
        if invitation is None:
            return
        response = SurveyResponse.objects.filter(invitation_id=invitation_id).first()
        state = survey_state(invitation, response)
        if state == (invitation.rollup_state or {}):
            return
        apply_delta(difference([_from_state(invitation.rollup_state)], [_from_state(state)]))
        SurveyInvitation.objects.filter(pk=invitation_id).update(rollup_state=state)


# --- rebuilding -----------------------------------------------------------------------------


def _write(total: Contributions, days: set[date]) -> tuple[int, int]:
    """Replace the rows of these days with the sums in `total` (other days are skipped)."""
    DailyRollup.objects.filter(day__in=sorted(days)).delete()
    TagRollup.objects.filter(day__in=sorted(days)).delete()
    daily: list[list[Any]] = []
    tags: list[list[Any]] = []
    for key, sums in sorted(_pruned(total).items(), key=lambda item: _sort_key(item[0])):
        if key[1] not in days:
            continue
        if not any(sums.get(name) for name in COUNT_FIELDS):
            continue
        values = [
            json.dumps(_merged(None, sums.get(name, {})))
            if name in HIST_FIELDS
            else sums.get(name, 0)
            for name in SUM_FIELDS
        ]
        (daily if key[0] == "d" else tags).append([key[1].isoformat(), *key[2:], *values])
    _insert(DailyRollup, ("day", "inbox_id", "team_id", "agent_id"), daily)
    _insert(TagRollup, ("day", "tag_id"), tags)
    return len(daily), len(tags)


def _insert(model: type[Model], keys: tuple[str, ...], rows: list[list[Any]]) -> None:
    """A plain multi-row INSERT: the ORM's bulk_create spends most of a rebuild's time
    preparing 33 values per row that are already plain numbers and JSON text."""
    quote = connection.ops.quote_name
    meta = model._meta
    # Plain fields: each column is named as its field.
    columns = ", ".join(quote(name) for name in (*keys, *SUM_FIELDS))
    marks = ", ".join(["%s"] * (len(keys) + len(SUM_FIELDS)))
    sql = f"INSERT INTO {quote(meta.db_table)} ({columns}) VALUES ({marks})"
    with connection.cursor() as cursor:
        for start in range(0, len(rows), 1000):
            cursor.executemany(sql, rows[start : start + 1000])


def _span(days: set[date]) -> tuple[datetime, datetime]:
    """A UTC range covering the local days, with a day of slack for any offset."""
    zone = workspace_zone()
    start = datetime.combine(min(days) - timedelta(days=1), datetime.min.time(), tzinfo=zone)
    end = datetime.combine(max(days) + timedelta(days=2), datetime.min.time(), tzinfo=zone)
    return start, end


def _months(days: Iterable[date]) -> list[set[date]]:
    """Days grouped by calendar month. A rebuild sums one month at a time, so it holds
    one month's rows in memory however long the history is."""
    groups: dict[tuple[int, int], set[date]] = {}
    for day in days:
        groups.setdefault((day.year, day.month), set()).add(day)
    return [groups[month] for month in sorted(groups)]


def _history_days() -> set[date]:
    """Every local day from the first to the last moment anything counts on."""
    moments = [
        *ConversationFact.objects.aggregate(
            a=Min("created_at"), b=Max("created_at"), c=Max("solved_at")
        ).values(),
        *SurveyInvitation.objects.aggregate(a=Min("sent_at"), b=Max("sent_at")).values(),
        *SurveyResponse.objects.aggregate(a=Min("responded_at"), b=Max("responded_at")).values(),
    ]
    found = [local_day(moment) for moment in moments if moment is not None]
    if not found:
        return set()
    first, last = min(found), max(found)
    return {first + timedelta(days=n) for n in range((last - first).days + 1)}


def _add_facts(total: Contributions, days: set[date]) -> None:
    """Adds the facts that count on these days: created in them, or solved in them
    (two queries, each on its own index; the second skips what the first read)."""
    start, end = _span(days)
    facts = ConversationFact.objects.order_by()
    created = facts.filter(created_at__gte=start, created_at__lt=end)
    solved = facts.filter(solved_at__gte=start, solved_at__lt=end, created_at__lt=start)
    for part in (created, solved):
        for fact in part.values_list(*FACT_READ, named=True).iterator(chunk_size=CHUNK):
            fact_contributions(fact, into=total)


_INVITATION_READ = ("pk", "kind", "status", "sent_at", "inbox_id", "team_id", "agent_id")
_RESPONSE_READ = ("kind", "score", "responded_at", "inbox_id", "team_id", "agent_id", "tag_ids")


def _add_surveys(total: Contributions, days: set[date], write_state: bool) -> int:
    """Adds the invitations that count on these days (sent in them, or answered in
    them); with write_state, stores each one's rollup_state where it differs.
    Returns how many states were corrected.

    Reads plain columns (invitation and response in one LEFT JOIN), not model
    instances: a rebuild reads every invitation ever sent.
    """
    start, end = _span(days)
    invitations = SurveyInvitation.objects.order_by()
    sent = invitations.filter(sent_at__gte=start, sent_at__lt=end)
    answered = invitations.filter(
        Q(sent_at__isnull=True) | Q(sent_at__lt=start),
        response__responded_at__gte=start,
        response__responded_at__lt=end,
    )
    columns = (
        *_INVITATION_READ,
        "rollup_state",
        "response__pk",
        *(f"response__{name}" for name in _RESPONSE_READ),
    )
    state_at, response_at = len(_INVITATION_READ), len(_INVITATION_READ) + 1
    rewritten = 0
    changed: list[SurveyInvitation] = []
    for part in (sent, answered):
        for row in part.values_list(*columns).iterator(chunk_size=CHUNK):
            invitation = SimpleNamespace(**dict(zip(_INVITATION_READ, row, strict=False)))
            response = None
            if row[response_at] is not None:
                fields = row[response_at + 1 :]
                response = SimpleNamespace(**dict(zip(_RESPONSE_READ, fields, strict=True)))
            found = survey_contributions(invitation, response)
            for key, sums in found.items():
                _add(total, key, sums)
            state = _to_state(found)
            if write_state and state != (row[state_at] or {}):
                changed.append(SurveyInvitation(pk=invitation.pk, rollup_state=state))
            if len(changed) >= 500:
                rewritten += _save_states(changed)
    return rewritten + _save_states(changed)


def _save_states(changed: list[SurveyInvitation]) -> int:
    count = len(changed)
    if changed:
        SurveyInvitation.objects.bulk_update(changed, ["rollup_state"])
        changed.clear()
    return count


def _clear_unsent_states() -> int:
    """An invitation neither sent nor answered adds nothing: its state must be empty."""
    stale = [
        SurveyInvitation(pk=pk, rollup_state={})
        for pk, state in SurveyInvitation.objects.filter(
            sent_at__isnull=True, response__isnull=True
        ).values_list("pk", "rollup_state")
        if state
    ]
    return _save_states(stale)


def _rebuild_days(days: set[date], write_state: bool) -> tuple[int, int, int]:
    """Recompute the rows of these days, a month at a time. Returns (daily rows, tag
    rows, states corrected)."""
    daily = tags = rewritten = 0
    for month in _months(days):
        total: Contributions = {}
        _add_facts(total, month)
        rewritten += _add_surveys(total, month, write_state)
        written = _write(total, month)
        daily, tags = daily + written[0], tags + written[1]
    return daily, tags, rewritten


def rebuild_rollups(days: Iterable[date] | None = None) -> int:
    """Recompute the DailyRollup and TagRollup rows of `days` (every day when None)
    from the stored facts and survey invitations; facts and rollup_state are left as
    they are. Returns how many rows were written."""
    with transaction.atomic():
        if days is None:
            _clear_rollups()
            day_set = _history_days()
        else:
            day_set = set(days)
        daily, tags, _ = _rebuild_days(day_set, write_state=False)
    return daily + tags


def _clear_rollups() -> None:
    DailyRollup.objects.all().delete()
    TagRollup.objects.all().delete()


def refresh_all_facts(chunk: int = CHUNK) -> int:
    """Recompute the fact of every conversation, a chunk per transaction."""
    from heedful.conversations.models import Conversation
    from heedful.insights.facts import _HoursCache, store_facts

    hours = _HoursCache()
    count = 0
    last = 0
    while True:
        ids = list(
            Conversation.objects.filter(pk__gt=last)
            .order_by("pk")
            .values_list("pk", flat=True)[:chunk]
        )
        if not ids:
            return count
        with transaction.atomic():
            store_facts(ids, hours)
        count += len(ids)
        last = ids[-1]


def _hold_surveys() -> None:
    """Keep survey writers (and their sync_survey) out until the rebuild commits.

    PostgreSQL: a table lock that lets readers through but queues every insert and
    update of an invitation, new ones included. SQLite: the transaction already holds
    the database's one write lock.
    """
    if connection.vendor == "postgresql":
        table = connection.ops.quote_name(SurveyInvitation._meta.db_table)
        with connection.cursor() as cursor:
            cursor.execute(f"LOCK TABLE {table} IN SHARE ROW EXCLUSIVE MODE")


def rebuild_metrics() -> dict[str, Any]:
    """Recompute every conversation's fact, then every rollup row and every
    invitation's rollup_state from scratch.

    Facts are refreshed a chunk per transaction: they depend only on stored state,
    so the event consumer running meanwhile can only write the same values. The
    rollups are then summed and swapped in one transaction that holds the facts
    consumer's cursor lock and keeps survey writers out, so no difference is applied
    to rows being replaced; the consumer carries on from its cursor afterwards.
    On SQLite that transaction holds the database's write lock while it runs.
    """
    started = time.monotonic()
    conversations = refresh_all_facts()
    facts_done = time.monotonic()
    with transaction.atomic():
        ConsumerCursor.objects.get_or_create(name=FACTS_CURSOR)
        ConsumerCursor.objects.select_for_update().get(name=FACTS_CURSOR)
        _hold_surveys()
        _clear_rollups()
        daily, tags, rewritten = _rebuild_days(_history_days(), write_state=True)
        rewritten += _clear_unsent_states()
        facts = ConversationFact.objects.count()
        invitations = SurveyInvitation.objects.count()
    return {
        "conversations": conversations,
        "facts": facts,
        "invitations": invitations,
        "states_rewritten": rewritten,
        "daily_rows": daily,
        "tag_rows": tags,
        "facts_seconds": round(facts_done - started, 2),
        "rollups_seconds": round(time.monotonic() - facts_done, 2),
        "seconds": round(time.monotonic() - started, 2),
    }


def check_facts(conversation_ids: Iterable[int]) -> list[int]:
    """Ids whose stored fact differs from a fresh computation (for tests and support)."""
    from heedful.insights.facts import FACT_FIELDS

    ids = sorted(set(conversation_ids))
    fresh = {f.conversation_id: f for f in compute_facts(ids)}
    stored = {
        f.conversation_id: f for f in ConversationFact.objects.filter(conversation_id__in=ids)
    }
    differ = []
    for pk in ids:
        a, b = fresh.get(pk), stored.get(pk)
        if (a is None) != (b is None) or (
            a is not None and any(getattr(a, n) != getattr(b, n) for n in FACT_FIELDS)
        ):
            differ.append(pk)
    return differ
