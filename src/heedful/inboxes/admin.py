from django import forms
from django.contrib import admin, messages
from django.http import HttpRequest

from heedful.inboxes.models import Inbox, RawInbound
from heedful.inboxes.registry import kinds


class InboxForm(forms.ModelForm):
    kind = forms.ChoiceField(choices=[])

    class Meta:
        model = Inbox
        fields = ["kind", "name", "address", "team", "settings", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = list(kinds().items())


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    form = InboxForm
    list_display = ["name", "kind", "address", "team", "is_active"]
    list_filter = ["kind", "is_active"]


@admin.register(RawInbound)
class RawInboundAdmin(admin.ModelAdmin):
    """Quarantine: what could not be processed, with the reason, and a retry."""

    list_display = ["pk", "inbox", "received_at", "status", "short_reason", "attempts", "message"]
    list_filter = ["status", "inbox"]
    readonly_fields = [
        "inbox",
        "received_at",
        "content_type",
        "sha256",
        "status",
        "reason",
        "attempts",
        "message",
    ]
    exclude = ["payload"]
    actions = ["retry"]
    date_hierarchy = "received_at"

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="reason")
    def short_reason(self, obj: RawInbound) -> str:
        return obj.reason[:80]

    @admin.action(description="Retry processing")
    def retry(self, request: HttpRequest, queryset) -> None:
        from heedful.conversations.services import Quarantined, retry_quarantined

        done = failed = 0
        for raw in queryset.filter(status=RawInbound.Status.QUARANTINED):
            try:
                retry_quarantined(raw=raw)
                done += 1
            except Quarantined:
                failed += 1
        self.message_user(
            request,
            f"{done} processed, {failed} still quarantined.",
            messages.SUCCESS if not failed else messages.WARNING,
        )
