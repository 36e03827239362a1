"""insights.rollups: daily and tag rollups kept by differences, and rebuilt from scratch.

The clock starts on Monday 3 March 2025, 09:00 UTC; the workspace time zone is UTC
unless a test says otherwise.
"""

from datetime import UTC, date, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command

from heedful.conversations.models import Conversation, Status, Tag
from heedful.conversations.services import (
    assign,
    mark_spam,
    merge_conversations,
    reply,
    set_status,
    tag,
)
from heedful.core import outbox
from heedful.insights import metrics
from heedful.insights.models import DailyRollup, RollupSums, TagRollup
from heedful.insights.rollups import (
    rebuild_metrics,
    rebuild_rollups,
    survey_state,
    sync_survey,
)
from heedful.surveys.models import InvitationStatus, SurveyInvitation, SurveyResponse

pytestmark = pytest.mark.django_db

MONDAY, TUESDAY = date(2025, 3, 3), date(2025, 3, 4)
SUM_FIELDS = [f.name for f in RollupSums._meta.get_fields()]


@pytest.fixture(autouse=True)
def no_lag(settings):
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 0


def daily() -> dict[tuple[Any, ...], dict[str, Any]]:
    """Every DailyRollup row, keyed (day, inbox, team, agent), with its non-zero sums."""
    return {
        (r.day, r.inbox_id, r.team_id, r.agent_id): _sums(r)
        for r in DailyRollup.objects.order_by("day", "inbox_id", "team_id", "agent_id")
    }


def by_tag() -> dict[tuple[date, int], dict[str, Any]]:
    return {(r.day, r.tag_id): _sums(r) for r in TagRollup.objects.order_by("day", "tag_id")}


def _sums(row: RollupSums) -> dict[str, Any]:
    return {name: getattr(row, name) for name in SUM_FIELDS if getattr(row, name)}


def snapshot() -> tuple[Any, ...]:
    return daily(), by_tag(), dict(SurveyInvitation.objects.values_list("pk", "rollup_state"))


def hist(*seconds: float) -> dict[str, int]:
    found: dict[str, int] = {}
    for value in seconds:
        key = str(metrics.bucket_of(value))
        found[key] = found.get(key, 0) + 1
    return found


def a_solved_conversation(cast, clock) -> Conversation:
    """Customer one writes at 09:00, agent A takes it, replies at 09:10, solves at 10:00."""
    conversation = cast.conversation_a()
    assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    clock.advance(minutes=10)
    reply(conversation=conversation, author=cast.agent_a, text="Here it is")
    clock.advance(minutes=50)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()
    conversation.refresh_from_db()
    return conversation


# --- what a conversation adds --------------------------------------------------------------


def test_a_solved_conversation_lands_on_its_agents_row(cast, clock):
    a_solved_conversation(cast, clock)

    assert daily() == {
        (MONDAY, cast.inbox_a.pk, cast.team_a.pk, cast.agent_a.pk): {
            "created": 1,
            "replies": 1,
            "first_responses": 1,
            "first_response_seconds_sum": 600.0,
            "first_response_hist": hist(600),
            "solved": 1,
            "solved_replies": 1,
            "resolution_seconds_sum": 3600.0,
            "resolution_hist": hist(3600),
            "fcr_known": 1,
            "fcr_yes": 1,
        }
    }


def test_an_unsolved_conversation_counts_under_no_agent(cast, clock):
    conversation = cast.conversation_a()
    assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    outbox.run_all()

    assert daily() == {(MONDAY, cast.inbox_a.pk, cast.team_a.pk, 0): {"created": 1}}


def test_the_solve_counts_on_the_day_it_happened(cast, clock):
    conversation = cast.conversation_a()
    assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    clock.advance(days=1)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()

    key = (cast.inbox_a.pk, cast.team_a.pk, cast.agent_a.pk)
    rows = daily()
    assert rows[(MONDAY, *key)] == {"created": 1}
    assert rows[(TUESDAY, *key)] == {
        "solved": 1,
        "resolution_seconds_sum": 86400.0,
        "resolution_hist": hist(86400),
        "fcr_known": 1,  # solved without any reply: not resolved at first contact
    }


def test_business_sums_need_business_hours(cast, clock):
    from heedful.service_levels.models import BusinessHours

    cast.inbox_a.business_hours = BusinessHours.objects.create(
        name="Office", schedule={"mon": [["09:00", "09:30"]]}
    )
    cast.inbox_a.save(update_fields=["business_hours"])
    a_solved_conversation(cast, clock)

    (row,) = daily().values()
    # Reply at 09:10 (10 min, all open); solved at 10:00, open only until 09:30.
    assert row["first_response_business_sum"] == 600.0
    assert row["first_response_business_hist"] == hist(600)
    assert row["resolution_business_sum"] == 1800.0
    assert row["resolution_business_hist"] == hist(1800)


