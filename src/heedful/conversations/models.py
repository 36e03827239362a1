import uuid
from typing import TYPE_CHECKING, Any

from django.db import models
from django.db.models import Q

if TYPE_CHECKING:
    from heedful.accounts.models import User


class Status(models.TextChoices):
    NEW = "new", "New"
    OPEN = "open", "Open"
    PENDING = "pending", "Pending"
    ON_HOLD = "on_hold", "On hold"
    SOLVED = "solved", "Solved"
    CLOSED = "closed", "Closed"


# Statuses in which the conversation still needs the team.
UNSOLVED = (Status.NEW, Status.OPEN, Status.PENDING, Status.ON_HOLD)


class Queue(models.IntegerChoices):
    """Statuses grouped the way the workspace lists them.

    Stored as a generated column so every list is an equality on one indexed
    column followed by its sort key: `status IN ('new', 'open')` cannot walk an
    index in `last_message_at` order, `queue = 0` can.
    """

    OPEN = 0, "Open"  # new or open: needs the team
    PENDING = 1, "Pending"  # waiting on the customer
    ON_HOLD = 2, "On hold"  # waiting on a third party
    SOLVED = 3, "Solved"  # solved or closed


class Priority(models.IntegerChoices):
    LOW = 0, "Low"
    NORMAL = 1, "Normal"
    HIGH = 2, "High"
    URGENT = 3, "Urgent"


class Tag(models.Model):
    name = models.CharField(max_length=50, unique=True, help_text="Lower case, as services use it.")
    color = models.CharField(max_length=7, default="#64748b")

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        self.name = self.name.strip().lower()


class ConversationQuerySet(models.QuerySet["Conversation"]):
    def visible_to(self, user: "User") -> "ConversationQuerySet":
        """The one access rule for conversations (see conversations.access)."""
        from heedful.conversations.access import visible_filter

        return self.filter(visible_filter(user))

    def unsolved(self) -> "ConversationQuerySet":
        return self.filter(status__in=UNSOLVED)

    def waiting(self) -> "ConversationQuerySet":
        """Waiting on the team: the customer spoke last."""
        return self.filter(status__in=UNSOLVED, waiting_since__isnull=False)


class Conversation(models.Model):
    """The ticket: one thread with one customer, on one or more channels."""

    number = models.BigIntegerField(unique=True, help_text="The reference customers see.")
    subject = models.CharField(max_length=255, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.NEW)
    priority = models.SmallIntegerField(choices=Priority.choices, default=Priority.NORMAL)
    customer = models.ForeignKey(
        "customers.Customer", on_delete=models.PROTECT, related_name="conversations"
    )
    inbox = models.ForeignKey(
        "inboxes.Inbox", on_delete=models.PROTECT, related_name="conversations"
    )
    assignee = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="assigned"
    )
    # PROTECT: a team's conversations must be moved before it goes, or deleting a
    # team would drop them into the shared queue every agent sees.
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="conversations",
    )
    tags: "models.ManyToManyField[Tag, ConversationTag]" = models.ManyToManyField(
        Tag, through="ConversationTag", blank=True, related_name="+"
    )
    is_spam = models.BooleanField(default=False)
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    created_at = models.DateTimeField()
    updated_at = models.DateTimeField()
    last_message_at = models.DateTimeField()
    last_message_preview = models.CharField(max_length=200, blank=True)
    first_response_at = models.DateTimeField(null=True, blank=True)
    solved_at = models.DateTimeField(null=True, blank=True)
    # Set while the customer waits on us (they spoke last); cleared by a reply.
    waiting_since = models.DateTimeField(null=True, blank=True)
    reopen_count = models.PositiveIntegerField(default=0)
    message_count = models.PositiveIntegerField(default=0)
    queue = models.GeneratedField(
        expression=models.Case(
            models.When(status__in=[Status.NEW, Status.OPEN], then=models.Value(Queue.OPEN)),
            models.When(status=Status.PENDING, then=models.Value(Queue.PENDING)),
            models.When(status=Status.ON_HOLD, then=models.Value(Queue.ON_HOLD)),
            default=models.Value(Queue.SOLVED),
        ),
        output_field=models.SmallIntegerField(),
        db_persist=True,
    )

    objects = ConversationQuerySet.as_manager()

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(status__in=Status.values), name="conv_status_valid"),
            models.CheckConstraint(
                condition=Q(priority__gte=0, priority__lte=3), name="conv_priority_valid"
            ),
            models.CheckConstraint(
                condition=~Q(merged_into=models.F("id")), name="conv_not_merged_into_self"
            ),
        ]
        # One index per list the product shows: an equality prefix, then the
        # list's sort key, so keyset pages seek instead of scanning.
        indexes = [
            models.Index(fields=["queue", "-last_message_at", "-id"], name="conv_queue_recent"),
            models.Index(fields=["queue", "waiting_since", "id"], name="conv_queue_waiting"),
            models.Index(
                fields=["queue", "-priority", "-last_message_at", "-id"],
                name="conv_queue_priority",
            ),
            models.Index(
                fields=["assignee", "queue", "-last_message_at", "-id"],
                name="conv_assignee_queue",
            ),
            # "My open, oldest waiting first": without it that sort walks the whole queue.
            models.Index(
                fields=["assignee", "queue", "waiting_since", "id"],
                name="conv_assignee_waiting",
            ),
            models.Index(
                fields=["team", "queue", "-last_message_at", "-id"], name="conv_team_queue"
            ),
            models.Index(
                fields=["inbox", "queue", "-last_message_at", "-id"], name="conv_inbox_queue"
            ),
            models.Index(fields=["customer", "-last_message_at"], name="conv_customer_recent"),
            models.Index(fields=["solved_at"], name="conv_solved_at"),
            models.Index(fields=["created_at"], name="conv_created_at"),
        ]

    def __str__(self) -> str:
        return f"#{self.number} {self.subject}"

    @property
    def is_unsolved(self) -> bool:
        return self.status in UNSOLVED


