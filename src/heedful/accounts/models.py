from typing import Any, ClassVar
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from django.contrib.auth.models import AbstractUser, UserManager
from django.db import models
from django.db.models.functions import Lower


class Role(models.TextChoices):
    ADMIN = "admin", "Admin"
    LEAD = "lead", "Team lead"
    AGENT = "agent", "Agent"


class AgentManager(UserManager["User"]):
    """Agents sign in with their email address; the username mirrors it."""

    def create_user(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> "User":
        email = self.normalize_email(email).lower()
        extra.setdefault("username", email)
        return super().create_user(extra.pop("username"), email, password, **extra)

    def create_superuser(  # type: ignore[override]
        self, email: str, password: str | None = None, **extra: Any
    ) -> "User":
        extra.setdefault("role", Role.ADMIN)
        email = self.normalize_email(email).lower()
        extra.setdefault("username", email)
        return super().create_superuser(extra.pop("username"), email, password, **extra)


class User(AbstractUser):
    """An agent. Agents are deactivated, never deleted, so history keeps its authors."""

    email = models.EmailField("email address", unique=True)
    name = models.CharField(max_length=150, blank=True)
    role = models.CharField(max_length=10, choices=Role.choices, default=Role.AGENT)
    time_zone = models.CharField(max_length=64, default="UTC")
    signature = models.TextField(blank=True)

    USERNAME_FIELD = "email"
    REQUIRED_FIELDS: ClassVar[list[str]] = []
    objects: ClassVar[AgentManager] = AgentManager()

    class Meta:
        constraints = [
            models.UniqueConstraint(Lower("email"), name="accounts_user_email_ci_unique"),
        ]

    def __str__(self) -> str:
        return self.name or self.email

    def save(self, *args: Any, **kwargs: Any) -> None:
        # Admins manage configuration in the Django admin; nobody else may.
        self.email = (self.email or "").strip().lower()
        if not self.username:
            self.username = self.email
        self.is_staff = self.role == Role.ADMIN or self.is_superuser
        super().save(*args, **kwargs)

    def delete(self, *args: Any, **kwargs: Any) -> Any:
        raise models.ProtectedError("Agents are deactivated, never deleted.", {self})

    @property
    def display_name(self) -> str:
        return self.name or self.email.split("@")[0]

    @property
    def first_name_or_name(self) -> str:
        return (self.name or self.email).split()[0]

    @property
    def zone(self) -> ZoneInfo:
        """The agent's time zone; UTC for a name this system does not know."""
        try:
            return ZoneInfo(self.time_zone or "UTC")
        except (ZoneInfoNotFoundError, ValueError):
            return ZoneInfo("UTC")

    @property
    def is_admin(self) -> bool:
        return self.is_active and (self.role == Role.ADMIN or self.is_superuser)

    @property
    def is_lead(self) -> bool:
        return self.is_active and self.role == Role.LEAD


class Team(models.Model):
    name = models.CharField(max_length=100, unique=True)
    members: "models.ManyToManyField[User, TeamMembership]" = models.ManyToManyField(
        User, through="TeamMembership", related_name="teams", blank=True
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class TeamMembership(models.Model):
    team = models.ForeignKey(Team, on_delete=models.CASCADE)
    user = models.ForeignKey(User, on_delete=models.CASCADE)
    is_lead = models.BooleanField(default=False, help_text="Leads manage and report on this team.")

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["team", "user"], name="accounts_team_member_unique")
        ]

    def __str__(self) -> str:
        return f"{self.user} in {self.team}"


class Notification(models.Model):
    """Something an agent should look at: an @mention, a conversation handed to them."""

    class Kind(models.TextChoices):
        MENTION = "mention", "Mentioned in a note"
        ASSIGNED = "assigned", "Conversation assigned"
        LOW_SCORE = "low_score", "Low survey score"

    user = models.ForeignKey(User, on_delete=models.CASCADE, related_name="notifications")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    conversation = models.ForeignKey(
        "conversations.Conversation", null=True, on_delete=models.CASCADE, related_name="+"
    )
    actor = models.ForeignKey(User, null=True, on_delete=models.SET_NULL, related_name="+")
    text = models.CharField(max_length=200)
    created_at = models.DateTimeField()
    read_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        indexes = [
            models.Index(fields=["user", "read_at", "-created_at"], name="notification_inbox"),
        ]

    def __str__(self) -> str:
        return f"{self.kind} for {self.user_id}"
