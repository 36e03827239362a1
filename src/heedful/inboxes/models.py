from typing import TYPE_CHECKING

from django.core.exceptions import ValidationError
from django.db import models

if TYPE_CHECKING:
    from heedful.inboxes.registry import ChannelAdapter


def validate_kind(value: str) -> None:
    from heedful.inboxes.registry import kinds

    if value not in kinds():
        raise ValidationError(
            f"Unknown channel kind {value!r}; known: {', '.join(sorted(kinds()))}."
        )


class Inbox(models.Model):
    """One configured channel: a support address, a web form, a phone number..."""

    kind = models.CharField(max_length=20, validators=[validate_kind])
    name = models.CharField(max_length=100, unique=True)
    address = models.CharField(
        max_length=255, blank=True, help_text="What customers write to (email address, number...)."
    )
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inboxes",
        help_text="New conversations land with this team.",
    )
    settings = models.JSONField(default=dict, blank=True, help_text="Per-kind settings.")
    business_hours = models.ForeignKey(
        "service_levels.BusinessHours",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="inboxes",
        help_text="Response and resolution times in business hours use this schedule.",
    )
    # Passwords and tokens (mailbox, SMTP, webhook), encrypted with HEEDFUL_SECRETS_KEY
    # (inboxes.secrets), never with SECRET_KEY. Read and write through secrets.py.
    secrets_encrypted = models.TextField(blank=True, editable=False)
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "inboxes"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    @property
    def adapter(self) -> "ChannelAdapter":
        from heedful.inboxes.registry import get_adapter

        return get_adapter(self.kind)


class RawInbound(models.Model):
    """Exactly what a channel handed us, stored before any processing.

    If processing fails the row is quarantined with the reason and can be
    retried after a fix; it never blocks the messages behind it.
    """

    class Status(models.TextChoices):
        RECEIVED = "received", "Received"
        PROCESSED = "processed", "Processed"
        DUPLICATE = "duplicate", "Duplicate"
        QUARANTINED = "quarantined", "Quarantined"

    inbox = models.ForeignKey(Inbox, on_delete=models.PROTECT, related_name="raw_inbound")
    received_at = models.DateTimeField(auto_now_add=True)
    content_type = models.CharField(max_length=100)
    payload = models.BinaryField()
    sha256 = models.CharField(max_length=64)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.RECEIVED)
    reason = models.TextField(blank=True)
    attempts = models.PositiveIntegerField(default=0)
    message = models.ForeignKey(
        "conversations.Message", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Where the channel keeps it ("imap:<uidvalidity>:<uid>"), so fetching the same
    # message again after a crash stores nothing new.
    source_key = models.CharField(max_length=200, null=True, blank=True)

    class Meta:
        verbose_name = "raw inbound message"
        constraints = [
            models.UniqueConstraint(
                fields=["inbox", "source_key"],
                condition=models.Q(source_key__isnull=False),
                name="raw_source_key_unique",
            )
        ]
        indexes = [
            models.Index(
                fields=["status", "received_at"],
                name="inboxes_raw_quarantine_idx",
                condition=models.Q(status__in=["received", "quarantined"]),
            ),
            models.Index(fields=["sha256"]),
        ]

    def __str__(self) -> str:
        return f"{self.inbox} {self.received_at:%Y-%m-%d %H:%M} {self.status}"


class MailboxState(models.Model):
    """Where fetching an inbox's mailbox stands, and how healthy it is."""

    inbox = models.OneToOneField(
        Inbox, on_delete=models.CASCADE, primary_key=True, related_name="mailbox_state"
    )
    uidvalidity = models.BigIntegerField(null=True, blank=True)
    # Highest UID stored here (committed) under `uidvalidity`.
    last_uid = models.BigIntegerField(default=0)
    last_fetch_at = models.DateTimeField(null=True, blank=True)
    last_success_at = models.DateTimeField(null=True, blank=True)
    last_error = models.TextField(blank=True)
    last_error_at = models.DateTimeField(null=True, blank=True)
    fetched_count = models.BigIntegerField(default=0)

    def __str__(self) -> str:
        return f"{self.inbox} mailbox"


class EmailSuppression(models.Model):
    """An address that hard-bounced: after HEEDFUL_BOUNCE_SUPPRESS_AFTER bounces we stop
    sending to it until someone lifts the suppression."""

    address = models.CharField(max_length=254, unique=True)
    hard_bounces = models.PositiveIntegerField(default=0)
    last_bounce_at = models.DateTimeField(null=True, blank=True)
    last_reason = models.TextField(blank=True)
    suppressed_at = models.DateTimeField(null=True, blank=True)
    lifted_at = models.DateTimeField(null=True, blank=True)
    lifted_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = "suppressed email address"

    def __str__(self) -> str:
        return self.address


class AutoReply(models.Model):
    """When an inbox last sent an automatic acknowledgment to an address: at most one
    per sender per window (RFC 3834), claimed with one conditional UPDATE."""

    inbox = models.ForeignKey(Inbox, on_delete=models.CASCADE, related_name="+")
    address = models.CharField(max_length=254)
    sent_at = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["inbox", "address"], name="autoreply_once_per_sender")
        ]

    def __str__(self) -> str:
        return f"{self.inbox} -> {self.address}"
