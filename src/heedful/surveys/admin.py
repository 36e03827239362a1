"""Survey configuration in the admin; invitations and responses are read-only there,
because they change only through the survey services (which keep the rollups)."""

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponseRedirect
from django.urls import reverse

from heedful.surveys.models import (
    InboxSurveyPolicy,
    SurveyInvitation,
    SurveyOptOut,
    SurveyQuestion,
    SurveyResponse,
    SurveySettings,
)


@admin.register(SurveyQuestion)
class SurveyQuestionAdmin(admin.ModelAdmin):
    list_display = ["kind", "language", "question", "low_label", "high_label"]
    list_filter = ["kind", "language"]


@admin.register(SurveySettings)
class SurveySettingsAdmin(admin.ModelAdmin):
    """One row: the list opens it directly."""

    fieldsets = [
        ("Every survey", {"fields": ["fatigue_days", "sample_percent", "expiry_days"]}),
        ("Low scores", {"fields": ["low_score_alerts"]}),
        (
            "Relationship survey (NPS)",
            {
                "fields": [
                    "nps_enabled",
                    "nps_every_days",
                    "nps_recent_contact_days",
                    "nps_last_run_at",
                ]
            },
        ),
    ]
    readonly_fields = ["nps_last_run_at"]

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> Any:
        row = SurveySettings.load()
        return HttpResponseRedirect(reverse("admin:surveys_surveysettings_change", args=[row.pk]))

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(InboxSurveyPolicy)
class InboxSurveyPolicyAdmin(admin.ModelAdmin):
    """One row per inbox that sends surveys after a solve; an inbox without one sends none.

    (Not an inline on the inbox page: the inbox forms are posted by scripts and tests
    that know nothing of an inline's management form.)
    """

    list_display = ["inbox", "send_csat", "send_ces", "delay_minutes", "language"]
    list_filter = ["send_csat", "send_ces"]


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(SurveyInvitation)
class SurveyInvitationAdmin(ReadOnlyAdmin):
    list_display = [
        "pk",
        "kind",
        "status",
        "customer",
        "conversation",
        "agent",
        "due_at",
        "sent_at",
    ]
    list_filter = ["kind", "status", "channel"]
    date_hierarchy = "due_at"
    exclude = ["token_hash", "rollup_state"]
    list_select_related = ["customer", "conversation", "agent"]


@admin.register(SurveyResponse)
class SurveyResponseAdmin(ReadOnlyAdmin):
    list_display = ["pk", "kind", "score", "completed", "customer", "agent", "responded_at"]
    list_filter = ["kind", "score", "completed", "channel"]
    date_hierarchy = "responded_at"
    search_fields = ["comment"]
    list_select_related = ["customer", "agent"]


@admin.register(SurveyOptOut)
class SurveyOptOutAdmin(admin.ModelAdmin):
    """Deleting a row lets the customer be surveyed again (when they ask for it)."""

    list_display = ["customer", "source", "created_at"]
    list_filter = ["source"]
    raw_id_fields = ["customer"]
    readonly_fields = ["created_at"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False
