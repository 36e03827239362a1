"""Survey services: schedule, send, answer, opt out.

Every change to an invitation or its response calls insights.rollups.sync_survey
in the same transaction, so the dashboards move with it.
"""

import hashlib
import logging
from datetime import datetime, timedelta

from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from heedful.accounts.models import Notification, Role, User
from heedful.accounts.notifications import notify
from heedful.conversations.access import viewers_filter
from heedful.conversations.models import (
    AuthorType,
    Conversation,
    ConversationTag,
    DeliveryStatus,
    Direction,
    Message,
    Status,
)
from heedful.core.errors import ServiceError
from heedful.insights import metrics
from heedful.surveys import tokens
from heedful.surveys.defaults import FALLBACK_LANGUAGE, scale
from heedful.surveys.delivery import SurveyLink, delivery_of
from heedful.surveys.models import (
    InboxSurveyPolicy,
    InvitationStatus,
    SurveyInvitation,
    SurveyKind,
    SurveyOptOut,
    SurveyResponse,
    SurveySettings,
)

log = logging.getLogger(__name__)

SOLVED_STATES = (Status.SOLVED, Status.CLOSED)
# A solve whose survey would have been due longer ago than this is history (the
# consumer catching up after an upgrade or a long outage): nobody is surveyed for it.
STALE_AFTER = timedelta(days=1)
# A transient send failure (a mail server down) is retried this much later.
RETRY_AFTER = timedelta(minutes=15)
SEND_BATCH = 200


class SurveyUnavailable(ServiceError):
    """The invitation cannot be answered: unknown, not sent, cancelled or expired."""


class AlreadyAnswered(ServiceError):
    """The follow-up was submitted: the answer is final."""


def sync(invitation_id: int) -> None:
    from heedful.insights.rollups import sync_survey

    sync_survey(invitation_id)


# --- who may be surveyed ---------------------------------------------------------------


def opted_out(customer_id: int) -> bool:
    return SurveyOptOut.objects.filter(customer_id=customer_id).exists()


def recently_surveyed(*, customer_id: int, now: datetime, days: int) -> bool:
    """Fatigue: a survey waiting to be sent, or one sent in the last `days` days."""
    since = now - timedelta(days=days)
    return (
        SurveyInvitation.objects.filter(customer_id=customer_id)
        .filter(
            Q(status=InvitationStatus.SCHEDULED)
            | Q(status__in=[InvitationStatus.SENT, InvitationStatus.ANSWERED], sent_at__gt=since)
        )
        .exists()
    )


def sampled(key: str, percent: int) -> bool:
    """Whether `key` falls in the sample: a hash, so the same conversation or customer
    always gets the same answer (and tests are reproducible)."""
    if percent >= 100:
        return True
    bucket = int(hashlib.sha256(key.encode()).hexdigest()[:8], 16) % 100
    return bucket < percent


def had_agent_reply(conversation_id: int) -> bool:
    """A public reply written by an agent (no acknowledgment, none withdrawn by undo)."""
    return (
        Message.objects.filter(
            conversation_id=conversation_id,
            direction=Direction.OUTBOUND,
            is_note=False,
            is_automatic=False,
            author_type=AuthorType.AGENT,
        )
        .exclude(delivery_status=DeliveryStatus.CANCELLED)
        .exists()
    )


def policy_kinds(policy: InboxSurveyPolicy) -> list[str]:
    wanted = ((SurveyKind.CSAT, policy.send_csat), (SurveyKind.CES, policy.send_ces))
    return [str(kind) for kind, on in wanted if on]


# --- scheduling ------------------------------------------------------------------------


def schedule_after_solve(
    *, conversation_id: int, solved_at: datetime, agent_id: int | None
) -> list[SurveyInvitation]:
    """The inbox's post-resolution surveys for a conversation just solved, as timers.

    `agent_id` is the assignee at the moment of solving: the agent credited with
    the answers. Returns the invitations created (none when a rule says no).
    """
    conversation = Conversation.objects.select_related("inbox").filter(pk=conversation_id).first()
    if conversation is None or not _surveyable(conversation):
        return []
    policy = InboxSurveyPolicy.objects.filter(inbox=conversation.inbox_id).first()
    if policy is None or not policy_kinds(policy):
        return []
    now = timezone.now()
    due = solved_at + timedelta(minutes=policy.delay_minutes)
    rules = SurveySettings.load()
    if (
        due < now - STALE_AFTER
        or not had_agent_reply(conversation.pk)
        or opted_out(conversation.customer_id)
        or recently_surveyed(customer_id=conversation.customer_id, now=now, days=rules.fatigue_days)
        or not sampled(f"conversation:{conversation.pk}", rules.sample_percent)
    ):
        return []
    invitations = [
        SurveyInvitation(
            kind=kind,
            customer_id=conversation.customer_id,
            conversation=conversation,
            inbox=conversation.inbox,
            team_id=conversation.team_id,
            agent_id=agent_id,
            channel=conversation.inbox.kind,
            language=policy.language or FALLBACK_LANGUAGE,
            due_at=due,
            created_at=now,
        )
        for kind in policy_kinds(policy)
    ]
    # A customer we have no way to reach (a caller with only a phone number, on a
    # channel without a survey delivery) is not counted as surveyed.
    if not delivery_of(invitations[0]).can_reach(invitations[0]):
        return []
    return [created for item in invitations if (created := _create(item)) is not None]


