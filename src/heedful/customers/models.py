from typing import Any

from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q

from heedful.customers.identities import IdentityKind, InvalidAddress, normalize


class Organization(models.Model):
    name = models.CharField(max_length=200)
    domain = models.CharField(
        max_length=253, blank=True, null=True, unique=True, help_text="Email domain of its people."
    )
    notes = models.TextField(blank=True)
    share_requests = models.BooleanField(
        default=False,
        help_text="Members see each other's requests in the customer portal.",
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name


class Customer(models.Model):
    """One person, across every channel they use to reach us."""

    name = models.CharField(max_length=200, blank=True)
    organization = models.ForeignKey(
        Organization, null=True, blank=True, on_delete=models.SET_NULL, related_name="customers"
    )
    preferred_channel = models.CharField(max_length=20, blank=True)
    language = models.CharField(max_length=16, blank=True)
    time_zone = models.CharField(max_length=64, blank=True)
    notes = models.TextField(blank=True, help_text="Agents' notes about this customer.")
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.PROTECT, related_name="merged_from"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        indexes = [models.Index(fields=["name"]), models.Index(fields=["-created_at"])]

    def __str__(self) -> str:
        return self.name or f"Customer {self.pk}"

    @property
    def first_name(self) -> str:
        return self.name.split()[0] if self.name.strip() else ""

    def resolve(self) -> "Customer":
        """Follow merges to the surviving record."""
        customer = self
        while customer.merged_into_id is not None:
            customer = customer.merged_into  # type: ignore[assignment]
        return customer


class Identity(models.Model):
    """An address a customer reaches us from: kind + normalized address, unique per kind."""

    customer = models.ForeignKey(Customer, on_delete=models.CASCADE, related_name="identities")
    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    address = models.CharField(max_length=255)
    # A web form cannot prove who typed an address; the customer proves it later
    # (answering an email, signing in to the portal).
    verified = models.BooleanField(default=False)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name_plural = "identities"
        constraints = [
            models.UniqueConstraint(fields=["kind", "address"], name="customers_identity_unique"),
            models.CheckConstraint(
                condition=Q(kind__in=IdentityKind.values), name="customers_identity_kind_valid"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.address}"

    def clean(self) -> None:
        """Addresses typed in the admin are normalized like inbound ones, or refused."""
        from django.core.exceptions import ValidationError

        from heedful.customers.identities import InvalidAddress, normalize

        try:
            self.address = normalize(self.kind, self.address)
        except InvalidAddress as exc:
            raise ValidationError({"address": str(exc)}) from exc


class BlockedSender(models.Model):
    """Inbound from a blocked address (or @domain for email) is kept but marked spam."""

    kind = models.CharField(max_length=16, choices=IdentityKind.choices)
    address = models.CharField(
        max_length=255, help_text="A normalized address, or @example.com to block a whole domain."
    )
    reason = models.CharField(max_length=255, blank=True)
    created_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["kind", "address"], name="customers_blocked_unique"),
        ]

    def __str__(self) -> str:
        return f"{self.kind}:{self.address}"

    def clean(self) -> None:
        try:
            self.address = self.normalize_address(self.kind, self.address)
        except InvalidAddress as exc:
            raise ValidationError({"address": str(exc)}) from exc

    @staticmethod
    def normalize_address(kind: str, address: str) -> str:
        """What `is_blocked` compares with: a normalized address, or @domain in lower case."""
        value = address.strip()
        if kind == IdentityKind.EMAIL and value.startswith("@"):
            domain = value[1:].lower()
            if not domain or "@" in domain or "." not in domain or any(c.isspace() for c in domain):
                raise InvalidAddress(f"{address!r} is not an @domain")
            return "@" + domain
        return normalize(kind, value)

    @classmethod
    def is_blocked(cls, kind: str, address: str) -> bool:
        from heedful.core import rows  # every inbound message asks: keep it a bare probe

        candidates: list[Any] = [address]
        if kind == IdentityKind.EMAIL and "@" in address:
            candidates.append("@" + address.rsplit("@", 1)[1])
        return any(rows.first_id(cls, kind=kind, address=c) is not None for c in candidates)
