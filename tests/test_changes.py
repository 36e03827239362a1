"""The change detector (insights.changes): calibration and power on synthetic series
with fixed seeds, drivers, annotations, comments, sentences, idempotent runs, the
daily task, `heedful detect-changes` and the weekly digest."""

from datetime import UTC, date, datetime, timedelta
from typing import Any

import numpy as np
import pytest
from django.core import mail
from django.core.management import CommandError, call_command

from heedful.accounts.models import Role
from heedful.conversations.models import Tag
from heedful.insights import metrics
from heedful.insights.changes import (
    RECENT_DAYS,
    check_series,
    clause,
    detect_changes,
    find_changes,
    format_p,
    nearest_annotation,
    pick_comments,
)
from heedful.insights.digest import send_weekly_digest
from heedful.insights.models import Annotation, DailyRollup, Insight, TagRollup
from heedful.insights.series import ALL, channel_id, segment_labels
from heedful.insights.simulation import (
    DAYS,
    FLAT,
    SEASON,
    alarm_rate,
    found_within_a_week,
    synthetic,
)
from heedful.insights.tasks import run_daily_detection, run_weekly_digest
from heedful.surveys.models import SurveyInvitation, SurveyResponse
from tests.conftest import Cast
from tests.factories import CustomerFactory, UserFactory

# --- acceptance: calibration and power ---------------------------------------------------


def test_noise_only_alerts_in_at_most_5_percent_of_runs() -> None:
    # 150 conversations a day: all six metrics overall plus two noise tags, 16 tests a run.
    rate = alarm_rate(np.random.default_rng(2025), 150, volume=150, tags=2)
    assert rate <= 0.05


def test_weekly_seasonality_alone_does_not_alert() -> None:
    rng = np.random.default_rng(7)
    weekend_dip = np.array([1.6, 1.4, 1.3, 1.2, 1.1, 0.25, 0.15])
    runs = [
        find_changes(
            {ALL: synthetic(rng, volume=200, season=weekend_dip)}, metrics_tested=["volume"]
        )
        for _ in range(100)
    ]
    assert sum(bool(r) for r in runs) / len(runs) <= 0.05


def test_false_discoveries_stay_near_zero_across_50_noise_segments() -> None:
    rng = np.random.default_rng(50)
    found = [
        find_changes(
            {("tag", t): synthetic(rng, volume=40, season=FLAT) for t in range(50)},
            metrics_tested=["volume"],
        )
        for _ in range(40)
    ]
    # 2,000 tests in all: at p < 0.05 without the FDR control about 100 would alert.
    assert sum(len(f) for f in found) / len(found) <= 0.1


def test_a_10_percent_rise_in_volume_is_found_within_7_days_90_percent_of_the_time() -> None:
    # 250 conversations a day, all six metrics tested overall; see the README for the
    # power at other volumes.
    rng = np.random.default_rng(11)
    hits = [found_within_a_week(rng, "volume", volume=250, shift=1.1, tags=0) for _ in range(60)]
    assert sum(hits) / len(hits) >= 0.9


def test_a_10_percent_drop_in_csat_is_found_within_7_days_90_percent_of_the_time() -> None:
    # 80% to 72% satisfied with about 80 CSAT answers a day (200 conversations, 40% answer).
    rng = np.random.default_rng(12)
    hits = [found_within_a_week(rng, "csat", volume=200, shift=0.9, tags=0) for _ in range(60)]
    assert sum(hits) / len(hits) >= 0.9


def test_a_shift_in_one_segment_is_told_in_that_segment() -> None:
    rng = np.random.default_rng(3)
    family = {("tag", t): synthetic(rng, volume=40) for t in range(1, 11)}
    family["tag", 4] = synthetic(rng, volume=40, metric="volume", shift=1.5, shifted_days=7)
    found = find_changes(family)
    assert [(f.key, f.metric) for f in found] == [(("tag", 4), "volume")]
    assert found[0].change > 30
    assert found[0].q_value < 0.05


def test_tiny_segments_are_not_tested() -> None:
    rng = np.random.default_rng(4)
    tiny = synthetic(rng, volume=2, metric="volume", shift=3.0, shifted_days=7)
    assert find_changes({("tag", 1): tiny}) == []


def test_a_segment_born_inside_the_baseline_is_not_a_jump() -> None:
    rng = np.random.default_rng(5)
    young = synthetic(rng, volume=100)
    young.sums["created"][:40] = 0
    assert find_changes({("inbox", 1): young}, metrics_tested=["volume"]) == []


