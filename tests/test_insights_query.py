"""Dashboard figures read from hand-made rollup rows, checked against hand-computed values."""

from datetime import date, timedelta
from typing import Any

import pytest

from heedful.accounts.models import TeamMembership
from heedful.insights import metrics as m
from heedful.insights.models import DailyRollup, TagRollup
from heedful.insights.query import (
    Filters,
    Request,
    Scope,
    check_request,
    cut_periods,
    read_figures,
    viewer_scope,
)

pytestmark = pytest.mark.django_db
EVERYTHING = Scope()


def roll(day: date, *, inbox: int = 0, team: int = 0, agent: int = 0, **sums: Any) -> DailyRollup:
    return DailyRollup.objects.create(day=day, inbox_id=inbox, team_id=team, agent_id=agent, **sums)


def figures(start: date, end: date, grain: str = "day", scope: Scope = EVERYTHING, **kw: Any):
    return read_figures(scope=scope, request=Request(start=start, end=end, grain=grain, **kw))


def test_weeks_start_on_monday_and_months_on_the_first_clipped_to_the_range() -> None:
    weeks = cut_periods(date(2025, 3, 5), date(2025, 3, 20), "week")  # a Wednesday
    assert [(p.start, p.end) for p in weeks] == [
        (date(2025, 3, 5), date(2025, 3, 9)),
        (date(2025, 3, 10), date(2025, 3, 16)),
        (date(2025, 3, 17), date(2025, 3, 20)),
    ]
    months = cut_periods(date(2024, 12, 15), date(2025, 2, 10), "month")
    assert [(p.start, p.end) for p in months] == [
        (date(2024, 12, 15), date(2024, 12, 31)),
        (date(2025, 1, 1), date(2025, 1, 31)),
        (date(2025, 2, 1), date(2025, 2, 10)),
    ]


def test_day_grain_sums_rows_per_day_and_leaves_empty_days_empty() -> None:
    roll(date(2025, 3, 3), inbox=1, created=4, solved=1)
    roll(date(2025, 3, 3), inbox=2, created=2, solved=2)
    roll(date(2025, 3, 5), inbox=1, created=1)
    f = figures(date(2025, 3, 3), date(2025, 3, 5))
    assert f.series["volume"] == [6, None, 1]
    assert f.series["solved"] == [3, None, 0]
    assert f.totals["volume"] == 7


def test_week_and_month_grains_add_their_days() -> None:
    roll(date(2025, 3, 9), created=1)  # Sunday: ends the first ISO week
    roll(date(2025, 3, 10), created=2)  # Monday
    roll(date(2025, 3, 16), created=3)
    roll(date(2025, 4, 1), created=5)
    weeks = figures(date(2025, 3, 3), date(2025, 3, 23), "week")
    assert weeks.series["volume"] == [1, 5, None]
    months = figures(date(2025, 3, 1), date(2025, 4, 30), "month")
    assert months.series["volume"] == [6, 5]


def test_the_previous_period_is_the_same_length_just_before() -> None:
    roll(date(2025, 3, 1), created=10, csat_responses=4, csat_positive=3, csat_sum=17)
    roll(date(2025, 3, 2), created=20)
    roll(date(2025, 3, 3), created=7, csat_responses=2, csat_positive=2, csat_sum=10)
    f = figures(date(2025, 3, 3), date(2025, 3, 4))
    assert f.request.previous_start == date(2025, 3, 1)
    assert f.previous["volume"] == [10, 20]
    assert f.previous_totals["volume"] == 30
    assert f.previous_totals["csat"] == 75.0
    assert f.previous_totals["csat_mean"] == 17 / 4
    assert f.totals["csat"] == 100.0