def _surveyable(conversation: Conversation) -> bool:
    return (
        conversation.status in SOLVED_STATES
        and not conversation.is_spam
        and conversation.merged_into_id is None
    )


def _create(invitation: SurveyInvitation) -> SurveyInvitation | None:
    """Insert unless an open invitation of the kind exists for the conversation (a
    second solve while the first survey is unanswered asks nothing new)."""
    try:
        with transaction.atomic():
            invitation.save()
            sync(invitation.pk)
    except IntegrityError:
        return None
    return invitation


def cancel_scheduled(
    *, reason: str, conversation_id: int | None = None, customer_id: int | None = None
) -> int:
    """Cancel the invitations not yet sent for a conversation (reopened, merged away)
    or a customer (opted out). Sent ones stay answerable."""
    scope = Q(conversation_id=conversation_id) if conversation_id else Q(customer_id=customer_id)
    ids = list(
        SurveyInvitation.objects.filter(scope, status=InvitationStatus.SCHEDULED).values_list(
            "pk", flat=True
        )
    )
    cancelled = 0
    for pk in ids:
        with transaction.atomic():
            changed = SurveyInvitation.objects.filter(
                pk=pk, status=InvitationStatus.SCHEDULED
            ).update(status=InvitationStatus.CANCELLED, error=reason)
            if changed:
                sync(pk)
                cancelled += 1
    return cancelled


def schedule_nps(*, now: datetime | None = None) -> int:
    """The relationship survey, when its interval has passed since the last run: to each
    customer with a conversation in the recent-contact window, within the fatigue,
    sampling and opt-out rules. Returns how many invitations were scheduled."""
    now = now or timezone.now()
    rules = SurveySettings.load()
    if not rules.nps_enabled:
        return 0
    last_allowed = now - timedelta(days=rules.nps_every_days)
    # Claiming the run with a conditional update: a second worker finds it taken.
    claimed = (
        SurveySettings.objects.filter(pk=rules.pk)
        .filter(Q(nps_last_run_at__isnull=True) | Q(nps_last_run_at__lte=last_allowed))
        .update(nps_last_run_at=now)
    )
    if not claimed:
        return 0
    since = now - timedelta(days=rules.nps_recent_contact_days)
    customer_ids = sorted(
        set(
            Conversation.objects.filter(
                last_message_at__gte=since, is_spam=False, merged_into__isnull=True
            ).values_list("customer_id", flat=True)
        )
    )
    scheduled = 0
    for customer_id in customer_ids:
        if _schedule_nps_for(customer_id, now=now, rules=rules):
            scheduled += 1
    return scheduled


def _schedule_nps_for(customer_id: int, *, now: datetime, rules: SurveySettings) -> bool:
    from heedful.customers.models import Customer

    if (
        opted_out(customer_id)
        or recently_surveyed(customer_id=customer_id, now=now, days=rules.fatigue_days)
        or not sampled(f"nps:{customer_id}:{now.date().isoformat()}", rules.sample_percent)
    ):
        return False
    customer = Customer.objects.filter(pk=customer_id, merged_into__isnull=True).first()
    if customer is None:
        return False
    invitation = SurveyInvitation(
        kind=SurveyKind.NPS,
        customer=customer,
        language=customer.language or FALLBACK_LANGUAGE,
        due_at=now,
        created_at=now,
    )
    if not delivery_of(invitation).can_reach(invitation):
        return False
    return _create(invitation) is not None


# --- sending ---------------------------------------------------------------------------


def due_invitations(*, now: datetime | None = None, limit: int = SEND_BATCH) -> list[int]:
    now = now or timezone.now()
    return list(
        SurveyInvitation.objects.filter(status=InvitationStatus.SCHEDULED, due_at__lte=now)
        .order_by("due_at", "pk")
        .values_list("pk", flat=True)[:limit]
    )


