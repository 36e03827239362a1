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
    customer_id = models.BigIntegerField(null=True)
    team_id = models.BigIntegerField(null=True)
    # Tag ids, so a change of tags can take the old contribution back out of the rollups.
    tag_ids = models.JSONField(default=list)
    created_at = models.DateTimeField()
    first_response_at = models.DateTimeField(null=True)
    first_response_seconds = models.FloatField(null=True)
    first_response_business_seconds = models.FloatField(null=True)
    solved_at = models.DateTimeField(null=True)
    resolution_seconds = models.FloatField(null=True)
    resolution_business_seconds = models.FloatField(null=True)
    public_reply_count = models.PositiveIntegerField(default=0)
    customer_message_count = models.PositiveIntegerField(default=0)
    reopen_count = models.PositiveIntegerField(default=0)
    # First contact resolution: None while it cannot be told yet (unsolved, or
    # inside the reopen / follow-up windows), then True or False. See insights.metrics.
    first_contact_resolved = models.BooleanField(null=True)
    solved_by = models.ForeignKey(
        "accounts.User", null=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        indexes = [
            models.Index(fields=["created_at"], name="fact_created"),
            models.Index(fields=["solved_at"], name="fact_solved"),
            models.Index(fields=["customer_id", "created_at"], name="fact_customer"),
        ]

    def __str__(self) -> str:
        return f"facts of {self.conversation_id}"


class RollupSums(models.Model):
    """The sums one day's trends are drawn from. Conversation sums count on the day
    the conversation was created (volume, first response) or solved (resolution,
    FCR); survey sums on the day of the response, or of the send for response rates.
    Durations also keep a histogram (insights.metrics.bucket_of) for percentiles."""

    created = models.IntegerField(default=0)
    replies = models.IntegerField(default=0)
    reopened = models.IntegerField(default=0)
    first_responses = models.IntegerField(default=0)
    first_response_seconds_sum = models.FloatField(default=0)
    first_response_business_sum = models.FloatField(default=0)
    first_response_hist = models.JSONField(default=dict)
    first_response_business_hist = models.JSONField(default=dict)
    solved = models.IntegerField(default=0)
    solved_replies = models.IntegerField(default=0)
    resolution_seconds_sum = models.FloatField(default=0)
    resolution_business_sum = models.FloatField(default=0)
    resolution_hist = models.JSONField(default=dict)
    resolution_business_hist = models.JSONField(default=dict)
    fcr_known = models.IntegerField(default=0)
    fcr_yes = models.IntegerField(default=0)
    csat_responses = models.IntegerField(default=0)
    csat_positive = models.IntegerField(default=0)
    csat_sum = models.IntegerField(default=0)
    ces_responses = models.IntegerField(default=0)
    ces_sum = models.IntegerField(default=0)
    nps_responses = models.IntegerField(default=0)
    nps_promoters = models.IntegerField(default=0)
    nps_detractors = models.IntegerField(default=0)
    csat_sent = models.IntegerField(default=0)
    csat_answered = models.IntegerField(default=0)
    ces_sent = models.IntegerField(default=0)
    ces_answered = models.IntegerField(default=0)
    nps_sent = models.IntegerField(default=0)
    nps_answered = models.IntegerField(default=0)

    class Meta:
        abstract = True


class DailyRollup(RollupSums):
    """Per local day (workspace time zone), inbox, team and agent. Ids are plain
    integers with 0 for "none" (a relationship survey has no inbox, a conversation
    no team), so the unique key holds on every database without NULL rules."""

    day = models.DateField()
    inbox_id = models.BigIntegerField(default=0)
    team_id = models.BigIntegerField(default=0)
    agent_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["day", "inbox_id", "team_id", "agent_id"], name="rollup_day_key_unique"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.day} i{self.inbox_id} t{self.team_id} a{self.agent_id}"


class TagRollup(RollupSums):
    """Per local day and tag: a conversation with three tags counts once under each."""

    day = models.DateField()
    tag_id = models.BigIntegerField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["day", "tag_id"], name="tag_rollup_day_tag_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.day} tag {self.tag_id}"


class Annotation(models.Model):
    """A dated event that explains a change ("Self-service portal launched"); shown
    on every chart and named by the change detector when a shift starts near it."""

    day = models.DateField()
    title = models.CharField(max_length=120)
    description = models.TextField(blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-day", "-pk"]

    def __str__(self) -> str:
        return f"{self.day} {self.title}"


class Insight(models.Model):
    """One significant change found by the daily detector (insights.changes)."""

    detected_on = models.DateField()
    metric = models.CharField(max_length=30)
    # "all", or a dimension and the id of its value: ("tag", 12), ("inbox", 3)...
    dimension = models.CharField(max_length=20, default="all")
    segment_id = models.BigIntegerField(default=0)
    segment_label = models.CharField(max_length=120, blank=True)
    since = models.DateField(help_text="First day of the shifted period.")
    before_value = models.FloatField()
    after_value = models.FloatField()
    change_percent = models.FloatField()
    p_value = models.FloatField()
    q_value = models.FloatField(help_text="p-value adjusted for the false-discovery rate.")
    sentence = models.TextField()
    drivers = models.JSONField(default=list, blank=True)
    comments = models.JSONField(default=list, blank=True)
    annotation = models.ForeignKey(
        Annotation, null=True, blank=True, on_delete=models.SET_NULL, related_name="insights"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-detected_on", "q_value"]
        constraints = [
            models.UniqueConstraint(
                fields=["detected_on", "metric", "dimension", "segment_id"],
                name="insight_unique_per_day",
            )
        ]
        indexes = [models.Index(fields=["-detected_on"], name="insight_recent")]

    def __str__(self) -> str:
        return self.sentence[:80]
