"""`heedful detect-changes [--date YYYY-MM-DD] [--since YYYY-MM-DD]`: run the change
detector by hand and print what it found."""

import time
from datetime import date, timedelta
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from heedful.insights.changes import detect_changes, local_today

MAX_BACKFILL_DAYS = 800


def parse_day(value: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"Not a date (YYYY-MM-DD): {value!r}") from None


class Command(BaseCommand):
    help = (
        "Detect significant changes in volume, CSAT, CES, NPS, first response time and "
        "first contact resolution, overall and per channel, inbox, team and tag, for one day "
        "(default today, comparing the last 7 complete days with the 8 weeks before), or for "
        "every day from --since to --date (a backfill). Re-running a day replaces its findings."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--date", help="The day to run for (YYYY-MM-DD); default today.")
        parser.add_argument("--since", help="Also run every day from this one (YYYY-MM-DD).")

    def handle(self, *args: Any, **options: Any) -> None:
        last = parse_day(options["date"]) if options["date"] else local_today()
        first = parse_day(options["since"]) if options["since"] else last
        if first > last:
            raise CommandError("--since must not be after --date.")
        if (last - first).days > MAX_BACKFILL_DAYS:
            raise CommandError(f"At most {MAX_BACKFILL_DAYS} days at a time.")
        began = time.perf_counter()
        total = 0
        day = first
        while day <= last:
            found = detect_changes(day=day)
            total += len(found)
            for insight in found:
                self.stdout.write(f"{day.isoformat()}  {insight.sentence}")
            day += timedelta(days=1)
        seconds = time.perf_counter() - began
        days = (last - first).days + 1
        noun = "day" if days == 1 else "days"
        self.stdout.write(
            self.style.SUCCESS(f"{total} findings over {days} {noun} in {seconds:.2f} s.")
        )