def test_tags_get_their_own_rows(cast, clock):
    conversation = a_solved_conversation(cast, clock)
    tag(conversation=conversation, actor=cast.agent_a, add=["billing", "refund"])
    outbox.run_all()
    ids = dict(Tag.objects.values_list("name", "pk"))

    rows = by_tag()
    assert set(rows) == {(MONDAY, ids["billing"]), (MONDAY, ids["refund"])}
    assert rows[(MONDAY, ids["billing"])]["created"] == 1
    assert rows[(MONDAY, ids["billing"])]["solved"] == 1


def test_a_removed_tag_takes_its_row_away(cast, clock):
    conversation = a_solved_conversation(cast, clock)
    tag(conversation=conversation, actor=cast.agent_a, add=["billing"])
    outbox.run_all()
    tag(conversation=conversation, actor=cast.agent_a, remove=["billing"])
    outbox.run_all()

    assert by_tag() == {}


# --- empty periods and days --------------------------------------------------------------


def test_a_reopen_empties_the_day_of_the_solve(cast, clock):
    conversation = cast.conversation_a()
    clock.advance(days=1)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()
    assert {key[0] for key in daily()} == {MONDAY, TUESDAY}

    clock.advance(days=1)
    set_status(conversation=conversation, status=Status.OPEN, actor=cast.agent_a)
    outbox.run_all()

    # Nothing counts on Tuesday any more, and no row says 0.
    assert {key[0] for key in daily()} == {MONDAY}
    assert not DailyRollup.objects.filter(day=TUESDAY).exists()


def test_an_empty_period_has_no_figures(cast, clock):
    a_solved_conversation(cast, clock)
    week_later = DailyRollup.objects.filter(day__gte=MONDAY + timedelta(days=7))

    sums = {name: sum(getattr(r, name) for r in week_later) for name in ("solved", "fcr_known")}
    assert sums == {"solved": 0, "fcr_known": 0}
    assert metrics.fcr_rate(0, sums["fcr_known"]) is None
    assert metrics.percentile(metrics.merge_histograms([]), 50) is None


def test_days_are_cut_in_the_workspace_time_zone(cast, clock, settings):
    settings.TIME_ZONE = "America/New_York"
    clock.now = datetime(2025, 3, 4, 2, 0, tzinfo=UTC)  # Monday 21:00 in New York
    cast.conversation_a()
    outbox.run_all()

    assert [key[0] for key in daily()] == [MONDAY]


# --- surveys -----------------------------------------------------------------------------------


def invitation(about: Conversation, kind: str = "csat", **fields: Any) -> SurveyInvitation:
    """A sent invitation about a conversation, as the surveys code would leave it."""
    about.refresh_from_db()
    moment = datetime(2025, 3, 3, 12, tzinfo=UTC)
    values: dict[str, Any] = {
        "kind": kind,
        "customer_id": about.customer_id,
        "conversation": about,
        "inbox_id": about.inbox_id,
        "team_id": about.team_id,
        "agent_id": about.assignee_id,
        "channel": "email",
        "status": InvitationStatus.SENT,
        "due_at": moment,
        "sent_at": moment,
        "created_at": moment,
    }
    return SurveyInvitation.objects.create(**(values | fields))


def respond(sent: SurveyInvitation, score: int, at: datetime, tag_ids=()) -> SurveyResponse:
    response = SurveyResponse.objects.create(
        invitation=sent,
        kind=sent.kind,
        score=score,
        customer_id=sent.customer_id,
        conversation=sent.conversation,
        inbox_id=sent.inbox_id,
        team_id=sent.team_id,
        agent_id=sent.agent_id,
        channel=sent.channel,
        tag_ids=list(tag_ids),
        responded_at=at,
        updated_at=at,
    )
    SurveyInvitation.objects.filter(pk=sent.pk).update(status=InvitationStatus.ANSWERED)
    return response


def survey_rows(cast) -> dict[date, dict[str, Any]]:
    key = (cast.inbox_a.pk, cast.team_a.pk, cast.agent_a.pk)
    return {
        day: {k: v for k, v in sums.items() if k.startswith(("csat", "ces", "nps"))}
        for (day, *rest), sums in daily().items()
        if tuple(rest) == key
    }


def test_a_sent_survey_counts_on_the_day_it_was_sent(cast, clock):
    sent = invitation(a_solved_conversation(cast, clock))
    sync_survey(sent.pk)

    assert survey_rows(cast)[MONDAY] == {"csat_sent": 1}