def send_due() -> int:
    """Send every invitation whose time has come; returns how many went out."""
    return sum(send_invitation(pk) == "sent" for pk in due_invitations())


def send_invitation(invitation_id: int) -> str:
    """Send one due invitation: "sent", "cancelled", "failed", "retry" or "skipped".

    The invitation is claimed (scheduled -> sent) by a conditional update before the
    email leaves, so two workers never send it twice; a failure puts it back
    (transient) or marks it failed (permanent), and its link dies with it.
    """
    now = timezone.now()
    invitation = (
        SurveyInvitation.objects.select_related("customer", "conversation", "inbox")
        .filter(pk=invitation_id, status=InvitationStatus.SCHEDULED, due_at__lte=now)
        .first()
    )
    if invitation is None:
        return "skipped"
    reason = _why_not_now(invitation)
    if reason:
        _finish(invitation_id, status=InvitationStatus.CANCELLED, error=reason)
        return "cancelled"
    delivery = delivery_of(invitation)
    rules = SurveySettings.load()
    token, digest = tokens.new_token()
    with transaction.atomic():
        claimed = SurveyInvitation.objects.filter(
            pk=invitation_id, status=InvitationStatus.SCHEDULED
        ).update(
            status=InvitationStatus.SENT,
            sent_at=now,
            expires_at=now + timedelta(days=rules.expiry_days),
            token_hash=digest,
            channel=delivery.channel,
            error="",
        )
        if not claimed:
            return "skipped"
        sync(invitation_id)
    invitation.refresh_from_db()
    result = delivery.send(invitation, SurveyLink(token))
    if result.ok:
        SurveyInvitation.objects.filter(pk=invitation_id).update(
            message_id=result.external_id or ""
        )
        return "sent"
    give_up = invitation.created_at + timedelta(days=rules.expiry_days)
    if result.permanent or now + RETRY_AFTER >= give_up:
        _unsend(invitation_id, digest, status=InvitationStatus.FAILED, error=result.error)
        return "failed"
    _unsend(
        invitation_id,
        digest,
        status=InvitationStatus.SCHEDULED,
        error=result.error,
        due_at=now + RETRY_AFTER,
    )
    return "retry"


def _why_not_now(invitation: SurveyInvitation) -> str:
    """Rules checked again at send time: things change during the delay."""
    if opted_out(invitation.customer_id):
        return "the customer opted out of surveys"
    conversation = invitation.conversation
    if conversation is not None and not _surveyable(conversation):
        return "the conversation is no longer solved"
    if not delivery_of(invitation).can_reach(invitation):
        return "no address to send the survey to"
    return ""


def _finish(invitation_id: int, *, status: str, error: str) -> None:
    with transaction.atomic():
        if SurveyInvitation.objects.filter(
            pk=invitation_id, status=InvitationStatus.SCHEDULED
        ).update(status=status, error=error[:2000]):
            sync(invitation_id)


def _unsend(invitation_id: int, digest: str, *, status: str, error: str, **more: object) -> None:
    """Undo a claim whose email did not leave; the token is forgotten with it."""
    with transaction.atomic():
        changed = SurveyInvitation.objects.filter(
            pk=invitation_id, status=InvitationStatus.SENT, token_hash=digest
        ).update(
            status=status,
            error=error[:2000],
            token_hash=None,
            sent_at=None,
            expires_at=None,
            **more,
        )
        if changed:
            sync(invitation_id)
    log.warning("survey invitation %s not sent: %s", invitation_id, error)


# --- answering -------------------------------------------------------------------------


def find_invitation(token: str) -> SurveyInvitation | None:
    """The invitation a link token belongs to, whatever its state; None for a token
    that is not ours (guessed, tampered with, or one of a failed send)."""
    if not tokens.plausible(token):
        return None
    return SurveyInvitation.objects.filter(token_hash=tokens.digest(token)).first()


def answerable(invitation: SurveyInvitation, *, now: datetime | None = None) -> bool:
    now = now or timezone.now()
    return (
        invitation.status in (InvitationStatus.SENT, InvitationStatus.ANSWERED)
        and invitation.expires_at is not None
        and invitation.expires_at > now
    )


