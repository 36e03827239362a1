"""The demo's surveys and its portal-launch scenario (heedful.demo.surveys, waves, story)."""

from collections import defaultdict
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from statistics import mean

import pytest
from django.db.models import Sum

from heedful.conversations.models import Conversation, Tag
from heedful.demo import texts
from heedful.demo.generator import DemoSummary, load_demo
from heedful.demo.surveys import FATIGUE_DAYS
from heedful.insights.facts import local_day
from heedful.insights.models import Annotation, DailyRollup, Insight, TagRollup
from heedful.insights.rollups import rebuild_metrics, survey_state
from heedful.surveys.models import (
    InboxSurveyPolicy,
    SurveyInvitation,
    SurveyOptOut,
    SurveyResponse,
    SurveySettings,
)

pytestmark = pytest.mark.django_db

UNTIL = datetime(2025, 3, 3, tzinfo=UTC)
SURVEY_SUMS = (
    "csat_responses", "csat_positive", "csat_sum", "ces_responses", "ces_sum",
    "nps_responses", "nps_promoters", "nps_detractors", "csat_sent", "csat_answered",
    "ces_sent", "ces_answered", "nps_sent", "nps_answered",
)  # fmt: skip


def demo(seed: int = 5, **options: object) -> DemoSummary:
    options.setdefault("customers", 600)
    options.setdefault("conversations", 1200)
    options.setdefault("days", 60)
    options.setdefault("insights", False)
    return load_demo(seed=seed, until=UNTIL, **options)  # type: ignore[arg-type]


def portal_tag() -> int:
    return Tag.objects.get(name=texts.PORTAL_TAG).pk


def launch_moment() -> datetime:
    day = Annotation.objects.get(title=texts.PORTAL_LAUNCH_TITLE).day
    return datetime.combine(day, datetime.min.time(), tzinfo=UTC)


# --- surveys ------------------------------------------------------------------------------


def test_every_kind_is_sent_and_answered_with_comments():
    summary = demo()
    answered = SurveyResponse.objects.values_list("kind", flat=True).distinct()
    assert set(answered) == {"csat", "ces", "nps"}
    assert summary.responses == SurveyResponse.objects.count()
    for kind in ("csat", "ces", "nps"):
        responses = SurveyResponse.objects.filter(kind=kind)
        assert responses.exclude(comment="").exists(), kind
        sent = SurveyInvitation.objects.filter(kind=kind, sent_at__isnull=False).count()
        assert 0.15 < responses.count() / sent < 0.55, kind


def test_scores_lean_positive_with_a_tail_of_low_ones():
    demo()
    csat = list(SurveyResponse.objects.filter(kind="csat").values_list("score", flat=True))
    assert set(csat) <= set(range(1, 6)) and {1, 5} <= set(csat)
    assert sum(s >= 4 for s in csat) / len(csat) > 0.6
    nps = list(SurveyResponse.objects.filter(kind="nps").values_list("score", flat=True))
    assert set(nps) <= set(range(11)) and max(nps) >= 9


def test_csat_follows_solved_conversations_with_an_agent_reply():
    demo()
    invitations = SurveyInvitation.objects.exclude(kind="nps").select_related("conversation")
    assert invitations.exists()
    for invitation in invitations:
        conversation = invitation.conversation
        assert conversation is not None
        assert conversation.solved_at is not None and conversation.first_response_at
        # Scheduled by a solve (the first, or the one after a reopen cancelled it).
        assert conversation.events.filter(
            type="status_changed", created_at=invitation.created_at, data__to="solved"
        ).exists()
        assert invitation.created_at <= conversation.solved_at
        assert invitation.customer_id == conversation.customer_id
        assert invitation.inbox_id == conversation.inbox_id
        assert invitation.team_id == conversation.team_id
        assert invitation.agent_id == conversation.assignee_id
    policies = InboxSurveyPolicy.objects.filter(send_ces=True)
    ces_inboxes = set(policies.values_list("inbox", flat=True))
    assert ces_inboxes
    assert set(invitations.filter(kind="ces").values_list("inbox", flat=True)) <= ces_inboxes


