"""Editing a customer's details and the agents' notes about them."""

import functools
import re
import zoneinfo
from dataclasses import dataclass
from dataclasses import field as dataclass_field
from typing import TYPE_CHECKING, Any

from django.db import transaction

from heedful.accounts.permissions import require
from heedful.core.errors import ServiceError
from heedful.customers.identities import IdentityKind
from heedful.customers.models import Customer, Identity, Organization

if TYPE_CHECKING:
    from heedful.accounts.models import User

# What merge_customers fills on the kept record from the merged one when it has none.
MERGE_FILLED = ("name", "preferred_channel", "language", "time_zone")
EDITABLE = ("name", "organization", "preferred_channel", "language", "time_zone", "notes")
NOTES_MAX = 20_000
# BCP 47 in the shape people type it: "en", "pt-BR", "zh-Hant-TW".
_ZONE_RE = re.compile(r"^[A-Za-z][A-Za-z0-9_+\-]*(/[A-Za-z0-9_+\-]+){0,2}$")
_LANGUAGE_RE = re.compile(r"^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,3}$")


@functools.cache
def time_zones() -> frozenset[str]:
    """The IANA names zoneinfo knows; read once (it walks the tz database)."""
    return frozenset(zoneinfo.available_timezones())


def is_time_zone(name: str) -> bool:
    """An IANA name zoneinfo can load (checked by shape first: ZoneInfo reads files)."""
    if name in time_zones():
        return True
    if not _ZONE_RE.match(name) or ".." in name:
        return False
    try:
        zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, OSError):
        return False
    return True


def update_customer(*, customer: Customer, actor: "User", **fields: Any) -> Customer:
    """Change the given details; all are validated first, so a refusal changes nothing.

    `organization` is an Organization, None (no organization), or a name: an existing
    organization of that name (any case) is used, otherwise a new one is created.
    Raises ServiceError with `fields` = {field: message} for invalid input.
    """
    require(actor, "customer.edit")
    unknown = sorted(set(fields) - set(EDITABLE))
    if unknown:
        raise ServiceError(f"These details cannot be edited: {', '.join(unknown)}.")
    if customer.merged_into_id is not None:
        raise ServiceError("This customer was merged into another; edit that record instead.")
    cleaned, errors = _clean(fields)
    if errors:
        raise ServiceError(next(iter(errors.values())), fields=errors)
    with transaction.atomic():
        if isinstance(cleaned.get("organization"), str):
            cleaned["organization"] = _organization_named(cleaned["organization"])
        for field, value in cleaned.items():
            setattr(customer, field, value)
        if cleaned:
            customer.save(update_fields=[*cleaned, "updated_at"])
    return customer


def _clean(fields: dict[str, Any]) -> tuple[dict[str, Any], dict[str, str]]:
    cleaned: dict[str, Any] = {}
    errors: dict[str, str] = {}
    for field, raw in fields.items():
        if field == "organization" and (raw is None or isinstance(raw, Organization)):
            cleaned[field] = raw
            continue
        value = "" if raw is None else str(raw)
        value = value.strip() if field != "notes" else value.strip("\n\r ")
        error = _check(field, value)
        if error:
            errors[field] = error
        elif field == "organization":
            cleaned[field] = value or None
        else:
            cleaned[field] = value
    return cleaned, errors


def _check(field: str, value: str) -> str | None:
    if "\x00" in value:
        return "This text contains a character that cannot be stored."
    if field in ("name", "organization") and len(value) > 200:
        return "Keep this under 200 characters."
    if field == "preferred_channel" and value and value not in IdentityKind.values:
        return "Choose one of the channels listed."
    if field == "language" and value and not _LANGUAGE_RE.match(value):
        return "Use a language code such as en, fr or pt-BR."
    if field == "time_zone" and value and not is_time_zone(value):
        return f"{value[:64]!r} is not a time zone; use a name such as Europe/Paris."
    if field == "notes" and len(value) > NOTES_MAX:
        return f"Notes are limited to {NOTES_MAX:,} characters."
    return None


def _organization_named(name: str) -> Organization:
    existing = Organization.objects.filter(name__iexact=name).order_by("pk").first()
    return existing or Organization.objects.create(name=name)


@dataclass
class MergePreview:
    """What `merge_customers(source=..., target=...)` will do, for the page that asks first."""

    identities: list[Identity]
    conversations: int
    visible_conversations: int
    organization: Organization | None
    notes: str
    filled: dict[str, str] = dataclass_field(default_factory=dict)


def preview_merge(*, source: Customer, target: Customer, viewer: "User") -> MergePreview:
    """Mirror of conversations.services.merge.merge_customers, computed without writing.

    Every conversation moves, so the preview counts them all; `visible_conversations`
    is how many of them the viewer may open (the rest belong to other teams)."""
    from heedful.conversations.models import Conversation

    mine = Conversation.objects.filter(customer=source)
    return MergePreview(
        identities=list(source.identities.order_by("kind", "pk")),
        conversations=mine.count(),
        visible_conversations=mine.filter(merged_into__isnull=True).visible_to(viewer).count(),
        organization=target.organization or source.organization,
        notes="\n\n".join(filter(None, [target.notes, source.notes])),
        filled={
            name: getattr(source, name)
            for name in MERGE_FILLED
            if not getattr(target, name) and getattr(source, name)
        },
    )
