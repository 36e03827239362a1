"""surveys: when invitations are scheduled, cancelled and sent (policy, agent reply,
reopen, fatigue, sampling, opt-out, the NPS schedule, the send claim)."""

import re
from datetime import timedelta

import pytest
from django.core import mail

from heedful.conversations.models import Conversation, Status
from heedful.conversations.services import assign, note, receive, reply, set_status
from heedful.core import outbox
from heedful.surveys import services
from heedful.surveys.models import (
    InboxSurveyPolicy,
    InvitationStatus,
    SurveyInvitation,
    SurveyOptOut,
    SurveySettings,
)

pytestmark = pytest.mark.django_db

TOKEN_IN_LINK = re.compile(r"/s/([A-Za-z0-9_-]{20,})/")


@pytest.fixture(autouse=True)
def no_outbox_lag(settings) -> None:
    # The frozen clock makes every event "just written"; read them at once.
    settings.HEEDFUL_OUTBOX_LAG_SECONDS = 0


# --- helpers shared by the survey tests ---------------------------------------------------


def enable(inbox, **kw) -> InboxSurveyPolicy:
    kw.setdefault("delay_minutes", 60)
    return InboxSurveyPolicy.objects.create(inbox=inbox, **kw)


def answer_and_solve(cast, conversation: Conversation | None = None, **kw) -> Conversation:
    """Customer one writes to team A; agent A takes it, replies and solves it."""
    conversation = conversation or cast.conversation_a(**kw)
    conversation = assign(conversation=conversation, agent=cast.agent_a, actor=cast.agent_a)
    reply(conversation=conversation, author=cast.agent_a, text="Here is what happened.")
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()
    return conversation


def send_now(clock, minutes: int = 61) -> int:
    clock.advance(minutes=minutes)
    return services.send_due()


def last_token() -> str:
    """The token from the latest survey email's link."""
    found = TOKEN_IN_LINK.search(mail.outbox[-1].body)
    assert found, mail.outbox[-1].body
    return found.group(1)


def invited(cast, clock, **policy) -> tuple[SurveyInvitation, str]:
    """A sent CSAT invitation for a solved conversation of team A, and its link token."""
    enable(cast.inbox_a, **policy)
    conversation = answer_and_solve(cast, name="Ann Lee")
    assert send_now(clock) == 1
    invitation = SurveyInvitation.objects.get(conversation=conversation)
    return invitation, last_token()


# --- scheduling on solve ------------------------------------------------------------------


def test_solving_schedules_csat_after_the_inbox_delay(cast, clock):
    enable(cast.inbox_a, delay_minutes=30, language="de")
    conversation = answer_and_solve(cast)
    [invitation] = SurveyInvitation.objects.all()
    assert invitation.kind == "csat"
    assert invitation.status == InvitationStatus.SCHEDULED
    assert invitation.due_at == clock.now + timedelta(minutes=30)
    assert invitation.conversation_id == conversation.pk
    assert invitation.customer_id == conversation.customer_id
    assert (invitation.agent_id, invitation.team_id) == (cast.agent_a.pk, cast.team_a.pk)
    assert (invitation.inbox_id, invitation.channel, invitation.language) == (
        cast.inbox_a.pk,
        "email",
        "de",
    )
    assert invitation.token_hash is None  # no link exists before it is sent


def test_an_inbox_without_a_policy_sends_no_survey(cast, clock):
    enable(cast.inbox_b)
    answer_and_solve(cast)
    assert not SurveyInvitation.objects.exists()


def test_the_policy_chooses_the_kinds(cast, clock):
    enable(cast.inbox_a, send_csat=False, send_ces=True)
    answer_and_solve(cast)
    assert list(SurveyInvitation.objects.values_list("kind", flat=True)) == ["ces"]


def test_both_kinds_go_out_after_one_solve(cast, clock):
    enable(cast.inbox_a, send_csat=True, send_ces=True)
    answer_and_solve(cast)
    assert sorted(SurveyInvitation.objects.values_list("kind", flat=True)) == ["ces", "csat"]


def test_a_policy_with_no_kinds_sends_nothing(cast, clock):
    enable(cast.inbox_a, send_csat=False, send_ces=False)
    answer_and_solve(cast)
    assert not SurveyInvitation.objects.exists()


def test_no_survey_without_a_public_agent_reply(cast, clock):
    enable(cast.inbox_a)
    conversation = cast.conversation_a()
    note(conversation=conversation, author=cast.agent_a, text="Internal only.")
    reply(conversation=conversation, author=cast.agent_a, text="We got it.", is_automatic=True)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()
    assert not SurveyInvitation.objects.exists()


