import secrets as random_tokens
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import admin, messages
from django.db.models import Count, IntegerField, OuterRef, QuerySet, Subquery
from django.http import Http404, HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.response import TemplateResponse
from django.urls import URLPattern, path, reverse
from django.utils.cache import add_never_cache_headers, patch_cache_control
from django.utils.html import format_html
from django.utils.timezone import localtime
from django.views.decorators.http import require_POST

from heedful.core.errors import ServiceError
from heedful.inboxes import secrets
from heedful.inboxes.email.config import EmailSettings
from heedful.inboxes.email.forms import SETUP_MARKER, EmailInboxForm
from heedful.inboxes.email.webhooks import (
    BASIC_AUTH_USER,
    PROVIDER_LABELS,
    SIGNED_PROVIDERS,
    SNS_SUBSCRIBE_URL_KEY,
)
from heedful.inboxes.models import EmailSuppression, Inbox, MailboxState, RawInbound
from heedful.inboxes.registry import kinds

HEADER_PREVIEW_BYTES = 2048


class InboxForm(forms.ModelForm):
    kind = forms.ChoiceField(
        choices=[],
        help_text="For an email inbox, choose Email and save: the mailbox settings follow.",
    )

    class Meta:
        model = Inbox
        fields = ["kind", "name", "address", "team", "business_hours", "settings", "is_active"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        kind_field = self.fields["kind"]
        assert isinstance(kind_field, forms.ChoiceField)
        kind_field.choices = list(kinds().items())


EMAIL_FIELDSETS = [
    (
        None,
        {
            "fields": [
                "name",
                "address",
                "aliases",
                "reply_to",
                "team",
                "business_hours",
                "is_active",
            ]
        },
    ),
    (
        "Receiving from a mailbox (IMAP)",
        {
            "fields": [
                ("imap_host", "imap_port", "imap_security"),
                ("imap_username", "imap_auth"),
                ("imap_password", "imap_password_clear"),
                ("imap_oauth_token", "imap_oauth_token_clear"),
                ("imap_folder", "imap_after", "imap_move_to"),
                ("imap_verify_tls", "imap_idle", "imap_poll_seconds"),
            ]
        },
    ),
    (
        "Sending replies",
        {
            "fields": [
                "outbound",
                ("smtp_host", "smtp_port", "smtp_security"),
                "smtp_username",
                ("smtp_password", "smtp_password_clear"),
            ]
        },
    ),
    (
        "Mail provider (webhooks and API)",
        {
            "fields": [
                "provider",
                ("webhook_secret", "webhook_secret_clear"),
                ("webhook_signing_key", "webhook_signing_key_clear"),
                ("provider_api_key", "provider_api_key_clear"),
            ]
        },
    ),
    (
        "Acknowledgment and replies",
        {"fields": ["auto_ack", "auto_ack_subject", "auto_ack_text", "quote_history"]},
    ),
    (None, {"fields": [SETUP_MARKER], "classes": ["hidden"]}),
]


def webhook_url(inbox: Inbox, provider: str) -> str:
    tail = "mime" if provider == "mailgun" else ""
    return f"{settings.BASE_URL}/hooks/email/{inbox.pk}/{provider}/{tail}"


def webhook_url_with_secret(inbox: Inbox, provider: str, secret: str) -> str:
    scheme, _, rest = webhook_url(inbox, provider).partition("://")
    return f"{scheme}://{BASIC_AUTH_USER}:{secret}@{rest}"


def quarantine_link(inbox_id: int, count: int) -> str:
    changelist = reverse("admin:inboxes_rawinbound_changelist")
    query = f"?inbox__id__exact={inbox_id}&status__exact={RawInbound.Status.QUARANTINED}"
    return format_html('<a href="{}{}">{}</a>', changelist, query, count)


@admin.register(Inbox)
class InboxAdmin(admin.ModelAdmin):
    form = InboxForm
    change_form_template = "admin/inboxes/inbox/change_form.html"
    list_display = [
        "name",
        "kind",
        "address",
        "team",
        "is_active",
        "last_fetch",
        "last_success",
        "last_error",
        "quarantined",
    ]
    list_filter = ["kind", "is_active"]

    # --- which form ---------------------------------------------------------------

    def _email_setup(self, request: HttpRequest, obj: Inbox | None) -> bool:
        if obj is not None:
            return obj.kind == "email"
        return request.GET.get("kind") == "email" or SETUP_MARKER in request.POST

    def get_form(self, request: HttpRequest, obj: Any = None, change: bool = False, **kwargs: Any):
        if self._email_setup(request, obj):
            kwargs["form"] = EmailInboxForm
        return super().get_form(request, obj, change, **kwargs)

    def get_fieldsets(self, request: HttpRequest, obj: Any = None):
        if self._email_setup(request, obj):
            return EMAIL_FIELDSETS
        return super().get_fieldsets(request, obj)

    def response_add(self, request: HttpRequest, obj: Inbox, post_url_continue: Any = None):
        if obj.kind == "email" and SETUP_MARKER not in request.POST:
            # Created from the generic form: the mailbox settings live on the next page.
            self.message_user(request, "Now set up the mailbox, sending and provider below.")
            return HttpResponseRedirect(reverse("admin:inboxes_inbox_change", args=[obj.pk]))
        return super().response_add(request, obj, post_url_continue)

    # --- health -------------------------------------------------------------------

    def get_queryset(self, request: HttpRequest) -> QuerySet[Inbox]:
        quarantined = (
            RawInbound.objects.filter(inbox=OuterRef("pk"), status=RawInbound.Status.QUARANTINED)
            .values("inbox")
            .annotate(n=Count("pk"))
            .values("n")
        )
        return (
            super()
            .get_queryset(request)
            .select_related("team", "mailbox_state")
            .annotate(quarantined_count=Subquery(quarantined, output_field=IntegerField()))
        )

    @staticmethod
    def _state(obj: Inbox) -> MailboxState | None:
        try:
            return obj.mailbox_state
        except MailboxState.DoesNotExist:
            return None

    @admin.display(description="last fetch")
    def last_fetch(self, obj: Inbox) -> Any:
        state = self._state(obj)
        return state.last_fetch_at if state else None

    @admin.display(description="last success")
    def last_success(self, obj: Inbox) -> Any:
        state = self._state(obj)
        return state.last_success_at if state else None

    @admin.display(description="last error")
    def last_error(self, obj: Inbox) -> str:
        state = self._state(obj)
        if state is None or not state.last_error:
            return ""
        when = (
            f"{localtime(state.last_error_at):%Y-%m-%d %H:%M %Z}: " if state.last_error_at else ""
        )
        return when + state.last_error[:120]

    @admin.display(description="quarantined")
    def quarantined(self, obj: Inbox) -> str:
        count = getattr(obj, "quarantined_count", None) or 0
        return quarantine_link(obj.pk, count) if count else "0"

    # --- change page: webhook, tests, secret --------------------------------------

    def change_view(
        self,
        request: HttpRequest,
        object_id: str,
        form_url: str = "",
        extra_context: dict[str, Any] | None = None,
    ) -> HttpResponse:
        obj = self.get_object(request, object_id)
        if obj is not None and obj.kind == "email":
            extra_context = {**(extra_context or {}), "email_panel": self._email_panel(obj)}
        return super().change_view(request, object_id, form_url, extra_context)

    def _email_panel(self, inbox: Inbox) -> dict[str, Any]:
        config = EmailSettings.of(inbox)
        provider = config.provider
        state = self._state(inbox)
        count = RawInbound.objects.filter(inbox=inbox, status=RawInbound.Status.QUARANTINED).count()
        try:
            has_secret = secrets.has_secret(inbox, "webhook_secret")
            has_key = secrets.has_secret(inbox, "webhook_signing_key")
        except secrets.SecretsUnreadable:
            has_secret = has_key = False
        raw = inbox.settings if isinstance(inbox.settings, dict) else {}
        return {
            "provider": provider,
            "provider_label": PROVIDER_LABELS.get(provider, ""),
            "signed": provider in SIGNED_PROVIDERS,
            "webhook_url": webhook_url(inbox, provider) if provider else "",
            "webhook_url_shape": (
                webhook_url_with_secret(inbox, provider, "WEBHOOK-SECRET") if provider else ""
            ),
            "has_webhook_secret": has_secret,
            "has_signing_key": has_key,
            "sns_subscribe_url": raw.get(SNS_SUBSCRIBE_URL_KEY, ""),
            "state": state,
            "quarantined": count,
            "quarantined_link": quarantine_link(inbox.pk, count),
            "imap_configured": config.imap.configured,
            "smtp_configured": config.outbound == "smtp" and config.smtp.configured,
            "test_imap_url": reverse("admin:inboxes_inbox_test_imap", args=[inbox.pk]),
            "test_smtp_url": reverse("admin:inboxes_inbox_test_smtp", args=[inbox.pk]),
            "generate_secret_url": reverse("admin:inboxes_inbox_webhook_secret", args=[inbox.pk]),
        }

    def get_urls(self) -> list[URLPattern]:
        def route(suffix: str, view: Any, name: str) -> URLPattern:
            wrapped = self.admin_site.admin_view(require_POST(view))
            return path(f"<int:inbox_id>/{suffix}/", wrapped, name=f"inboxes_inbox_{name}")

        return [
            route("test-imap", self.test_imap_view, "test_imap"),
            route("test-smtp", self.test_smtp_view, "test_smtp"),
            route("webhook-secret", self.webhook_secret_view, "webhook_secret"),
            *super().get_urls(),
        ]

    def _email_inbox(self, request: HttpRequest, inbox_id: int) -> Inbox:
        inbox = Inbox.objects.filter(pk=inbox_id, kind="email").first()
        if inbox is None or not self.has_change_permission(request, inbox):
            raise Http404("No such email inbox.")
        return inbox

    def _back(self, inbox: Inbox) -> HttpResponseRedirect:
        return HttpResponseRedirect(reverse("admin:inboxes_inbox_change", args=[inbox.pk]))

    def test_imap_view(self, request: HttpRequest, inbox_id: int) -> HttpResponse:
        from heedful.inboxes.email import imap

        inbox = self._email_inbox(request, inbox_id)
        self._report_test(request, "IMAP", imap.test_connection, inbox)
        return self._back(inbox)

    def test_smtp_view(self, request: HttpRequest, inbox_id: int) -> HttpResponse:
        from heedful.inboxes.email import transport

        inbox = self._email_inbox(request, inbox_id)
        self._report_test(request, "SMTP", transport.test_connection, inbox)
        return self._back(inbox)

    def _report_test(self, request: HttpRequest, what: str, test: Any, inbox: Inbox) -> None:
        try:
            ok, detail = test(inbox)
        except Exception as exc:  # a test of a broken setup reports, never a 500
            ok, detail = False, f"{type(exc).__name__}: {exc}"
        level = messages.SUCCESS if ok else messages.ERROR
        verdict = "works" if ok else "failed"
        self.message_user(request, f"{what} connection {verdict}: {detail}", level)

    def webhook_secret_view(self, request: HttpRequest, inbox_id: int) -> HttpResponse:
        inbox = self._email_inbox(request, inbox_id)
        value = random_tokens.token_urlsafe(24)
        try:
            secrets.set_secrets(inbox, webhook_secret=value)
        except secrets.SecretsUnreadable as exc:
            self.message_user(request, str(exc), messages.ERROR)
            return self._back(inbox)
        return self._show_secret_once(request, inbox, value)

    def _show_secret_once(self, request: HttpRequest, inbox: Inbox, value: str) -> HttpResponse:
        """The new secret goes into this response only.

        Never through django.contrib.messages: its cookie is signed, not encrypted, so
        the secret would sit readable in the browser and travel with later requests.
        """
        provider = EmailSettings.of(inbox).provider
        with_url = bool(provider) and provider not in SIGNED_PROVIDERS
        context = {
            **self.admin_site.each_context(request),
            "opts": self.opts,
            "original": inbox,
            "title": "New webhook secret",
            "provider_label": PROVIDER_LABELS.get(provider, ""),
            "secret_url": webhook_url_with_secret(inbox, provider, value) if with_url else "",
            "secret": value,
            "change_url": reverse("admin:inboxes_inbox_change", args=[inbox.pk]),
        }
        response = TemplateResponse(request, "admin/inboxes/inbox/webhook_secret.html", context)
        # Neither the browser nor a proxy may keep the page, nor show it again on Back.
        add_never_cache_headers(response)
        patch_cache_control(response, no_store=True)
        return response


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
        "source_key",
        "headers_preview",
    ]
    exclude = ["payload"]
    actions = ["retry"]
    date_hierarchy = "received_at"

    def get_queryset(self, request: HttpRequest) -> QuerySet[RawInbound]:
        # The list never shows the payload (up to HEEDFUL_MAX_EMAIL_BYTES per row).
        return super().get_queryset(request).defer("payload")

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="reason")
    def short_reason(self, obj: RawInbound) -> str:
        return obj.reason[:80]

    @admin.display(description="headers (first 2 KB)")
    def headers_preview(self, obj: RawInbound) -> str:
        head = bytes(obj.payload[:HEADER_PREVIEW_BYTES])
        for end in (b"\r\n\r\n", b"\n\n"):
            if end in head:
                head = head[: head.index(end)]
                break
        text = head.decode("utf-8", errors="replace")
        return format_html('<pre style="white-space: pre-wrap">{}</pre>', text)

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


