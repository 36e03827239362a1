from typing import Any

from django.contrib import admin
from django.http import HttpRequest

from heedful.insights.models import Annotation


@admin.register(Annotation)
class AnnotationAdmin(admin.ModelAdmin):
    list_display = ("day", "title", "created_by", "created_at")
    search_fields = ("title", "description")
    date_hierarchy = "day"
    readonly_fields = ("created_by", "created_at")
    fields = ("day", "title", "description", "created_by", "created_at")

    def save_model(self, request: HttpRequest, obj: Annotation, form: Any, change: bool) -> None:
        # Who marked the event, for the record; set once, on creation.
        if not change and obj.created_by_id is None:
            obj.created_by = request.user  # type: ignore[assignment]
        super().save_model(request, obj, form, change)
