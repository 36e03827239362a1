"""Business hours: a weekly schedule in one time zone, with public and own holidays.

Metrics count first response and resolution in business hours with them; the
service-level policies will reuse them. The arithmetic is in service_levels.hours.
"""

from django.core.exceptions import ValidationError
from django.db import models


def default_schedule() -> dict[str, list[list[str]]]:
    workday = [["09:00", "17:00"]]
    return {"mon": workday, "tue": workday, "wed": workday, "thu": workday, "fri": workday}


class BusinessHours(models.Model):
    name = models.CharField(max_length=100, unique=True)
    time_zone = models.CharField(max_length=64, default="UTC")
    # {"mon": [["09:00", "17:00"]], ...}: open intervals per weekday, local time.
    schedule = models.JSONField(default=default_schedule)
    holiday_country = models.CharField(
        max_length=8,
        blank=True,
        help_text="ISO country code for public holidays (holidays library).",
    )
    holiday_subdivision = models.CharField(max_length=16, blank=True)
    # Extra closed days as ISO dates, one per line ("2025-12-24").
    extra_holidays = models.TextField(blank=True)

    class Meta:
        verbose_name_plural = "business hours"
        ordering = ["name"]

    def __str__(self) -> str:
        return self.name

    def clean(self) -> None:
        """Every setting checked the way service_levels.hours will read it, so the
        admin shows a form error instead of the metrics failing later."""
        from heedful.service_levels import hours

        checks = {
            "time_zone": lambda: hours.parse_zone(self.time_zone),
            "schedule": lambda: hours.parse_schedule(self.schedule),
            "holiday_country": lambda: hours.check_holiday_region(
                self.holiday_country, self.holiday_subdivision
            ),
            "extra_holidays": lambda: hours.parse_extra_holidays(self.extra_holidays),
        }
        errors = {}
        for name, check in checks.items():
            try:
                check()
            except hours.ScheduleError as error:
                errors[name] = str(error)
        if "holiday_country" in errors and self.holiday_country in _known_countries():
            errors["holiday_subdivision"] = errors.pop("holiday_country")
        if errors:
            raise ValidationError(errors)


def _known_countries() -> set[str]:
    import holidays

    return set(holidays.list_supported_countries())