def test_the_start_of_a_shift_is_estimated() -> None:
    rng = np.random.default_rng(6)
    series = synthetic(rng, volume=300, metric="volume", shift=1.4, shifted_days=10)
    (found,) = find_changes({ALL: series}, metrics_tested=["volume"])
    assert abs(found.since_index - (DAYS - 10)) <= 2


# --- words, annotations, comments ---------------------------------------------------------


def test_clauses_read_like_sentences() -> None:
    assert clause(metric="volume", before=150, after=167, p_value=0.004) == (
        "conversations are up 11% (150 to 167 a day, p < 0.01)"
    )
    assert clause(
        metric="csat",
        before=86,
        after=74,
        p_value=0.0004,
        extra={"mean_before": 4.4, "mean_after": 3.9},
    ) == ("CSAT fell from 4.4 to 3.9 (86% to 74% satisfied, p < 0.001)")
    assert clause(
        metric="volume", before=40, after=30, p_value=0.03, dimension="tag", label="billing"
    ) == ("conversations tagged billing are down 25% (40 to 30 a day, p = 0.03)")
    assert clause(metric="first_response", before=3600, after=5400, p_value=0.02) == (
        "first response time rose 50% (typically 60 min to 1.5 h, p = 0.02)"
    )
    assert format_p(0.2) == "p = 0.20"


def test_first_contact_resolution_is_tested_only_on_settled_days() -> None:
    """The latest week's FCR is still undecided (no reopen yet, so it looks perfect);
    the test reads the week before it, where a real drop is found."""
    rng = np.random.default_rng(5)
    one = synthetic(rng, volume=200)
    known, yes = one.sums["fcr_known"], one.sums["fcr_yes"]
    yes[-RECENT_DAYS:] = known[-RECENT_DAYS:]  # unsettled: everything looks resolved
    quiet = check_series(one, "fcr")
    assert quiet is not None and quiet.p_value > 0.05
    assert abs(quiet.after - quiet.before) < 3
    settled_week = slice(-2 * RECENT_DAYS, -RECENT_DAYS)
    yes[settled_week] = np.floor(known[settled_week] * 0.5)  # 70% -> 50%
    drop = check_series(one, "fcr")
    assert drop is not None and drop.p_value < 0.001 and drop.after < drop.before - 15
    assert drop.since_index == one.days - 2 * RECENT_DAYS


def test_the_nearest_annotation_around_the_start_is_linked() -> None:
    since = date(2025, 3, 10)
    far = Annotation(day=since - timedelta(days=20), title="Old")
    before = Annotation(day=since - timedelta(days=4), title="Price change")
    after = Annotation(day=since + timedelta(days=4), title="Later")
    assert nearest_annotation(since, [far, before, after]) == before  # tie: the earlier
    assert nearest_annotation(since, [far]) is None


def _response(kind: str, score: int, comment: str, **kw: Any) -> dict[str, Any]:
    base = {"kind": kind, "score": score, "comment": comment, "inbox_id": None, "team_id": None}
    return base | {"channel": "email", "tag_ids": []} | kw


def test_comments_match_direction_and_prefer_the_driver_segment() -> None:
    responses = [
        _response("csat", 5, "Lovely, thanks"),
        _response("csat", 1, "Charged twice", tag_ids=[2]),
        _response("csat", 2, "could not find my invoice in the portal", tag_ids=[7]),
        _response("csat", 1, "x" * 400, tag_ids=[7]),  # too long to quote
        _response("csat", 1, "  ", tag_ids=[7]),  # nothing said
        _response("csat", 1, "The portal menu is a maze\nreally", tag_ids=[7]),
    ]
    low = pick_comments(responses, kinds=["csat"], worse=True, segments=[("tag", 7)])
    assert low == [
        "The portal menu is a maze really",
        "could not find my invoice in the portal",
        "Charged twice",
    ]
    high = pick_comments(responses, kinds=["csat"], worse=False, segments=[("tag", 7)])
    assert high == ["Lovely, thanks"]
    only = pick_comments(
        responses, kinds=["csat"], worse=True, segments=[("tag", 2)], only_segments=True
    )
    assert only == ["Charged twice"]


# --- the stored run -----------------------------------------------------------------------

DAY = date(2025, 3, 10)  # the run's day; the last complete day is 9 Mar


def _histogram(rng: np.random.Generator, count: int) -> dict[str, int]:
    hist: dict[str, int] = {}
    for seconds in rng.lognormal(np.log(3600), 1.0, count):
        key = str(metrics.bucket_of(float(seconds)))
        hist[key] = hist.get(key, 0) + 1
    return hist