class SuppressionStateFilter(admin.SimpleListFilter):
    title = "state"
    parameter_name = "state"

    def lookups(self, request: HttpRequest, model_admin: Any) -> list[tuple[str, str]]:
        return [
            ("suppressed", "Suppressed now"),
            ("lifted", "Lifted"),
            ("counting", "Bouncing, not yet suppressed"),
        ]

    def queryset(self, request: HttpRequest, queryset: QuerySet[Any]) -> QuerySet[Any]:
        if self.value() == "suppressed":
            return queryset.filter(suppressed_at__isnull=False, lifted_at__isnull=True)
        if self.value() == "lifted":
            return queryset.filter(lifted_at__isnull=False)
        if self.value() == "counting":
            return queryset.filter(suppressed_at__isnull=True, lifted_at__isnull=True)
        return queryset


@admin.register(EmailSuppression)
class EmailSuppressionAdmin(admin.ModelAdmin):
    """Addresses that hard-bounced; sending resumes once a suppression is lifted."""

    list_display = [
        "address",
        "hard_bounces",
        "last_bounce_at",
        "suppressed_at",
        "lifted_at",
        "lifted_by",
        "short_reason",
    ]
    list_filter = [SuppressionStateFilter, "suppressed_at", "last_bounce_at"]
    search_fields = ["address"]
    readonly_fields = [
        "address",
        "hard_bounces",
        "last_bounce_at",
        "last_reason",
        "suppressed_at",
        "lifted_at",
        "lifted_by",
    ]
    actions = ["lift"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # bounce reports create these

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # changes go through lift_suppression, which checks and records

    def has_delete_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False

    @admin.display(description="last reason")
    def short_reason(self, obj: EmailSuppression) -> str:
        return obj.last_reason[:80]

    @admin.action(description="Lift suppression")
    def lift(self, request: HttpRequest, queryset: QuerySet[EmailSuppression]) -> None:
        from heedful.inboxes.email.bounces import lift_suppression

        lifted: list[str] = []
        refused: list[str] = []
        for row in queryset:
            try:
                lift_suppression(address=row.address, actor=request.user)  # type: ignore[arg-type]
                lifted.append(row.address)
            except ServiceError as exc:
                refused.append(f"{row.address}: {exc}")
        if lifted:
            self.message_user(request, f"Lifted: {', '.join(lifted)}.", messages.SUCCESS)
        if refused:
            self.message_user(request, "Not lifted: " + "; ".join(refused), messages.ERROR)
