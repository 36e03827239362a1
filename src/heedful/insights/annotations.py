"""Annotations: dated events ("Self-service portal launched") shown on every chart.

Only admins add or delete them; the view checks `may_annotate` and the Django
admin is staff-only (staff = admins in Heedful).
"""

from datetime import date
from typing import Any

from django.db.models import QuerySet

from heedful.insights.models import Annotation


def may_annotate(user: Any) -> bool:
    return bool(user is not None and user.is_authenticated and user.is_admin)


def annotation_add(*, day: date, title: str, description: str = "", actor: Any) -> Annotation:
    return Annotation.objects.create(
        day=day, title=title.strip(), description=description.strip(), created_by=actor
    )


def annotation_delete(*, annotation_id: int) -> bool:
    """True when it existed (deleting twice is not an error)."""
    deleted, _ = Annotation.objects.filter(pk=annotation_id).delete()
    return bool(deleted)


def annotations_between(start: date, end: date) -> QuerySet[Annotation]:
    return Annotation.objects.filter(day__gte=start, day__lte=end).order_by("day", "pk")