def _rollup(rng: np.random.Generator, created: int, csat_share: float) -> dict[str, Any]:
    responses = int(rng.binomial(created, 0.4))
    positive = int(rng.binomial(responses, csat_share))
    known = int(rng.binomial(created, 0.9))
    return {
        "created": created,
        "first_responses": created,
        "first_response_hist": _histogram(rng, created),
        "csat_responses": responses,
        "csat_positive": positive,
        "csat_sum": 4 * positive + int(rng.binomial(positive, 0.6)) + 2 * (responses - positive),
        "fcr_known": known,
        "fcr_yes": int(rng.binomial(known, 0.7)),
    }


def _add(into: dict[str, Any], more: dict[str, Any]) -> dict[str, Any]:
    for key, value in more.items():
        if key == "first_response_hist":
            merged = metrics.merge_histograms([into.get(key, {}), value])
            into[key] = {str(k): v for k, v in merged.items()}
        else:
            into[key] = into.get(key, 0) + value
    return into


def portal_launch(cast: Cast, *, seed: int = 1) -> dict[str, Tag]:
    """Nine weeks of rollups: steady traffic in two teams' inboxes and the web form;
    from 3 Mar (annotated "Self-service portal launched") extra web-form conversations
    tagged portal-navigation arrive, and their customers are rarely satisfied."""
    rng = np.random.default_rng(seed)
    tags = {name: Tag.objects.create(name=name) for name in ("portal-navigation", "billing")}
    launch = DAY - timedelta(days=RECENT_DAYS)
    Annotation.objects.create(day=launch, title="Self-service portal launched")
    inboxes = [
        (cast.inbox_a, cast.team_a, 90),
        (cast.inbox_b, cast.team_b, 70),
        (cast.webform, None, 40),
    ]
    daily, tagged = [], []
    for offset in range(DAYS):
        day = DAY - timedelta(days=DAYS - offset)
        weekly = SEASON[day.weekday()] / SEASON.mean()
        portal = _rollup(rng, int(rng.poisson(12 * weekly)), 0.8)
        if day >= launch:
            _add(portal, _rollup(rng, int(rng.poisson(22 * weekly)), 0.35))
        for inbox, team, volume in inboxes:
            row = _rollup(rng, int(rng.poisson(volume * weekly)), 0.85)
            if inbox == cast.webform:
                _add(row, portal)
            daily.append(
                DailyRollup(day=day, inbox_id=inbox.pk, team_id=team.pk if team else 0, **row)
            )
        tagged.append(TagRollup(day=day, tag_id=tags["portal-navigation"].pk, **portal))
        billing = _rollup(rng, int(rng.poisson(30 * weekly)), 0.85)
        tagged.append(TagRollup(day=day, tag_id=tags["billing"].pk, **billing))
    DailyRollup.objects.bulk_create(daily)
    TagRollup.objects.bulk_create(tagged)
    return tags


def add_response(
    cast: Cast, *, score: int, comment: str, tags: list[Tag], day: date, kind: str = "csat"
) -> SurveyResponse:
    moment = datetime(day.year, day.month, day.day, 12, tzinfo=UTC)
    customer = CustomerFactory()
    invitation = SurveyInvitation.objects.create(
        kind=kind, customer=customer, due_at=moment, created_at=moment, status="answered"
    )
    return SurveyResponse.objects.create(
        invitation=invitation,
        kind=kind,
        score=score,
        comment=comment,
        customer=customer,
        inbox=cast.webform,
        channel="webform",
        tag_ids=[t.pk for t in tags],
        responded_at=moment,
        updated_at=moment,
    )


@pytest.fixture
def portal(cast: Cast) -> dict[str, Tag]:
    tags = portal_launch(cast)
    yesterday = DAY - timedelta(days=1)
    add_response(
        cast,
        score=1,
        comment="could not find my invoice in the portal",
        tags=[tags["portal-navigation"]],
        day=yesterday,
    )
    add_response(
        cast,
        score=2,
        comment="Portal search finds nothing",
        tags=[tags["portal-navigation"]],
        day=yesterday,
    )
    add_response(
        cast, score=1, comment="Charged twice this month", tags=[tags["billing"]], day=yesterday
    )
    add_response(cast, score=5, comment="Quick and kind, thank you", tags=[], day=yesterday)
    add_response(
        cast,
        score=1,
        comment="From long ago",
        tags=[tags["portal-navigation"]],
        day=DAY - timedelta(days=30),
    )
    return tags


def _overall(insights: list[Insight], metric: str) -> Insight:
    (found,) = [i for i in insights if i.dimension == "all" and i.metric == metric]
    return found


