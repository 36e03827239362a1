from django import forms
from django.contrib import admin

from heedful.service_levels.models import BusinessHours

SCHEDULE_HELP = (
    "Open hours per weekday in the time zone above, as JSON: "
    '{"mon": [["09:00", "17:00"]], "tue": [["09:00", "12:30"], ["13:30", "17:00"]], ...}. '
    "Days are mon, tue, wed, thu, fri, sat, sun; a day left out is closed. Times are HH:MM "
    'from 00:00 to 24:00 and each interval ends after it starts: a night shift is "22:00"-'
    '"24:00" on one day and "00:00"-"06:00" on the next.'
)


class BusinessHoursForm(forms.ModelForm):
    class Meta:
        model = BusinessHours
        fields = [
            "name",
            "time_zone",
            "schedule",
            "holiday_country",
            "holiday_subdivision",
            "extra_holidays",
        ]
        help_texts = {
            "time_zone": "An IANA time zone name, such as Europe/Berlin or America/New_York.",
            "schedule": SCHEDULE_HELP,
            "holiday_country": "ISO country code whose public holidays are closed days "
            "(holidays library), such as DE, US or GB. Leave empty for none.",
            "holiday_subdivision": "Optional state or region code within the country "
            "(BY for Bavaria, CA for California).",
            "extra_holidays": "Your own closed days, one date per line as YYYY-MM-DD; "
            "text after the date is a comment (2025-12-24 Christmas Eve).",
        }
        widgets = {"extra_holidays": forms.Textarea(attrs={"rows": 4})}


@admin.register(BusinessHours)
class BusinessHoursAdmin(admin.ModelAdmin):
    form = BusinessHoursForm
    list_display = ["name", "time_zone", "holiday_country", "holiday_subdivision"]
    search_fields = ["name"]
