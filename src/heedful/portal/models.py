"""Customer sign-in for the portal and the help center's look.

Customers are not agent accounts: a customer proves they own an email address by a
one-time link or code sent to it, and the portal keeps the customer id in the
session (`portal.auth`). Tokens are stored only as SHA-256 digests.
"""

from django.db import models


class PortalSignIn(models.Model):
    """One emailed sign-in: a link token and a short code, single-use, expiring."""

    identity = models.ForeignKey(
        "customers.Identity", on_delete=models.CASCADE, related_name="portal_sign_ins"
    )
    token_hash = models.CharField(max_length=64, unique=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField()
    expires_at = models.DateTimeField()
    used_at = models.DateTimeField(null=True, blank=True)
    # Wrong codes typed against this sign-in; past a few it is dead.
    failed_attempts = models.PositiveSmallIntegerField(default=0)

    class Meta:
        indexes = [models.Index(fields=["identity", "-created_at"], name="portal_signin_recent")]

    def __str__(self) -> str:
        return f"Portal sign-in {self.pk}"


class HelpCenterTheme(models.Model):
    """The help center's and portal's name, logo and colours (one row, set in /admin/)."""

    name = models.CharField(max_length=100, default="Help center")
    tagline = models.CharField(max_length=200, blank=True, default="How can we help?")
    logo = models.FileField(
        upload_to="theme/", blank=True, help_text="A PNG, JPEG or WebP shown in the header."
    )
    primary_color = models.CharField(max_length=7, default="#1d4ed8")
    background_color = models.CharField(max_length=7, default="#ffffff")
    text_color = models.CharField(max_length=7, default="#111827")
    footer_text = models.CharField(max_length=300, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = "help center theme"

    def __str__(self) -> str:
        return self.name

    @classmethod
    def current(cls) -> "HelpCenterTheme":
        theme = cls.objects.order_by("pk").first()
        return theme if theme is not None else cls()