def test_the_assignee_at_the_solve_gets_the_credit(cast, clock):
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast)
    assign(conversation=conversation, agent=cast.lead_a, actor=cast.lead_a)
    outbox.run_all()
    assert SurveyInvitation.objects.get().agent_id == cast.agent_a.pk


def test_a_reopen_cancels_the_scheduled_survey(cast, clock):
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast)
    set_status(conversation=conversation, status=Status.OPEN, actor=cast.agent_a)
    outbox.run_all()
    invitation = SurveyInvitation.objects.get()
    assert invitation.status == InvitationStatus.CANCELLED
    assert send_now(clock) == 0
    assert mail.outbox == []


def test_a_customer_message_reopens_and_cancels(cast, clock):
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast, external_id="<first@customer.test>")
    receive(
        cast.inbound(
            text="It broke again.",
            external_id="<second@customer.test>",
            thread_hints=("<first@customer.test>",),
        )
    )
    outbox.run_all()
    conversation.refresh_from_db()
    assert conversation.status == Status.OPEN
    assert SurveyInvitation.objects.get().status == InvitationStatus.CANCELLED


def test_solved_again_after_a_reopen_schedules_a_new_survey(cast, clock):
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast)
    set_status(conversation=conversation, status=Status.OPEN, actor=cast.agent_a)
    clock.advance(minutes=5)
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()
    statuses = sorted(SurveyInvitation.objects.values_list("status", flat=True))
    assert statuses == [InvitationStatus.CANCELLED, InvitationStatus.SCHEDULED]


def test_closing_a_solved_conversation_asks_nothing_more(cast, clock):
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast)
    set_status(conversation=conversation, status=Status.CLOSED, actor=cast.agent_a)
    outbox.run_all()
    assert SurveyInvitation.objects.count() == 1


def test_running_the_consumer_again_schedules_nothing_twice(cast, clock):
    enable(cast.inbox_a)
    answer_and_solve(cast)
    outbox.run_all()
    outbox.run_all()
    assert SurveyInvitation.objects.count() == 1


def test_a_solve_long_past_is_not_surveyed_when_the_consumer_catches_up(cast, clock):
    enable(cast.inbox_a, delay_minutes=60)
    conversation = assign(
        conversation=cast.conversation_a(), agent=cast.agent_a, actor=cast.agent_a
    )
    reply(conversation=conversation, author=cast.agent_a, text="Done.")
    set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    clock.advance(days=3)
    outbox.run_all()
    assert not SurveyInvitation.objects.exists()


def test_spam_is_not_surveyed(cast, clock):
    from heedful.conversations.services import mark_spam

    enable(cast.inbox_a)
    conversation = cast.conversation_a()
    reply(conversation=conversation, author=cast.agent_a, text="Hello.")
    mark_spam(conversation=conversation, actor=cast.agent_a, spam=True)
    conversation.refresh_from_db()
    if conversation.status not in (Status.SOLVED, Status.CLOSED):
        set_status(conversation=conversation, status=Status.SOLVED, actor=cast.agent_a)
    outbox.run_all()
    assert not SurveyInvitation.objects.exists()


# --- fatigue ------------------------------------------------------------------------------


def test_one_survey_per_customer_within_the_fatigue_window(cast, clock):
    enable(cast.inbox_a)
    answer_and_solve(cast, subject="First", external_id="<a@customer.test>")
    # A scheduled survey counts already.
    answer_and_solve(cast, subject="Second", external_id="<b@customer.test>")
    assert SurveyInvitation.objects.count() == 1
    assert send_now(clock) == 1
    clock.advance(days=13)
    answer_and_solve(cast, subject="Third", external_id="<c@customer.test>")
    assert SurveyInvitation.objects.count() == 1
    clock.advance(days=1, minutes=1)
    answer_and_solve(cast, subject="Fourth", external_id="<d@customer.test>")
    assert SurveyInvitation.objects.count() == 2


def test_fatigue_is_per_customer(cast, clock):
    enable(cast.inbox_a)
    answer_and_solve(cast)
    answer_and_solve(cast, address="two@customer.test", external_id="<two@customer.test>")
    assert SurveyInvitation.objects.values("customer").distinct().count() == 2


def test_the_fatigue_window_is_a_setting(cast, clock):
    rules = SurveySettings.load()
    rules.fatigue_days = 3
    rules.save()
    enable(cast.inbox_a)
    answer_and_solve(cast, subject="First", external_id="<a@customer.test>")
    send_now(clock)
    clock.advance(days=3)
    answer_and_solve(cast, subject="Second", external_id="<b@customer.test>")
    assert SurveyInvitation.objects.count() == 2


