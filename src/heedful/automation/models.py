from django.db import models


class Macro(models.Model):
    """A canned reply. Placeholders: {{ customer.first_name }}, {{ customer.name }},
    {{ agent.name }}, {{ agent.first_name }}, {{ conversation.number }},
    {{ conversation.subject }}."""

    name = models.CharField(max_length=100, unique=True)
    body = models.TextField()
    team = models.ForeignKey(
        "accounts.Team",
        null=True,
        blank=True,
        on_delete=models.CASCADE,
        help_text="Only this team sees it; empty means everyone.",
    )
    is_active = models.BooleanField(default=True)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name