def record_answer(
    *, invitation_id: int, score: int, comment: str = "", finish: bool = False
) -> SurveyResponse:
    """Record or change the score (and the follow-up comment). A non-empty comment or
    `finish` completes the response; after that it is final."""
    now = timezone.now()
    with transaction.atomic():
        invitation = SurveyInvitation.objects.select_for_update().get(pk=invitation_id)
        if not answerable(invitation, now=now):
            raise SurveyUnavailable("This survey is no longer open.")
        if score not in scale(invitation.kind):
            raise ServiceError(f"Choose a score from the scale ({_scale_text(invitation.kind)}).")
        comment = comment.strip()
        response = SurveyResponse.objects.filter(invitation=invitation).first()
        if response is not None and response.completed:
            raise AlreadyAnswered("Your answer is already recorded. Thank you!")
        if response is None:
            response = _first_answer(invitation, score=score, comment=comment, now=now)
        else:
            response.score = score
            response.comment = comment or response.comment
            response.updated_at = now
        response.completed = finish or bool(comment)
        _alert_low_score(invitation, response, now=now)
        response.save()
        sync(invitation.pk)
    return response


def _scale_text(kind: str) -> str:
    steps = scale(kind)
    return f"{steps[0]} to {steps[-1]}"


def _first_answer(
    invitation: SurveyInvitation, *, score: int, comment: str, now: datetime
) -> SurveyResponse:
    tag_ids: list[int] = []
    if invitation.conversation_id is not None:
        tag_ids = sorted(
            ConversationTag.objects.filter(conversation=invitation.conversation_id).values_list(
                "tag_id", flat=True
            )
        )
    invitation.status = InvitationStatus.ANSWERED
    invitation.save(update_fields=["status"])
    return SurveyResponse(
        invitation=invitation,
        kind=invitation.kind,
        score=score,
        comment=comment,
        customer_id=invitation.customer_id,
        conversation_id=invitation.conversation_id,
        inbox_id=invitation.inbox_id,
        team_id=invitation.team_id,
        agent_id=invitation.agent_id,
        # Broken down by the conversation's channel, not by how the survey travelled.
        channel=invitation.inbox.kind if invitation.inbox else invitation.channel,
        tag_ids=tag_ids,
        responded_at=now,
        updated_at=now,
    )


def _alert_low_score(
    invitation: SurveyInvitation, response: SurveyResponse, *, now: datetime
) -> None:
    """Tell the credited agent and their team leads, once per response."""
    if response.low_score_notified_at is not None or not metrics.is_low(
        response.kind, response.score
    ):
        return
    if not SurveySettings.load().low_score_alerts:
        return
    conversation = invitation.conversation
    people = alert_recipients(
        agent_id=invitation.agent_id, team_id=invitation.team_id, conversation=conversation
    )
    if not people:
        return
    top = scale(response.kind)[-1]
    where = f" on #{conversation.number} {conversation.subject}" if conversation else ""
    notify(
        users=people,
        kind=Notification.Kind.LOW_SCORE,
        text=f"Low {response.get_kind_display()} score: {response.score} of {top}{where}",
        conversation=conversation,
    )
    response.low_score_notified_at = now


def alert_recipients(
    *, agent_id: int | None, team_id: int | None, conversation: Conversation | None = None
) -> list[User]:
    """The credited agent and the leads of the conversation's team (of the agent's teams
    when the conversation had none), each only if they may see the conversation: the
    alert quotes its subject."""
    people: list[User] = []
    team_ids: list[int] = [team_id] if team_id is not None else []
    if agent_id is not None:
        agent = User.objects.filter(pk=agent_id, is_active=True).first()
        if agent is not None:
            people.append(agent)
            if not team_ids:
                team_ids = list(agent.teams.values_list("pk", flat=True))
    if team_ids:
        leads = User.objects.filter(
            Q(teammembership__team__in=team_ids, teammembership__is_lead=True)
            | Q(role=Role.LEAD, teams__in=team_ids),
            is_active=True,
        ).distinct()
        people.extend(lead for lead in leads if lead.pk != agent_id)
    if conversation is not None and people:
        allowed = set(
            User.objects.filter(
                viewers_filter(conversation), pk__in=[person.pk for person in people]
            ).values_list("pk", flat=True)
        )
        people = [person for person in people if person.pk in allowed]
    return people


# --- opting out ------------------------------------------------------------------------


def opt_out(*, customer_id: int, source: str) -> bool:
    """No more surveys for this customer; their waiting ones are cancelled. Returns
    False when they had opted out already."""
    with transaction.atomic():
        _, created = SurveyOptOut.objects.get_or_create(
            customer_id=customer_id,
            defaults={"created_at": timezone.now(), "source": source[:40]},
        )
    cancel_scheduled(customer_id=customer_id, reason="the customer opted out of surveys")
    return created