class ConversationTag(models.Model):
    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE)
    tag = models.ForeignKey(Tag, on_delete=models.CASCADE)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["conversation", "tag"], name="conv_tag_unique"),
        ]
        indexes = [models.Index(fields=["tag", "conversation"], name="conv_tag_by_tag")]

    def __str__(self) -> str:
        return f"{self.tag_id} on {self.conversation_id}"


class Direction(models.TextChoices):
    INBOUND = "in", "Inbound"
    OUTBOUND = "out", "Outbound"


class AuthorType(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    AGENT = "agent", "Agent"
    SYSTEM = "system", "System"


class DeliveryStatus(models.TextChoices):
    NONE = "", "Not delivered (inbound or note)"
    PENDING = "pending", "Pending"
    SENDING = "sending", "Sending"
    SENT = "sent", "Sent"
    FAILED = "failed", "Failed"
    CANCELLED = "cancelled", "Withdrawn by the agent (undo)"


class Message(models.Model):
    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="messages"
    )
    inbox = models.ForeignKey("inboxes.Inbox", on_delete=models.PROTECT, related_name="messages")
    direction = models.CharField(max_length=3, choices=Direction.choices)
    is_note = models.BooleanField(default=False)
    author_type = models.CharField(max_length=10, choices=AuthorType.choices)
    author_agent = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    sender_identity = models.ForeignKey(
        "customers.Identity",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="messages",
    )
    # For outbound: which identity we answered to (the customer may have several).
    recipient_identity = models.ForeignKey(
        "customers.Identity", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    body_text = models.TextField(blank=True)
    body_html = models.TextField(blank=True, help_text="Sanitized with nh3 before it is stored.")
    # Quoted history and signature split off an inbound email: folded away in the
    # timeline, never thrown away. (The email fields have database defaults too, so
    # bulk loaders that predate them keep working.)
    quoted_text = models.TextField(blank=True, default="", db_default="")
    # What the channel had to tell the agent about this message: attachments over
    # the limits, a part that could not be decoded.
    notice = models.TextField(blank=True, default="", db_default="")
    # Why the receiving server did not vouch for the sender (SPF/DKIM/DMARC failed);
    # empty when it did or could not say.
    sender_unverified = models.CharField(max_length=255, blank=True, default="", db_default="")
    # Inbound only: why this message came from a machine (Auto-Submitted, a bulk
    # Precedence, a list, a null sender). Such messages never get an automatic reply.
    auto_submitted = models.CharField(max_length=255, blank=True, default="", db_default="")
    # The provider's id (an email Message-ID, a webhook id); NULL when absent so
    # notes and replies without one never collide on the unique constraint.
    external_id = models.CharField(max_length=255, null=True, blank=True)
    is_automatic = models.BooleanField(
        default=False, help_text="Auto-acknowledgements; they never count as a first response."
    )
    delivery_status = models.CharField(
        max_length=10, choices=DeliveryStatus.choices, default=DeliveryStatus.NONE, blank=True
    )
    delivery_attempts = models.PositiveSmallIntegerField(default=0)
    lease_until = models.DateTimeField(null=True, blank=True)
    # The undo window: a reply is not handed to its channel before this moment.
    send_after = models.DateTimeField(null=True, blank=True)
    delivery_error = models.TextField(blank=True)
    sent_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "external_id"],
                condition=Q(external_id__isnull=False),
                name="msg_external_id_unique",
            ),
            models.CheckConstraint(
                condition=Q(direction__in=Direction.values), name="msg_direction_valid"
            ),
            models.CheckConstraint(
                condition=~Q(is_note=True, direction=Direction.INBOUND), name="msg_note_not_inbound"
            ),
            models.CheckConstraint(
                condition=Q(delivery_status="") | Q(direction=Direction.OUTBOUND, is_note=False),
                name="msg_only_replies_delivered",
            ),
        ]
        indexes = [
            models.Index(fields=["conversation", "created_at", "id"], name="msg_timeline"),
            models.Index(
                fields=["delivery_status", "lease_until"],
                condition=Q(delivery_status__in=["pending", "sending"]),
                name="msg_delivery_sweep",
            ),
            models.Index(fields=["sender_identity", "-created_at"], name="msg_by_identity"),
            # Email threading looks up Message-IDs across inboxes: a reply to a web-form
            # answer arrives in the email inbox.
            models.Index(
                fields=["external_id"],
                condition=Q(external_id__isnull=False),
                name="msg_external_id",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_direction_display()} message {self.pk} on #{self.conversation_id}"


class ParticipantRole(models.TextChoices):
    CUSTOMER = "customer", "Customer"
    CC = "cc", "CC"
    AGENT = "agent", "Agent"
    FOLLOWER = "follower", "Follower"


class ConversationParticipant(models.Model):
    """Who takes part: makes 'is this sender in the thread?' a plain lookup."""

    conversation = models.ForeignKey(
        Conversation, on_delete=models.CASCADE, related_name="participants"
    )
    identity = models.ForeignKey(
        "customers.Identity", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    agent = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    role = models.CharField(max_length=10, choices=ParticipantRole.choices)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.CheckConstraint(
                condition=(
                    Q(identity__isnull=False, agent__isnull=True)
                    | Q(identity__isnull=True, agent__isnull=False)
                ),
                name="participant_identity_xor_agent",
            ),
            models.UniqueConstraint(
                fields=["conversation", "identity"],
                condition=Q(identity__isnull=False),
                name="participant_identity_unique",
            ),
            models.UniqueConstraint(
                fields=["conversation", "agent"],
                condition=Q(agent__isnull=False),
                name="participant_agent_unique",
            ),
        ]
        indexes = [
            models.Index(fields=["identity", "conversation"], name="participant_by_identity")
        ]

    def __str__(self) -> str:
        who = f"identity {self.identity_id}" if self.identity_id else f"agent {self.agent_id}"
        return f"{who} in {self.conversation_id}"


def attachment_path(instance: "Attachment", filename: str) -> str:
    # The stored name is generated: the customer's file name never reaches the disk.
    return f"attachments/{uuid.uuid4().hex[:2]}/{uuid.uuid4().hex}"


class Attachment(models.Model):
    message = models.ForeignKey(Message, on_delete=models.CASCADE, related_name="attachments")
    file = models.FileField(upload_to=attachment_path, max_length=255)
    filename = models.CharField(max_length=255, help_text="The name the sender gave it.")
    content_type = models.CharField(max_length=100, default="application/octet-stream")
    size = models.PositiveBigIntegerField()
    sha256 = models.CharField(max_length=64)
    # An email's inline image is referenced from its HTML as cid:<content_id>.
    content_id = models.CharField(max_length=255, blank=True, default="", db_default="")
    inline = models.BooleanField(default=False, db_default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return self.filename


class EventType(models.TextChoices):
    CREATED = "created", "Conversation created"
    MESSAGE_RECEIVED = "message_received", "Message received"
    REPLY_SENT = "reply_sent", "Reply sent"
    REPLY_UNDONE = "reply_undone", "Reply withdrawn"
    NOTE_ADDED = "note_added", "Note added"
    ASSIGNED = "assigned", "Assigned"
    STATUS_CHANGED = "status_changed", "Status changed"
    REOPENED = "reopened", "Reopened"
    PRIORITY_CHANGED = "priority_changed", "Priority changed"
    TAGS_CHANGED = "tags_changed", "Tags changed"
    MERGED_INTO = "merged_into", "Merged into another conversation"
    MERGED_FROM = "merged_from", "Another conversation merged in"
    CUSTOMER_MERGED = "customer_merged", "Customer merged"
    SPAM_MARKED = "spam_marked", "Spam status changed"
    DELIVERY_FAILED = "delivery_failed", "Delivery failed"
    DELIVERY_RETRIED = "delivery_retried", "Delivery retried"
    DELIVERED = "delivered", "Delivered"


class ConversationEvent(models.Model):
    """History and outbox in one: every change writes one row in its transaction."""

    conversation = models.ForeignKey(Conversation, on_delete=models.CASCADE, related_name="events")
    type = models.CharField(max_length=24, choices=EventType.choices)
    actor_type = models.CharField(max_length=10, choices=AuthorType.choices)
    actor = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    data = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["conversation", "id"], name="event_timeline"),
            models.Index(fields=["created_at"], name="event_created_at"),
        ]

    def __str__(self) -> str:
        return f"{self.type} on {self.conversation_id}"

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.pk,
            "type": self.type,
            "data": self.data,
            "at": self.created_at.isoformat(),
        }
