"""CSAT, CES and NPS: what is asked, to whom, and what they answered.

An invitation is a timer row (`due_at`) until it is sent, then the thing a
survey link points at. The link's token is never stored, only its SHA-256, so
a copy of the database cannot answer surveys. A response is denormalized with
what the metrics break down by (inbox, team, credited agent, channel, tags), so
the rollups never join back to conversations.
"""

from typing import Any

from django.db import models
from django.db.models import Q


class SurveyKind(models.TextChoices):
    CSAT = "csat", "CSAT"
    CES = "ces", "CES"
    NPS = "nps", "NPS"


class SurveyQuestion(models.Model):
    """The wording of one survey kind, per language. Defaults live in surveys.defaults."""

    kind = models.CharField(max_length=4, choices=SurveyKind.choices)
    language = models.CharField(max_length=16, default="en")
    question = models.CharField(max_length=300)
    low_label = models.CharField(max_length=60, help_text="Label of the lowest score.")
    high_label = models.CharField(max_length=60, help_text="Label of the highest score.")
    follow_up = models.CharField(max_length=300, default="What is the main reason for your score?")
    thank_you = models.CharField(max_length=300, default="Thank you for your feedback.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "language"], name="survey_question_unique")
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} ({self.language})"


class SurveySettings(models.Model):
    """Workspace-wide survey rules: one row (pk=1), created on first read."""

    fatigue_days = models.PositiveIntegerField(
        default=14, help_text="At most one survey per customer in this many days."
    )
    sample_percent = models.PositiveSmallIntegerField(
        default=100, help_text="Share of eligible conversations or customers surveyed (0-100)."
    )
    expiry_days = models.PositiveIntegerField(default=14, help_text="Survey links expire.")
    nps_enabled = models.BooleanField(default=False)
    nps_every_days = models.PositiveIntegerField(
        default=90, help_text="How often the relationship (NPS) survey runs."
    )
    nps_recent_contact_days = models.PositiveIntegerField(
        default=30, help_text="NPS goes to customers with a conversation in this many days."
    )
    nps_last_run_at = models.DateTimeField(null=True, blank=True)
    low_score_alerts = models.BooleanField(
        default=True, help_text="Tell the assignee and their team leads about a low score."
    )

    class Meta:
        verbose_name_plural = "survey settings"

    def __str__(self) -> str:
        return "Survey settings"

    @classmethod
    def load(cls) -> "SurveySettings":
        """The one row, created with the defaults on first read."""
        row, _ = cls.objects.get_or_create(pk=1)
        return row


class InboxSurveyPolicy(models.Model):
    """Which post-resolution surveys an inbox sends, and when."""

    inbox = models.OneToOneField(
        "inboxes.Inbox", on_delete=models.CASCADE, related_name="survey_policy"
    )
    send_csat = models.BooleanField(default=True)
    send_ces = models.BooleanField(default=False)
    delay_minutes = models.PositiveIntegerField(
        default=60, help_text="Wait this long after the conversation is solved."
    )
    language = models.CharField(max_length=16, default="en")

    class Meta:
        verbose_name_plural = "inbox survey policies"

    def __str__(self) -> str:
        return f"Surveys for {self.inbox}"


class InvitationStatus(models.TextChoices):
    SCHEDULED = "scheduled", "Scheduled"
    SENT = "sent", "Sent"
    ANSWERED = "answered", "Answered"
    CANCELLED = "cancelled", "Cancelled"
    FAILED = "failed", "Failed"


# The statuses of an invitation still waiting to be sent or answered.
OPEN_INVITATION = (InvitationStatus.SCHEDULED, InvitationStatus.SENT)