def test_the_portal_launch_is_found_and_explained(cast: Cast, portal: dict[str, Tag]) -> None:
    insights = detect_changes(day=DAY)
    volume = _overall(insights, "volume")
    assert volume.after_value > volume.before_value
    assert volume.drivers[0]["dimension"] == "tag"
    assert volume.drivers[0]["label"] == "portal-navigation"
    assert volume.drivers[0]["share"] >= 50
    assert (
        volume.annotation is not None and volume.annotation.title == "Self-service portal launched"
    )
    assert volume.comments[:2] == [
        "could not find my invoice in the portal",
        "Portal search finds nothing",
    ]
    assert (
        "From long ago" not in volume.comments
        and "Quick and kind, thank you" not in volume.comments
    )
    assert volume.sentence.startswith(
        "Since 3 Mar (Self-service portal launched) conversations are up "
    )
    assert "mostly tag portal-navigation (" in volume.sentence
    csat = _overall(insights, "csat")
    assert csat.after_value < csat.before_value
    assert "; CSAT fell from " in volume.sentence  # the lead row tells the whole story
    assert csat.sentence.startswith("Since 3 Mar (Self-service portal launched) CSAT fell from ")
    assert volume.q_value < 0.05 and volume.p_value < volume.q_value + 1e-12
    tag_rows = [i for i in insights if i.dimension == "tag"]
    assert {i.segment_label for i in tag_rows} == {"portal-navigation"}


def test_a_rerun_replaces_that_days_findings_and_keeps_earlier_days(
    cast: Cast, portal: dict[str, Tag]
) -> None:
    first = detect_changes(day=DAY)
    second = detect_changes(day=DAY)
    assert first and [i.sentence for i in first] == [i.sentence for i in second]
    assert Insight.objects.filter(detected_on=DAY).count() == len(second)
    later = detect_changes(day=DAY + timedelta(days=1))
    assert Insight.objects.filter(detected_on=DAY).count() == len(second)
    # The same shift is told once, the day it is found, not again every morning.
    told = {(i.metric, i.dimension, i.segment_id) for i in second}
    assert not told & {(i.metric, i.dimension, i.segment_id) for i in later}


def test_an_opposite_change_is_told_again(cast: Cast, portal: dict[str, Tag]) -> None:
    (volume,) = [
        i for i in detect_changes(day=DAY) if i.dimension == "all" and i.metric == "volume"
    ]
    volume.before_value, volume.after_value = volume.after_value, volume.before_value
    volume.detected_on = DAY - timedelta(days=3)
    volume.save()
    found = detect_changes(day=DAY)
    assert any(i.dimension == "all" and i.metric == "volume" for i in found)


def test_quiet_data_stores_nothing(cast: Cast) -> None:
    rng = np.random.default_rng(9)
    rows = [
        DailyRollup(
            day=DAY - timedelta(days=d),
            inbox_id=cast.inbox_a.pk,
            team_id=cast.team_a.pk,
            **_rollup(rng, int(rng.poisson(80)), 0.85),
        )
        for d in range(1, DAYS + 1)
    ]
    DailyRollup.objects.bulk_create(rows)
    assert detect_changes(day=DAY) == []
    assert not Insight.objects.exists()


def test_a_channel_of_one_inbox_is_not_told_twice(cast: Cast, portal: dict[str, Tag]) -> None:
    insights = detect_changes(day=DAY)
    assert any(i.dimension == "inbox" and i.segment_id == cast.webform.pk for i in insights)
    assert not any(i.dimension == "channel" and i.segment_label == "webform" for i in insights)
    assert segment_labels([("channel", channel_id("email"))])["channel", channel_id("email")] == (
        "email"
    )


def test_a_segment_finding_quotes_only_that_segment(cast: Cast, portal: dict[str, Tag]) -> None:
    insights = detect_changes(day=DAY)
    (tag_volume,) = [i for i in insights if i.dimension == "tag" and i.metric == "volume"]
    assert tag_volume.sentence.startswith(
        "Since 3 Mar (Self-service portal launched), in tag portal-navigation: conversations are up"
    )
    assert tag_volume.comments == [
        "could not find my invoice in the portal",
        "Portal search finds nothing",
    ]


def test_the_command_prints_sentences_and_time(
    cast: Cast, portal: dict[str, Tag], capsys: Any
) -> None:
    call_command("detect_changes", "--date", DAY.isoformat())
    out = capsys.readouterr().out
    assert "2025-03-10  Since 3 Mar (Self-service portal launched) conversations are up" in out
    assert " findings over 1 day in " in out


