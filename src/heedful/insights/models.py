from django.db import models


class ConversationFact(models.Model):
    """One row per conversation with what the metrics need, kept current by the
    outbox consumer (insights.facts) and written identically by the demo."""

    conversation = models.OneToOneField(
        "conversations.Conversation",
        primary_key=True,
        on_delete=models.CASCADE,
        related_name="fact",
    )
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=20)
    status = models.CharField(max_length=10)
    created_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True)
    first_response_seconds = models.FloatField(null=True)
    solved_at = models.DateTimeField(null=True)
    resolution_seconds = models.FloatField(null=True)
    public_reply_count = models.PositiveIntegerField(default=0)
    customer_message_count = models.PositiveIntegerField(default=0)
    reopen_count = models.PositiveIntegerField(default=0)
    solved_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="fact_created"),
            models.Index(fields=["solved_at"], name="fact_solved"),
        ]

    def __str__(self) -> str:
        return f"facts of {self.conversation_id}"


class DailyRollup(models.Model):
    """Per day (in the workspace time zone) and inbox: the sums trends are drawn from."""

    day = models.DateField()
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.CASCADE, related_name="+")
    created = models.PositiveIntegerField(default=0)
    solved = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    reopened = models.PositiveIntegerField(default=0)
    first_responses = models.PositiveIntegerField(default=0)
    first_response_seconds_sum = models.FloatField(default=0)
    resolution_seconds_sum = models.FloatField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "inbox"], name="rollup_day_inbox_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} {self.inbox_id}"