def test_invitations_are_what_the_survey_services_would_store():
    demo()
    invitations = list(SurveyInvitation.objects.all())
    statuses = {i.status for i in invitations}
    assert {"answered", "sent"} <= statuses <= {"answered", "sent", "scheduled"}
    hashes = [i.token_hash for i in invitations if i.token_hash]
    assert len(hashes) == len(set(hashes)) == sum(i.sent_at is not None for i in invitations)
    assert all(len(h) == 64 and int(h, 16) >= 0 for h in hashes)
    for invitation in invitations:
        if invitation.status == "scheduled":
            assert invitation.sent_at is None and invitation.token_hash is None
            assert invitation.channel == invitation.conversation.inbox.kind
            continue
        assert invitation.sent_at is not None and invitation.sent_at <= UNTIL
        assert invitation.due_at <= invitation.sent_at
        assert invitation.expires_at == invitation.sent_at + timedelta(days=14)
    for response in SurveyResponse.objects.select_related("invitation", "conversation"):
        invitation = response.invitation
        assert invitation.status == "answered" and response.kind == invitation.kind
        assert invitation.sent_at is not None
        assert invitation.sent_at < response.responded_at <= min(UNTIL, invitation.expires_at)
        assert (response.customer_id, response.agent_id, response.inbox_id) == (
            invitation.customer_id,
            invitation.agent_id,
            invitation.inbox_id,
        )
        if response.conversation is not None:
            tags = sorted(response.conversation.tags.values_list("pk", flat=True))
            assert response.tag_ids == tags
            assert response.channel == invitation.channel == "email"
        else:
            assert response.kind == "nps" and response.inbox_id is None


def test_nps_waves_go_to_customers_with_recent_contact():
    demo(days=200)
    waves = SurveyInvitation.objects.filter(kind="nps")
    days = sorted({local_day(i.due_at) for i in waves})
    assert len(days) == 3  # every 90 days, the last a week before the end
    assert days[-1] == local_day(UNTIL) - timedelta(days=7)
    for invitation in waves:
        since = invitation.due_at - timedelta(days=30)
        assert Conversation.objects.filter(
            customer_id=invitation.customer_id, created_at__range=(since, invitation.due_at)
        ).exists()
    settings = SurveySettings.objects.get(pk=1)
    assert settings.nps_enabled and settings.nps_last_run_at == max(i.due_at for i in waves)


def test_no_customer_is_surveyed_twice_within_the_fatigue_window():
    demo(days=200)
    moments: dict[int, set[datetime]] = defaultdict(set)
    # The CSAT and CES of one conversation go out together: one survey.
    for customer, due in SurveyInvitation.objects.values_list("customer_id", "due_at"):
        moments[customer].add(due)
    assert any(len(times) > 1 for times in moments.values())
    for times in moments.values():
        ordered = sorted(times)
        for earlier, later in pairwise(ordered):
            assert later - earlier >= timedelta(days=FATIGUE_DAYS)


def test_opted_out_customers_get_no_later_survey():
    demo(days=200)
    opt_outs = list(SurveyOptOut.objects.all())
    assert opt_outs
    for opt_out in opt_outs:
        invited = SurveyInvitation.objects.filter(customer_id=opt_out.customer_id)
        assert invited.filter(sent_at__lt=opt_out.created_at).exists()
        assert not invited.filter(due_at__gte=opt_out.created_at).exists()


# --- the portal scenario --------------------------------------------------------------------


def test_the_portal_launch_is_annotated_thirty_days_back_or_half_way():
    demo(days=60)
    assert local_day(launch_moment()) == local_day(UNTIL) - timedelta(days=30)
    Annotation.objects.all().delete()
    demo(days=20, conversations=100)
    assert local_day(launch_moment()) == local_day(UNTIL) - timedelta(days=10)