def test_survey_figures_use_the_metric_formulas() -> None:
    roll(
        date(2025, 3, 3),
        ces_responses=4,
        ces_sum=14,
        nps_responses=10,
        nps_promoters=5,
        nps_detractors=2,
        csat_sent=8,
        csat_answered=2,
    )
    totals = figures(date(2025, 3, 3), date(2025, 3, 3)).totals
    assert totals["ces"] == 3.5
    assert totals["nps"] == 30.0
    assert totals["csat_rate"] == 25.0
    assert totals["csat"] is None  # no CSAT response: no data, not 0
    assert totals["nps_responses"] == 10


def test_conversation_rates_and_means() -> None:
    roll(
        date(2025, 3, 3),
        created=10,
        reopened=1,
        solved=4,
        solved_replies=6,
        fcr_known=4,
        fcr_yes=3,
        first_responses=2,
        first_response_seconds_sum=900,
        resolution_seconds_sum=4 * 7200,
    )
    totals = figures(date(2025, 3, 3), date(2025, 3, 3)).totals
    assert totals["reopen"] == 10.0
    assert totals["fcr"] == 75.0
    assert totals["replies_per_resolution"] == 1.5
    assert totals["frt_mean"] == 450
    assert totals["resolution_mean"] == 7200


def test_business_hour_means_count_only_inboxes_with_business_hours() -> None:
    day = date(2025, 3, 3)
    with_hours = m.bucket_of(600)
    roll(day, inbox=1, created=1, solved=1, first_responses=1,
         first_response_seconds_sum=900, first_response_hist={str(m.bucket_of(900)): 1},
         first_response_business_sum=600, first_response_business_hist={str(with_hours): 1},
         resolution_seconds_sum=7200, resolution_business_sum=3600,
         resolution_business_hist={str(m.bucket_of(3600)): 1})  # fmt: skip
    # An inbox without business hours: calendar times only.
    roll(day, inbox=2, created=1, solved=1, first_responses=1,
         first_response_seconds_sum=300, first_response_hist={str(m.bucket_of(300)): 1},
         resolution_seconds_sum=1800)  # fmt: skip
    totals = figures(day, day).totals
    assert totals["frt_mean"] == 600
    assert totals["frt_business_mean"] == 600  # not 300: inbox 2 measured none
    assert totals["resolution_business_mean"] == 3600


def test_percentiles_merge_the_histograms_of_the_period() -> None:
    short, long = m.bucket_of(120), m.bucket_of(7200)
    roll(date(2025, 3, 3), inbox=1, first_responses=2, first_response_hist={str(short): 2})
    roll(date(2025, 3, 4), inbox=2, first_responses=2, first_response_hist={str(long): 2})
    roll(date(2025, 3, 4), inbox=3, first_responses=1, first_response_hist={str(long): 1})
    f = figures(date(2025, 3, 3), date(2025, 3, 4))
    # 5 responses: 2 short, 3 long: the median (3rd) and p90 (5th) are long.
    assert f.totals["frt_median"] == m.bucket_value(long)
    assert f.totals["frt_p90"] == m.bucket_value(long)
    assert f.series["frt_median"] == [m.bucket_value(short), m.bucket_value(long)]
    weekly = figures(date(2025, 3, 3), date(2025, 3, 9), "week")
    assert weekly.series["frt_median"] == [m.bucket_value(long)]


def test_backlog_counts_everything_created_minus_solved_up_to_each_period_end() -> None:
    roll(date(2025, 1, 10), created=5, solved=1)  # long before: one aggregate
    roll(date(2025, 3, 1), created=2)  # in the previous range
    roll(date(2025, 3, 3), created=3, solved=4)
    f = figures(date(2025, 3, 3), date(2025, 3, 4))
    assert f.series["backlog"] == [5, 5]
    assert f.previous["backlog"] == [6, 6]
    assert f.totals["backlog"] == 5


def test_an_empty_range_shows_no_data_for_every_metric() -> None:
    f = figures(date(2025, 3, 3), date(2025, 3, 9), "week")
    assert all(values == [None] for values in f.series.values())
    assert all(value is None for value in f.totals.values())


