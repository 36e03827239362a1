"""The help center's theme in /admin/: one row (name, tagline, logo, colours, footer)."""

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse

from heedful.portal import theme as rules
from heedful.portal.models import HelpCenterTheme

COLOR_FIELDS = ("primary_color", "background_color", "text_color")


class HelpCenterThemeForm(forms.ModelForm):
    class Meta:
        model = HelpCenterTheme
        fields = ["name", "tagline", "logo", "footer_text", *COLOR_FIELDS]
        widgets = {name: forms.TextInput(attrs={"type": "color"}) for name in COLOR_FIELDS}
        help_texts = {
            "primary_color": "Buttons, links and the header band; white text is drawn on it, "
            "so keep it dark enough (contrast 4.5:1 or more).",
            "logo": f"PNG, JPEG or WebP, at most {rules.MAX_LOGO_BYTES // 1024} KB "
            "(SVG is not accepted).",
        }

    def _clean_color(self, name: str) -> str:
        value = (self.cleaned_data.get(name) or "").strip()
        if not rules.is_color(value):
            raise ValidationError("Enter a colour as #rrggbb, for example #1d4ed8.")
        return value.lower()

    def clean_primary_color(self) -> str:
        return self._clean_color("primary_color")

    def clean_background_color(self) -> str:
        return self._clean_color("background_color")

    def clean_text_color(self) -> str:
        return self._clean_color("text_color")

    def clean_logo(self) -> Any:
        logo = self.cleaned_data.get("logo")
        # An unchanged logo is the stored file; only a new upload is checked.
        if not logo or not hasattr(logo, "content_type"):
            return logo
        if logo.size > rules.MAX_LOGO_BYTES:
            raise ValidationError(
                f"The logo is {logo.size // 1024} KB; it may be at most "
                f"{rules.MAX_LOGO_BYTES // 1024} KB."
            )
        head = logo.read(16)
        logo.seek(0)
        content_type = rules.logo_type(head)
        if content_type is None:
            raise ValidationError("The logo must be a PNG, JPEG or WebP image (not SVG).")
        return logo


@admin.register(HelpCenterTheme)
class HelpCenterThemeAdmin(admin.ModelAdmin):
    form = HelpCenterThemeForm
    list_display = ["name", "primary_color", "updated_at"]
    readonly_fields = ["primary_contrast"]
    fields = ["name", "tagline", "logo", *COLOR_FIELDS, "primary_contrast", "footer_text"]

    @admin.display(description="Contrast of white text on the primary colour")
    def primary_contrast(self, theme: HelpCenterTheme) -> str:
        return _contrast_note(theme.primary_color)

    def has_add_permission(self, request: HttpRequest) -> bool:
        # One theme: the help center reads the first row (HelpCenterTheme.current()).
        return super().has_add_permission(request) and not HelpCenterTheme.objects.exists()

    def changelist_view(self, request: HttpRequest, extra_context: Any = None) -> HttpResponse:
        theme = HelpCenterTheme.objects.order_by("pk").first()
        if theme is not None and self.has_change_permission(request, theme):
            return HttpResponseRedirect(
                reverse("admin:portal_helpcentertheme_change", args=[theme.pk])
            )
        return super().changelist_view(request, extra_context)

    def save_model(
        self, request: HttpRequest, obj: HelpCenterTheme, form: forms.ModelForm, change: bool
    ) -> None:
        super().save_model(request, obj, form, change)
        ratio = rules.contrast(obj.primary_color, "#ffffff")
        if ratio < rules.MIN_CONTRAST:
            messages.warning(
                request,
                f"White text on {obj.primary_color} has a contrast of {ratio:.1f}:1, below "
                f"{rules.MIN_CONTRAST}:1: buttons and the header will be hard to read for "
                "many people. The help center draws dark text on it instead; a darker "
                "primary colour keeps your brand's white labels.",
            )


def _contrast_note(color: str) -> str:
    if not rules.is_color(color):
        return "—"
    ratio = rules.contrast(color, "#ffffff")
    verdict = "passes" if ratio >= rules.MIN_CONTRAST else f"below {rules.MIN_CONTRAST}:1"
    return f"{ratio:.1f}:1 ({verdict})"