def test_conversations_rise_after_the_launch_mostly_about_portal_navigation():
    demo()
    launch = launch_moment()
    before_start = launch - timedelta(days=30)
    conversations = Conversation.objects.filter(created_at__gte=before_start)
    before = conversations.filter(created_at__lt=launch)
    after = conversations.filter(created_at__gte=launch)
    portal = portal_tag()
    assert not before.filter(tags=portal).exists()
    tagged_after = after.filter(tags=portal).count()
    assert after.count() > 1.08 * before.count()
    # Most of the increase is about the portal.
    assert tagged_after > 0.5 * (after.count() - before.count())


def test_csat_falls_after_the_launch_with_portal_comments():
    demo()
    launch = launch_moment()
    portal = portal_tag()
    csat = SurveyResponse.objects.filter(kind="csat")
    before = [r.score for r in csat.filter(responded_at__lt=launch)]
    after = list(csat.filter(responded_at__gte=launch))
    on_portal = [r for r in after if portal in r.tag_ids]
    assert len(on_portal) >= 5
    assert mean(r.score for r in on_portal) < 3 < mean(before)
    assert mean(r.score for r in after) < mean(before)
    comments = {r.comment for r in on_portal if r.comment}
    portal_comments = {c for band in texts.PORTAL_COMMENTS.values() for c in band}
    assert comments and comments <= portal_comments


# --- rollups --------------------------------------------------------------------------------


def _sums(model: type[DailyRollup] | type[TagRollup]) -> dict[str, int]:
    found = model.objects.aggregate(**{name: Sum(name) for name in SURVEY_SUMS})
    return {name: value or 0 for name, value in found.items()}


def test_rollup_states_and_rollups_are_what_a_rebuild_makes():
    demo()
    for invitation in SurveyInvitation.objects.all():
        response = SurveyResponse.objects.filter(invitation=invitation).first()
        assert invitation.rollup_state == survey_state(invitation, response)
    daily, tags = _sums(DailyRollup), _sums(TagRollup)
    assert daily["csat_responses"] == SurveyResponse.objects.filter(kind="csat").count()
    assert (
        daily["nps_sent"]
        == SurveyInvitation.objects.filter(kind="nps", sent_at__isnull=False).count()
    )
    assert tags["csat_responses"] > 0
    rebuild_metrics()
    assert (_sums(DailyRollup), _sums(TagRollup)) == (daily, tags)


# --- reproducible ---------------------------------------------------------------------------


def _survey_snapshot(summary: DemoSummary) -> list[object]:
    first = summary.first_customer_id or 0
    numbers = dict(Conversation.objects.values_list("pk", "number"))
    rows: list[object] = []
    invitations = SurveyInvitation.objects.filter(
        customer_id__gte=first, customer_id__lt=first + summary.customers
    ).order_by("id")
    for i in invitations:
        response = SurveyResponse.objects.filter(invitation=i).first()
        rows.append(
            (
                i.kind,
                i.customer_id - first,
                i.conversation_id and numbers[i.conversation_id] - (summary.first_number or 0),
                i.status,
                (UNTIL - i.due_at).total_seconds(),
                response and (response.score, response.comment, response.completed),
            )
        )
    return rows


def test_the_same_seed_makes_the_same_surveys():
    first = demo(seed=9, conversations=500)
    second = demo(seed=9, conversations=500)
    assert _survey_snapshot(first) == _survey_snapshot(second)
    third = demo(seed=10, conversations=500)
    assert _survey_snapshot(third) != _survey_snapshot(first)


# --- the insight --------------------------------------------------------------------------


def test_the_feed_tells_the_portal_story_after_the_demo():
    """Large enough for the detector's minimum samples; its daily runs since the launch
    find the rise, name the portal tag as its driver and the launch as its cause."""
    summary = demo(customers=2000, conversations=9000, days=90, insights=True)
    assert summary.insights == Insight.objects.count() > 0
    volume = Insight.objects.filter(metric="volume", dimension="all")
    told = volume.filter(annotation__title=texts.PORTAL_LAUNCH_TITLE)
    assert told.exists()
    for insight in told:
        assert insight.after_value > insight.before_value
        assert texts.PORTAL_LAUNCH_TITLE in insight.sentence
        assert texts.PORTAL_TAG in insight.sentence