class SurveyInvitation(models.Model):
    kind = models.CharField(max_length=4, choices=SurveyKind.choices)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="survey_invitations"
    )
    # Null for the relationship (NPS) survey, which is about no one conversation.
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="survey_invitations",
    )
    inbox = models.ForeignKey(
        "inboxes.Inbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # The assignee when the conversation was solved: the agent who gets the credit.
    agent = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=20, blank=True, help_text="How it is delivered.")
    language = models.CharField(max_length=16, default="en")
    status = models.CharField(
        max_length=10, choices=InvitationStatus.choices, default=InvitationStatus.SCHEDULED
    )
    token_hash = models.CharField(max_length=64, unique=True, null=True, blank=True)
    due_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    expires_at = models.DateTimeField(null=True, blank=True)
    error = models.TextField(blank=True)
    # The Message-ID of the survey email: recorded here, never as a conversation Message,
    # so a survey neither threads into nor opens a conversation.
    message_id = models.CharField(max_length=255, blank=True, default="")
    created_at = models.DateTimeField()
    # What this invitation and its response last added to the daily rollups, so a
    # change (sent, answered, score changed) moves them by the difference. Written
    # only by insights.rollups.
    rollup_state = models.JSONField(default=dict, blank=True, editable=False)

    class Meta:
        constraints = [
            # One open invitation per conversation and kind: a second solve does not
            # send a second survey while the first is unanswered.
            models.UniqueConstraint(
                fields=["conversation", "kind"],
                condition=Q(status__in=["scheduled", "sent"]),
                name="survey_one_open_invitation",
            )
        ]
        indexes = [
            models.Index(fields=["status", "due_at"], name="survey_invitation_due"),
            models.Index(fields=["customer", "created_at"], name="survey_invitation_customer"),
            models.Index(fields=["sent_at"], name="survey_invitation_sent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} invitation {self.pk}"


class SurveyResponseQuerySet(models.QuerySet["SurveyResponse"]):
    def visible_to(self, user: Any) -> "SurveyResponseQuerySet":
        """Answers about conversations `user` may see (conversations.access), and
        relationship answers, which are about no conversation."""
        from heedful.conversations.access import visible_filter
        from heedful.conversations.models import Conversation

        visible = Conversation.objects.filter(visible_filter(user)).values("pk")
        return self.filter(Q(conversation__isnull=True) | Q(conversation__in=visible))

    def credited_to(self, agent: Any) -> "SurveyResponseQuerySet":
        """The agent's record: answers about conversations they had when they were solved."""
        return self.filter(agent=agent)


class SurveyResponse(models.Model):
    invitation = models.OneToOneField(
        SurveyInvitation, on_delete=models.CASCADE, related_name="response"
    )
    kind = models.CharField(max_length=4, choices=SurveyKind.choices)
    score = models.PositiveSmallIntegerField()
    comment = models.TextField(blank=True)
    # The score may change until the follow-up is submitted; then it is final.
    completed = models.BooleanField(default=False)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.CASCADE, related_name="survey_responses"
    )
    conversation = models.ForeignKey(
        "conversations.Conversation",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        related_name="survey_responses",
    )
    inbox = models.ForeignKey(
        "inboxes.Inbox", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    team = models.ForeignKey(
        "accounts.Team", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    agent = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    channel = models.CharField(max_length=20, blank=True)
    # The conversation's tag ids when the response came in, for breakdowns by tag.
    tag_ids = models.JSONField(default=list, blank=True)
    responded_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    # When the credited agent and their leads were told about a low score: once per
    # response, however often the customer changes it afterwards.
    low_score_notified_at = models.DateTimeField(null=True, blank=True)

    objects = SurveyResponseQuerySet.as_manager()

    class Meta:
        indexes = [
            models.Index(fields=["responded_at"], name="survey_response_time"),
            models.Index(fields=["kind", "score"], name="survey_response_score"),
            models.Index(fields=["agent", "responded_at"], name="survey_response_agent"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} {self.score}"


class SurveyOptOut(models.Model):
    """A customer who asked for no more surveys; every later survey honours it."""

    customer = models.OneToOneField(
        "customers.Customer", on_delete=models.CASCADE, related_name="survey_opt_out"
    )
    created_at = models.DateTimeField()
    source = models.CharField(max_length=40, blank=True, help_text="link, list-unsubscribe...")

    def __str__(self) -> str:
        return f"opt-out {self.customer_id}"