def test_breakdown_by_channel_folds_inboxes_into_their_kind(cast: Any) -> None:
    day = date(2025, 3, 3)
    roll(day, inbox=cast.inbox_a.pk, created=3)
    roll(day, inbox=cast.inbox_b.pk, created=4)
    roll(day, inbox=cast.webform.pk, created=1)
    roll(day, nps_responses=2, nps_promoters=2)  # relationship survey: no inbox
    f = figures(day, day, breakdown="channel")
    by_label = {row.label: row.values for row in f.breakdown}
    assert by_label["Email"]["volume"] == 7
    assert by_label["Web form"]["volume"] == 1
    assert by_label["No channel (relationship survey)"]["nps"] == 100.0


def test_breakdown_by_agent_names_each_agent(cast: Any) -> None:
    day = date(2025, 3, 3)
    roll(
        day, team=cast.team_a.pk, agent=cast.agent_a.pk, created=2, solved=2, fcr_known=2, fcr_yes=1
    )
    roll(day, team=cast.team_b.pk, agent=cast.agent_b.pk, created=5)
    f = figures(day, day, breakdown="agent")
    assert [(r.label, r.values["volume"]) for r in f.breakdown] == [
        (cast.agent_b.display_name, 5),
        (cast.agent_a.display_name, 2),
    ]
    assert f.breakdown[1].values["fcr"] == 50.0


def test_tag_breakdown_and_filter_read_the_tag_rollups(cast: Any) -> None:
    from heedful.conversations.models import Tag

    portal, billing = Tag.objects.create(name="portal"), Tag.objects.create(name="billing")
    day = date(2025, 3, 3)
    TagRollup.objects.create(day=day, tag_id=portal.pk, created=6, csat_responses=2, csat_sum=4)
    TagRollup.objects.create(day=day, tag_id=billing.pk, created=1)
    roll(day, created=100)  # not a tag figure
    f = figures(day, day, breakdown="tag")
    assert [(r.label, r.values["volume"]) for r in f.breakdown] == [("portal", 6), ("billing", 1)]
    only = figures(day, day, filters=Filters(tag_ids=(portal.pk,)))
    assert only.totals["volume"] == 6
    assert only.totals["csat_mean"] == 2.0


def test_filters_by_channel_inbox_team_and_agent(cast: Any) -> None:
    day = date(2025, 3, 3)
    roll(day, inbox=cast.inbox_a.pk, team=cast.team_a.pk, agent=cast.agent_a.pk, created=1)
    roll(day, inbox=cast.inbox_b.pk, team=cast.team_b.pk, agent=cast.agent_b.pk, created=2)
    roll(day, inbox=cast.webform.pk, created=4)

    def volume(**kw: Any) -> Any:
        return figures(day, day, filters=Filters(**kw)).totals["volume"]

    assert volume(channels=("email",)) == 3
    assert volume(inbox_ids=(cast.inbox_b.pk,)) == 2
    assert volume(team_ids=(cast.team_a.pk,)) == 1
    assert volume(agent_ids=(cast.agent_b.pk,)) == 2
    assert volume(channels=("sms",)) is None


def test_a_lead_reads_only_their_teams_rows(cast: Any) -> None:
    day = date(2025, 3, 3)
    roll(day, team=cast.team_a.pk, agent=cast.agent_a.pk, created=1)
    roll(day, team=cast.team_b.pk, agent=cast.agent_b.pk, created=2)
    scope = viewer_scope(cast.lead_a)
    assert scope == Scope(team_ids=frozenset({cast.team_a.pk}))
    f = figures(day, day, scope=scope, breakdown="agent")
    assert f.totals["volume"] == 1
    assert [r.label for r in f.breakdown] == [cast.agent_a.display_name]
    # Asking for team B's rows through a filter still finds nothing.
    assert (
        figures(day, day, scope=scope, filters=Filters(team_ids=(cast.team_b.pk,))).totals["volume"]
        is None
    )