def test_the_command_backfills_a_range(cast: Cast, portal: dict[str, Tag], capsys: Any) -> None:
    call_command("detect_changes", "--since", "2025-03-08", "--date", DAY.isoformat())
    assert "over 3 days" in capsys.readouterr().out
    assert Insight.objects.filter(detected_on=DAY).exists()


@pytest.mark.parametrize(
    "args",
    [
        ["--date", "10 March"],
        ["--date", "2025-03-10", "--since", "2025-03-11"],
        ["--since", "2020-01-01", "--date", "2025-01-01"],
    ],
)
def test_the_command_refuses_bad_dates(db: None, args: list[str]) -> None:
    with pytest.raises(CommandError):
        call_command("detect_changes", *args)


# --- scheduling -------------------------------------------------------------------------------


def test_the_daily_task_runs_once_a_day_after_5(
    cast: Cast, portal: dict[str, Tag], clock: Any, settings: Any
) -> None:
    settings.TIME_ZONE = "UTC"
    clock.now = datetime(2025, 3, 10, 4, 30, tzinfo=UTC)
    assert run_daily_detection() is None  # yesterday's rollups may still be settling
    clock.now = datetime(2025, 3, 10, 5, 30, tzinfo=UTC)
    assert run_daily_detection() == Insight.objects.filter(detected_on=DAY).count() > 0
    assert run_daily_detection() is None
    clock.now = datetime(2025, 3, 11, 5, 30, tzinfo=UTC)
    assert run_daily_detection() is not None


# --- the weekly digest --------------------------------------------------------------------


@pytest.fixture
def week_of_insights(cast: Cast, portal: dict[str, Tag]) -> list[Insight]:
    return detect_changes(day=DAY)


def test_the_digest_goes_to_active_admins_once_a_week(
    cast: Cast, week_of_insights: list[Insight], clock: Any, settings: Any
) -> None:
    settings.TIME_ZONE = "UTC"
    UserFactory(email="former.admin@heedful.test", role=Role.ADMIN, is_active=False)
    monday = datetime(2025, 3, 10, 6, 40, tzinfo=UTC)
    clock.now = monday
    assert run_weekly_digest() is None  # before 07:00 on Monday: detection first
    clock.now = monday + timedelta(hours=1)
    assert run_weekly_digest() == 1
    (message,) = mail.outbox
    assert message.to == ["admin@heedful.test"]
    assert "portal-navigation" in message.body
    assert "Self-service portal launched" in message.body
    assert "Conversations:" in message.body
    html = message.alternatives[0][0]
    assert "conversations are up" in html
    assert "/app/insights/feed/" in html
    clock.now = monday + timedelta(days=2)
    assert run_weekly_digest() == 0  # sent for this week already
    assert len(mail.outbox) == 1
    clock.now = monday + timedelta(days=7, hours=2)
    assert run_weekly_digest() == 1
    assert len(mail.outbox) == 2


def test_the_digest_escapes_what_came_from_outside(cast: Cast, db: None) -> None:
    annotation = Annotation.objects.create(day=DAY, title="<script>alert(1)</script>")
    Insight.objects.create(
        detected_on=DAY,
        metric="volume",
        since=DAY,
        before_value=1,
        after_value=2,
        change_percent=100,
        p_value=0.001,
        q_value=0.01,
        sentence="Since 10 Mar (<script>alert(1)</script>) conversations are up",
        annotation=annotation,
    )
    assert send_weekly_digest(week=DAY) == 1
    html = mail.outbox[0].alternatives[0][0]
    assert "<script>" not in html
    assert "&lt;script&gt;" in html
    assert send_weekly_digest(week=DAY + timedelta(days=3)) == 0  # same week


def test_a_failed_send_is_tried_again(cast: Cast, monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(self: Any, messages: Any) -> int:
        raise ConnectionRefusedError("mail server down")

    with monkeypatch.context() as patch:
        patch.setattr("django.core.mail.backends.locmem.EmailBackend.send_messages", refuse)
        with pytest.raises(ConnectionRefusedError):
            send_weekly_digest(week=DAY)
    assert send_weekly_digest(week=DAY) == 1
    assert mail.outbox[0].to == ["admin@heedful.test"]


def test_a_failed_detection_is_tried_again(
    cast: Cast, clock: Any, settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.TIME_ZONE = "UTC"
    clock.now = datetime(2025, 3, 10, 5, 30, tzinfo=UTC)

    def broken(*, day: date) -> list[Insight]:
        raise RuntimeError("database went away")

    with monkeypatch.context() as patch:
        patch.setattr("heedful.insights.tasks.detect_changes", broken)
        with pytest.raises(RuntimeError):
            run_daily_detection()
    assert run_daily_detection() == 0