def test_an_answer_counts_on_its_own_day_and_as_answered_on_the_sending_day(cast, clock):
    sent = invitation(a_solved_conversation(cast, clock))
    sync_survey(sent.pk)
    respond(sent, 4, datetime(2025, 3, 4, 8, tzinfo=UTC))
    sync_survey(sent.pk)

    rows = survey_rows(cast)
    assert rows[MONDAY] == {"csat_sent": 1, "csat_answered": 1}
    assert rows[TUESDAY] == {"csat_responses": 1, "csat_positive": 1, "csat_sum": 4}


def test_a_changed_score_moves_the_sums(cast, clock):
    sent = invitation(a_solved_conversation(cast, clock))
    response = respond(sent, 5, datetime(2025, 3, 4, 8, tzinfo=UTC))
    sync_survey(sent.pk)
    SurveyResponse.objects.filter(pk=response.pk).update(score=2)
    sync_survey(sent.pk)
    sync_survey(sent.pk)  # a second call with nothing new changes nothing

    assert survey_rows(cast)[TUESDAY] == {"csat_responses": 1, "csat_sum": 2}


def test_ces_and_nps_sums(cast, clock):
    conversation = a_solved_conversation(cast, clock)
    ces = invitation(conversation, "ces")
    respond(ces, 3, datetime(2025, 3, 3, 13, tzinfo=UTC))
    sync_survey(ces.pk)
    # A relationship survey: no conversation, inbox, team or agent.
    nps = invitation(
        conversation, "nps", conversation=None, inbox_id=None, team_id=None, agent_id=None
    )
    respond(nps, 9, datetime(2025, 3, 3, 14, tzinfo=UTC))
    sync_survey(nps.pk)

    assert survey_rows(cast)[MONDAY] == {
        "ces_responses": 1,
        "ces_sum": 3,
        "ces_sent": 1,
        "ces_answered": 1,
    }
    assert daily()[(MONDAY, 0, 0, 0)] == {
        "nps_responses": 1,
        "nps_promoters": 1,
        "nps_sent": 1,
        "nps_answered": 1,
    }


def test_a_failed_invitation_was_not_sent(cast, clock):
    sent = invitation(a_solved_conversation(cast, clock))
    sync_survey(sent.pk)
    SurveyInvitation.objects.filter(pk=sent.pk).update(status=InvitationStatus.FAILED)
    sync_survey(sent.pk)

    assert survey_rows(cast)[MONDAY] == {}


def test_responses_count_under_their_tags(cast, clock):
    sent = invitation(a_solved_conversation(cast, clock))
    respond(sent, 1, datetime(2025, 3, 4, 8, tzinfo=UTC), tag_ids=[41, 42])
    sync_survey(sent.pk)

    assert by_tag() == {
        (TUESDAY, 41): {"csat_responses": 1, "csat_sum": 1},
        (TUESDAY, 42): {"csat_responses": 1, "csat_sum": 1},
    }


def test_rollup_state_is_what_the_invitation_adds(cast, clock):
    sent = invitation(a_solved_conversation(cast, clock))
    response = respond(sent, 4, datetime(2025, 3, 4, 8, tzinfo=UTC))
    sync_survey(sent.pk)
    sent.refresh_from_db()

    assert sent.rollup_state == survey_state(sent, response)
    assert sent.rollup_state != {}


def test_survey_state_of_an_unsent_invitation_is_empty(cast, clock):
    pending = invitation(a_solved_conversation(cast, clock), sent_at=None)
    pending.status = InvitationStatus.SCHEDULED
    assert survey_state(pending, None) == {}


# --- incremental == rebuilt ------------------------------------------------------------------