def test_scopes_per_role(cast: Any) -> None:
    assert viewer_scope(cast.admin) == Scope()
    assert viewer_scope(cast.agent_a) is None  # agents have the personal dashboard only
    assert viewer_scope(cast.agent_b, personal=True) == Scope(
        agent_id=cast.agent_b.pk, personal=True
    )
    # An agent marked lead of a team reports on that team.
    TeamMembership.objects.filter(user=cast.agent_b).update(is_lead=True)
    assert viewer_scope(cast.agent_b) == Scope(team_ids=frozenset({cast.team_b.pk}))


def test_a_personal_scope_reads_only_the_agents_own_rows(cast: Any) -> None:
    day = date(2025, 3, 3)
    roll(
        day,
        team=cast.team_a.pk,
        agent=cast.agent_a.pk,
        created=1,
        csat_responses=1,
        csat_positive=1,
    )
    roll(day, team=cast.team_a.pk, agent=cast.agent_b.pk, created=2)
    mine = figures(day, day, scope=viewer_scope(cast.agent_a, personal=True))
    assert mine.totals["volume"] == 1
    assert mine.totals["csat"] == 100.0
    theirs = figures(
        day,
        day,
        scope=viewer_scope(cast.agent_a, personal=True),
        filters=Filters(agent_ids=(cast.agent_b.pk,)),
    )
    assert theirs.totals["volume"] is None


def test_requests_the_scope_cannot_serve_are_refused() -> None:
    lead = Scope(team_ids=frozenset({1}))
    start = date(2025, 3, 3)
    assert check_request(Request(start, start, breakdown="tag"), lead)
    assert check_request(Request(start, start, breakdown="agent"), Scope(agent_id=3, personal=True))
    assert check_request(Request(start, start - timedelta(days=1)), EVERYTHING)
    assert check_request(Request(start, start + timedelta(days=400)), EVERYTHING)  # day grain
    assert check_request(
        Request(start, start, breakdown="inbox", filters=Filters(tag_ids=(1,))), EVERYTHING
    )
    assert not check_request(
        Request(start, start + timedelta(days=364), "month", "team"), EVERYTHING
    )


def test_cached_percentiles_follow_a_change_of_the_rows() -> None:
    short, long = m.bucket_of(120), m.bucket_of(7200)
    row = roll(date(2025, 3, 3), first_responses=1, first_response_hist={str(short): 1})
    assert figures(date(2025, 3, 3), date(2025, 3, 3)).totals["frt_median"] == m.bucket_value(short)
    # A late first response lands on the day the conversation was created.
    row.first_responses = 3
    row.first_response_hist = {str(short): 1, str(long): 2}
    row.save()
    assert figures(date(2025, 3, 3), date(2025, 3, 3)).totals["frt_median"] == m.bucket_value(long)


def test_cached_breakdown_percentiles_follow_a_move_between_agents(cast: Any) -> None:
    short, long = m.bucket_of(120), m.bucket_of(7200)
    day = date(2025, 3, 3)
    a = roll(
        day,
        agent=cast.agent_a.pk,
        solved=1,
        resolution_seconds_sum=120,
        resolution_hist={str(short): 1},
    )
    b = roll(day, agent=cast.agent_b.pk, solved=1, resolution_seconds_sum=7200,
             resolution_hist={str(long): 1})  # fmt: skip

    def medians() -> dict[str, Any]:
        f = figures(day, day, breakdown="agent")
        return {r.label: r.values["resolution_median"] for r in f.breakdown}

    assert medians()[cast.agent_a.display_name] == m.bucket_value(short)
    # The two solves swap agents: the day's totals stay the same, each agent's do not.
    a.resolution_hist, a.resolution_seconds_sum = {str(long): 1}, 7200
    b.resolution_hist, b.resolution_seconds_sum = {str(short): 1}, 120
    a.save()
    b.save()
    assert medians() == {
        cast.agent_a.display_name: m.bucket_value(long),
        cast.agent_b.display_name: m.bucket_value(short),
    }