def test_a_cancelled_survey_does_not_count_towards_fatigue(cast, clock):
    enable(cast.inbox_a)
    first = answer_and_solve(cast, subject="First", external_id="<a@customer.test>")
    set_status(conversation=first, status=Status.OPEN, actor=cast.agent_a)
    outbox.run_all()
    answer_and_solve(cast, subject="Second", external_id="<b@customer.test>")
    assert SurveyInvitation.objects.filter(status=InvitationStatus.SCHEDULED).count() == 1


# --- sampling -----------------------------------------------------------------------------


def test_sampling_is_deterministic_and_near_the_rate():
    keys = [f"conversation:{n}" for n in range(2000)]
    first = [services.sampled(key, 30) for key in keys]
    assert first == [services.sampled(key, 30) for key in keys]
    assert 0.25 < sum(first) / len(keys) < 0.35
    assert all(services.sampled(key, 100) for key in keys)
    assert not any(services.sampled(key, 0) for key in keys)


def test_a_zero_sample_surveys_nobody(cast, clock):
    rules = SurveySettings.load()
    rules.sample_percent = 0
    rules.save()
    enable(cast.inbox_a)
    answer_and_solve(cast)
    assert not SurveyInvitation.objects.exists()


def test_the_sample_decides_per_conversation(cast, clock):
    rules = SurveySettings.load()
    rules.sample_percent = 50
    rules.save()
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast)
    expected = services.sampled(f"conversation:{conversation.pk}", 50)
    assert SurveyInvitation.objects.exists() == expected


# --- opt-out ------------------------------------------------------------------------------


def test_an_opted_out_customer_is_not_surveyed(cast, clock):
    enable(cast.inbox_a)
    conversation = cast.conversation_a()
    services.opt_out(customer_id=conversation.customer_id, source="test")
    answer_and_solve(cast, conversation=conversation)
    assert not SurveyInvitation.objects.exists()


def test_opting_out_cancels_the_waiting_survey(cast, clock):
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast)
    assert services.opt_out(customer_id=conversation.customer_id, source="link")
    assert not services.opt_out(customer_id=conversation.customer_id, source="link")
    assert SurveyInvitation.objects.get().status == InvitationStatus.CANCELLED
    assert send_now(clock) == 0


def test_the_opt_out_is_checked_again_at_send_time(cast, clock):
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast)
    # Recorded by another path than opt_out() (an import): the send still honours it.
    SurveyOptOut.objects.create(customer_id=conversation.customer_id, created_at=clock.now)
    assert send_now(clock) == 0
    invitation = SurveyInvitation.objects.get()
    assert invitation.status == InvitationStatus.CANCELLED
    assert "opted out" in invitation.error
    assert mail.outbox == []


# --- sending ------------------------------------------------------------------------------


def test_a_due_invitation_is_sent_once(cast, clock):
    enable(cast.inbox_a)
    answer_and_solve(cast)
    assert send_now(clock, minutes=59) == 0
    assert send_now(clock, minutes=1) == 1
    invitation = SurveyInvitation.objects.get()
    assert invitation.status == InvitationStatus.SENT
    assert invitation.sent_at == clock.now
    assert invitation.expires_at == clock.now + timedelta(days=14)
    assert len(invitation.token_hash or "") == 64
    assert services.send_invitation(invitation.pk) == "skipped"
    assert services.send_due() == 0
    assert len(mail.outbox) == 1


def test_the_send_is_claimed_before_the_email_leaves(cast, clock, monkeypatch):
    """A second worker that read the invitation as due finds it claimed and sends nothing."""
    enable(cast.inbox_a)
    answer_and_solve(cast)
    clock.advance(minutes=61)
    [pk] = services.due_invitations()
    original = services.tokens.new_token
    outcomes: list[str] = []

    def racing_token() -> tuple[str, str]:
        # Just before our claim, another worker sends the same invitation.
        monkeypatch.setattr(services.tokens, "new_token", original)
        outcomes.append(services.send_invitation(pk))
        return original()

    monkeypatch.setattr(services.tokens, "new_token", racing_token)
    assert services.send_invitation(pk) == "skipped"
    assert outcomes == ["sent"]
    assert len(mail.outbox) == 1


def test_a_survey_for_a_conversation_reopened_during_the_delay_is_not_sent(cast, clock):
    enable(cast.inbox_a)
    conversation = answer_and_solve(cast)
    # Reopened without the consumer seeing it yet: the send checks the status itself.
    Conversation.objects.filter(pk=conversation.pk).update(status=Status.OPEN)
    assert send_now(clock) == 0
    assert SurveyInvitation.objects.get().status == InvitationStatus.CANCELLED


