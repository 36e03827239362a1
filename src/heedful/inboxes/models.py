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

    class Meta:
        verbose_name = "raw inbound message"
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