def test_incremental_rollups_equal_a_rebuild_after_a_working_week(cast, clock):
    """Every kind of change the consumer and sync_survey handle, then a rebuild from
    scratch must find exactly the rows they left."""
    solved = a_solved_conversation(cast, clock)  # Monday
    tag(conversation=solved, actor=cast.agent_a, add=["billing"])
    outbox.run_all()  # so that only the new conversation below can turn its FCR

    clock.advance(hours=20)  # Tuesday 06:00: customer one again, inside the FCR window
    second = cast.conversation_a(text="And my invoice?")
    assign(conversation=second, agent=cast.agent_a, actor=cast.agent_a)
    clock.advance(minutes=30)
    reply(conversation=second, author=cast.agent_a, text="Attached")
    reply(conversation=second, author=cast.agent_a, text="And a copy")
    assign(
        conversation=second,
        agent=cast.lead_a,
        actor=cast.lead_a,
        expected_assignee_id=cast.agent_a.pk,
    )
    tag(conversation=second, actor=cast.agent_a, add=["billing", "invoice"])
    set_status(conversation=second, status=Status.SOLVED, actor=cast.lead_a)
    outbox.run_all()

    clock.advance(days=2)  # Thursday: a reopen, and a duplicate merged in
    set_status(conversation=second, status=Status.OPEN, actor=cast.agent_a)
    duplicate = cast.conversation_a(text="Same question again")
    merge_conversations(source=duplicate, target=second, actor=cast.agent_a)
    tag(conversation=second, actor=cast.agent_a, remove=["invoice"])
    other = cast.conversation_b()
    assign(conversation=other, agent=cast.agent_b, actor=cast.agent_b)
    reply(conversation=other, author=cast.agent_b, text="Hello")
    clock.advance(hours=3)
    set_status(conversation=second, status=Status.SOLVED, actor=cast.agent_a)
    spam = cast.conversation_b(text="Cheap watches")
    outbox.run_all()
    mark_spam(conversation=spam, actor=cast.agent_b)

    first_survey = invitation(solved)
    sync_survey(first_survey.pk)
    answer = respond(first_survey, 5, clock.now, tag_ids=Tag.objects.values_list("pk", flat=True))
    sync_survey(first_survey.pk)
    SurveyResponse.objects.filter(pk=answer.pk).update(score=3, completed=True)
    sync_survey(first_survey.pk)
    unanswered = invitation(second, "ces")
    sync_survey(unanswered.pk)
    outbox.run_all()
    incremental = snapshot()

    done = rebuild_metrics()

    assert snapshot() == incremental
    assert done["facts"] == 3  # solved, second, other (duplicate merged, spam ignored)
    assert sum(r.get("created", 0) for r in incremental[0].values()) == 3
    assert sum(r.get("csat_responses", 0) for r in incremental[0].values()) == 1


def test_a_rebuild_repairs_lost_rollups(cast, clock):
    conversation = a_solved_conversation(cast, clock)
    sent = invitation(conversation)
    respond(sent, 2, clock.now)
    sync_survey(sent.pk)
    good = snapshot()
    DailyRollup.objects.all().delete()
    SurveyInvitation.objects.update(rollup_state={})

    done = rebuild_metrics()

    assert snapshot() == good
    assert done["states_rewritten"] == 1


def test_rebuilding_some_days_leaves_the_others(cast, clock):
    a_solved_conversation(cast, clock)
    clock.advance(days=1)
    a_solved_conversation(cast, clock)
    good = snapshot()
    DailyRollup.objects.filter(day=TUESDAY).update(created=99)

    rebuild_rollups([TUESDAY])

    assert snapshot() == good


def test_the_rebuild_command_says_what_it_did(cast, clock):
    a_solved_conversation(cast, clock)
    out = StringIO()

    call_command("rebuild_metrics", stdout=out)

    text = out.getvalue()
    assert "1 conversations read, 1 facts" in text
    assert "1 daily rollup rows" in text


@pytest.mark.django_db(transaction=True)
def test_concurrent_histogram_changes_to_one_row_all_land(run_at_once):
    from heedful.insights.rollups import apply_delta

    key = ("d", MONDAY, 1, 0, 0)

    def first_response(seconds: float):
        sums = {"created": 1, "first_responses": 1, "first_response_hist": hist(seconds)}
        return lambda: apply_delta({key: sums})

    outcomes = run_at_once(*(first_response(s) for s in (60, 600, 6000, 60000, 600)))

    assert [o for o in outcomes if isinstance(o, Exception)] == []
    row = DailyRollup.objects.get()
    assert row.created == 5
    assert row.first_response_hist == hist(60, 600, 6000, 60000, 600)


def test_a_rebuild_month_by_month_keeps_what_spans_months(cast, clock):
    # Created on 28 January, solved on 3 February, surveyed on 25 February and answered
    # on 4 March: a rebuild sums one month at a time and must count each part once.
    clock.now = datetime(2025, 1, 28, 23, 0, tzinfo=UTC)
    conversation = cast.conversation_a()
    assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    clock.advance(minutes=30)
    reply(conversation=conversation, author=cast.agent_a, text="Next week")
    clock.now = datetime(2025, 2, 3, 10, 0, tzinfo=UTC)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()
    sent = invitation(conversation, sent_at=datetime(2025, 2, 25, 23, tzinfo=UTC))
    respond(sent, 5, datetime(2025, 3, 4, 1, tzinfo=UTC))
    sync_survey(sent.pk)
    incremental = snapshot()

    rebuild_metrics()

    assert snapshot() == incremental
    assert {key[0] for key in incremental[0]} == {
        date(2025, 1, 28),
        date(2025, 2, 3),
        date(2025, 2, 25),
        date(2025, 3, 4),
    }