# --- NPS ----------------------------------------------------------------------------------


def nps_on(**kw) -> SurveySettings:
    rules = SurveySettings.load()
    rules.nps_enabled = True
    for name, value in kw.items():
        setattr(rules, name, value)
    rules.save()
    return rules


def test_nps_is_off_by_default(cast, clock):
    cast.conversation_a()
    assert services.schedule_nps() == 0
    assert not SurveyInvitation.objects.exists()


def test_nps_goes_to_customers_with_recent_contact(cast, clock):
    nps_on()
    cast.conversation_b()  # customer two, 40 days before the run
    clock.advance(days=40)
    recent = cast.conversation_a()
    assert services.schedule_nps() == 1
    [invitation] = SurveyInvitation.objects.all()
    assert invitation.kind == "nps"
    assert invitation.customer_id == recent.customer_id
    assert invitation.conversation_id is None
    assert (invitation.inbox_id, invitation.team_id, invitation.agent_id) == (None, None, None)
    assert invitation.due_at == clock.now
    assert services.send_due() == 1
    assert "recommend" in mail.outbox[0].body


def test_nps_runs_every_interval_not_every_day(cast, clock):
    nps_on(nps_every_days=90, fatigue_days=14)
    cast.conversation_a()
    assert services.schedule_nps() == 1
    services.send_due()
    clock.advance(days=1)
    cast.conversation_a(external_id="<later@customer.test>", subject="Again")
    assert services.schedule_nps() == 0
    clock.advance(days=89)
    cast.conversation_a(external_id="<much-later@customer.test>", subject="Once more")
    assert services.schedule_nps() == 1
    assert SurveySettings.load().nps_last_run_at == clock.now


def test_nps_honours_fatigue_and_opt_out(cast, clock):
    nps_on()
    enable(cast.inbox_a)
    answer_and_solve(cast)  # customer one has a CSAT survey waiting
    two = cast.conversation_b()
    services.opt_out(customer_id=two.customer_id, source="test")
    assert services.schedule_nps() == 0
    assert list(SurveyInvitation.objects.values_list("kind", flat=True)) == ["csat"]


def test_the_nps_task_is_registered_and_runs(cast, clock):
    from heedful.surveys import tasks

    nps_on()
    cast.conversation_a()
    assert tasks.schedule_relationship_survey.call_local() == 1
    assert tasks.send_due_surveys.call_local() == 1


# --- channels without a survey delivery of their own -----------------------------------------


def sms_conversation(cast) -> Conversation:
    from heedful.conversations.inbound import Sender
    from heedful.inboxes.models import Inbox

    inbox = Inbox.objects.create(kind="sms", name="Texts", address="+15550000001")
    enable(inbox)
    sender = Sender(kind="phone", address="+15551234567")
    return receive(cast.inbound(inbox=inbox, sender=sender, text="Hi, my parcel?")).conversation


def test_a_customer_we_cannot_reach_is_not_surveyed(cast, clock):
    conversation = sms_conversation(cast)
    answer_and_solve(cast, conversation=conversation)
    assert not SurveyInvitation.objects.exists()


def test_other_channels_get_the_link_by_email_from_the_site(cast, clock, settings):
    from heedful.customers.models import Identity

    conversation = sms_conversation(cast)
    Identity.objects.create(
        customer=conversation.customer, kind="email", address="texter@customer.test"
    )
    answer_and_solve(cast, conversation=conversation)
    assert send_now(clock) == 1
    [email] = mail.outbox
    assert email.to == ["texter@customer.test"]
    assert email.from_email == settings.DEFAULT_FROM_EMAIL
    invitation = SurveyInvitation.objects.get()
    assert (invitation.inbox.kind, invitation.channel) == ("sms", "email")
    answer = services.record_answer(invitation_id=invitation.pk, score=5)
    assert answer.channel == "sms"  # broken down by the conversation's channel


@pytest.mark.django_db(transaction=True)
def test_two_workers_sending_at_once_send_one_email(migrated_rows, cast, clock, run_at_once):
    enable(cast.inbox_a)
    answer_and_solve(cast)
    clock.advance(minutes=61)
    [pk] = services.due_invitations()
    outcomes = run_at_once(
        lambda: services.send_invitation(pk), lambda: services.send_invitation(pk)
    )
    assert sorted(map(str, outcomes)) == ["sent", "skipped"]
    # (The agent's reply went out too: on_commit runs in this kind of test.)
    assert [m.subject for m in mail.outbox].count("How did we do?") == 1
