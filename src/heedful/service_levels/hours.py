"""Business-hours arithmetic: how much of a span of time fell inside a schedule.

A schedule is a weekly list of open intervals in local time ("09:00"-"17:00"),
read in its own time zone, less public holidays (the `holidays` library, by
country and subdivision) and the schedule's own closed days. Local times are
turned into instants per calendar day, so a 09:00-17:00 day is 8 hours on a
daylight-saving change day too. A local time the clocks skip (02:30 on a
spring-forward night) is taken as the moment they jump over it; a local time
that happens twice (fall-back) as its first occurrence (PEP 495 `fold=0`), so
an interval is one unbroken stretch of real time.

This runs for every fact refresh and for every conversation in a rebuild, so it
never walks minute by minute: each calendar day's open intervals are computed
once per schedule, and whole days in between come from per-year running totals,
so one call costs two partial days and a few lookups, however long the span.
"""

import itertools
import json
import re
import zoneinfo
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from functools import lru_cache
from typing import TYPE_CHECKING, Any

import holidays

if TYPE_CHECKING:
    from heedful.service_levels.models import BusinessHours

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_CLOCK = re.compile(r"^(?:([01]\d|2[0-3]):([0-5]\d)|(24):(00))$")

Interval = tuple[float, float]  # UTC epoch seconds, open then close


class ScheduleError(ValueError):
    """A schedule, time zone or holiday setting that cannot be used; the message says why."""


def minutes_of(clock: object) -> int:
    """ "HH:MM" (00:00 to 24:00) as minutes after midnight."""
    match = _CLOCK.match(clock) if isinstance(clock, str) else None
    if match is None:
        raise ScheduleError(f"{clock!r} is not a time of day written as HH:MM (00:00 to 24:00).")
    hours, minutes = (match.group(1), match.group(2)) if match.group(1) else ("24", "00")
    return int(hours) * 60 + int(minutes)


def parse_schedule(schedule: object) -> tuple[tuple[tuple[int, int], ...], ...]:
    """The weekly schedule as seven tuples (Monday first) of (open, close) minutes.

    Raises ScheduleError naming the first problem: an unknown day, a time that is
    not HH:MM, an interval that does not end after it starts, overlapping intervals.
    """
    if not isinstance(schedule, Mapping):
        raise ScheduleError(
            'The schedule must map weekdays to intervals: {"mon": [["09:00", "17:00"]]}.'
        )
    unknown = sorted(str(key) for key in schedule if key not in WEEKDAYS)
    if unknown:
        raise ScheduleError(
            f"Unknown weekday {unknown[0]!r}: use {', '.join(WEEKDAYS)} (lower case)."
        )
    week = []
    for day in WEEKDAYS:
        intervals = schedule.get(day) or []
        if not isinstance(intervals, list):
            raise ScheduleError(f"{day}: give a list of [open, close] pairs.")
        parsed = []
        for interval in intervals:
            if not (isinstance(interval, list | tuple) and len(interval) == 2):
                raise ScheduleError(f'{day}: each interval is a pair like ["09:00", "17:00"].')
            opens, closes = minutes_of(interval[0]), minutes_of(interval[1])
            if opens >= closes:
                raise ScheduleError(
                    f"{day}: {interval[0]}-{interval[1]} must end after it starts "
                    '(for a night shift use "22:00"-"24:00" and the next day "00:00"-"06:00").'
                )
            parsed.append((opens, closes))
        parsed.sort()
        for (_, first_close), (second_open, _) in itertools.pairwise(parsed):
            if second_open < first_close:
                raise ScheduleError(f"{day}: intervals overlap.")
        week.append(tuple(parsed))
    return tuple(week)


def parse_zone(name: str) -> zoneinfo.ZoneInfo:
    try:
        return zoneinfo.ZoneInfo(name)
    except (zoneinfo.ZoneInfoNotFoundError, ValueError, TypeError):
        raise ScheduleError(
            f"{name!r} is not a known time zone; use an IANA name like Europe/Berlin."
        ) from None


def parse_extra_holidays(text: str) -> frozenset[date]:
    """One ISO date per line; anything after the date on that line is a free comment."""
    days = set()
    for number, line in enumerate(text.splitlines(), start=1):
        words = line.split()
        if not words:
            continue
        try:
            days.add(date.fromisoformat(words[0]))
        except ValueError:
            raise ScheduleError(
                f"Line {number}: {words[0]!r} is not a date written as YYYY-MM-DD."
            ) from None
    return frozenset(days)


def check_holiday_region(country: str, subdivision: str) -> None:
    """Raise ScheduleError unless the holidays library knows this country and subdivision."""
    if not country:
        if subdivision:
            raise ScheduleError("A subdivision needs a country.")
        return
    supported = holidays.list_supported_countries()
    if country not in supported:
        raise ScheduleError(
            f"{country!r} is not a country the holidays library knows; "
            "use an ISO 3166 code such as DE, US or GB."
        )
    if subdivision and subdivision not in supported[country]:
        known = ", ".join(supported[country][:12])
        raise ScheduleError(
            f"{subdivision!r} is not a subdivision of {country}"
            + (f" (known: {known}, ...)." if known else " (it has none).")
        )


@lru_cache(maxsize=512)
def public_holidays(country: str, subdivision: str, year: int) -> frozenset[date]:
    """The public holidays of one year, computed once per (country, subdivision, year)."""
    if not country:
        return frozenset()
    found = holidays.country_holidays(country, subdiv=subdivision or None, years=year)
    return frozenset(found.keys())


def _instant(day: date, minutes: int, zone: zoneinfo.ZoneInfo) -> float:
    if minutes == 24 * 60:
        day, minutes = day + timedelta(days=1), 0
    wall = datetime.combine(day, time(minutes // 60, minutes % 60))
    # fold=0: a repeated local time is its first occurrence.
    moment = wall.replace(tzinfo=zone).timestamp()
    if datetime.fromtimestamp(moment, zone).replace(tzinfo=None) != wall:
        return _jump(wall, zone)
    return moment


def _jump(wall: datetime, zone: zoneinfo.ZoneInfo) -> float:
    """The instant the clocks jumped over a local time that does not exist: opening
    or closing "at 02:30" on a spring-forward night happens when 02:00 became 03:00."""
    after = wall.replace(tzinfo=zone, fold=0).timestamp()  # old offset: past the jump
    before = wall.replace(tzinfo=zone, fold=1).timestamp()  # new offset: before it
    low, high = min(before, after), max(before, after)
    offset = datetime.fromtimestamp(low, zone).utcoffset()
    while high - low > 1:
        middle = (low + high) // 2
        if datetime.fromtimestamp(middle, zone).utcoffset() == offset:
            low = middle
        else:
            high = middle
    return high


_NEW_YEAR = {year: date(year, 1, 1).toordinal() for year in range(1, 10000)}


@dataclass
class Calendar:
    """One schedule made ready for arithmetic; caches its days and yearly running totals."""

    zone: zoneinfo.ZoneInfo
    week: tuple[tuple[tuple[int, int], ...], ...]
    country: str = ""
    subdivision: str = ""
    extra_closed: frozenset[date] = frozenset()
    _days: dict[date, tuple[Interval, ...]] = field(default_factory=dict, repr=False)
    _years: dict[int, list[float]] = field(default_factory=dict, repr=False)

    def is_closed(self, day: date) -> bool:
        return day in self.extra_closed or day in public_holidays(
            self.country, self.subdivision, day.year
        )

    def intervals(self, day: date) -> tuple[Interval, ...]:
        """The open intervals of one local calendar day, as UTC instants."""
        found = self._days.get(day)
        if found is None:
            if self.is_closed(day):
                found = ()
            else:
                found = tuple(
                    (_instant(day, opens, self.zone), _instant(day, closes, self.zone))
                    for opens, closes in self.week[day.weekday()]
                )
            self._days[day] = found
        return found

    def day_seconds(self, day: date) -> float:
        return sum(max(0.0, closes - opens) for opens, closes in self.intervals(day))

    def _running(self, year: int) -> list[float]:
        """running[i] = open seconds of the year's first i days."""
        running = self._years.get(year)
        if running is None:
            running = [0.0]
            day = date(year, 1, 1)
            while day.year == year:
                running.append(running[-1] + self.day_seconds(day))
                day += timedelta(days=1)
            self._years[year] = running
        return running

    def _before(self, day: date) -> float:
        """Open seconds from 1 January of day's year up to (not including) day."""
        return self._running(day.year)[day.toordinal() - _NEW_YEAR[day.year]]

    def whole_days(self, first: date, stop: date) -> float:
        """Open seconds of the days first <= d < stop."""
        if stop <= first:
            return 0.0
        if first.year == stop.year:
            return self._before(stop) - self._before(first)
        total = self._running(first.year)[-1] - self._before(first)
        for year in range(first.year + 1, stop.year):
            total += self._running(year)[-1]
        return total + self._before(stop)

    def seconds_between(self, start: datetime, end: datetime) -> float:
        if end <= start:
            return 0.0
        first = start.astimezone(self.zone).date()
        last = end.astimezone(self.zone).date()
        low, high = start.timestamp(), end.timestamp()
        total = _overlap(self.intervals(first), low, high)
        if last != first:
            total += self.whole_days(first + timedelta(days=1), last)
            total += _overlap(self.intervals(last), low, high)
        return total


def _overlap(intervals: Iterable[Interval], low: float, high: float) -> float:
    return sum(max(0.0, min(closes, high) - max(opens, low)) for opens, closes in intervals)


def _key(hours: "BusinessHours") -> tuple[Any, ...]:
    return (
        hours.time_zone,
        json.dumps(hours.schedule, sort_keys=True),
        hours.holiday_country,
        hours.holiday_subdivision,
        hours.extra_holidays,
    )


@lru_cache(maxsize=64)
def _calendar_for(key: tuple[Any, ...]) -> Calendar:
    zone_name, schedule_json, country, subdivision, extra = key
    check_holiday_region(country, subdivision)
    return Calendar(
        zone=parse_zone(zone_name),
        week=parse_schedule(json.loads(schedule_json)),
        country=country,
        subdivision=subdivision,
        extra_closed=parse_extra_holidays(extra),
    )


def calendar(hours: "BusinessHours") -> Calendar:
    """The ready Calendar of a BusinessHours row; the same settings share one cache.

    Keyed on the settings rather than the row id, so an edited schedule is never
    answered from a stale cache; the instance keeps its Calendar too, since building
    the key costs more than the arithmetic (a rebuild asks once per conversation).
    Raises ScheduleError for settings that are invalid.
    """
    cheap = (
        hours.time_zone,
        hours.holiday_country,
        hours.holiday_subdivision,
        hours.extra_holidays,
    )
    kept = hours.__dict__.get("_heedful_calendar")
    if kept is not None and kept[0] is hours.schedule and kept[1] == cheap:
        return kept[2]
    found = _calendar_for(_key(hours))
    # The schedule is compared by identity: a new value is a new object, which re-keys.
    hours.__dict__["_heedful_calendar"] = (hours.schedule, cheap, found)
    return found


def business_seconds(start: datetime, end: datetime, hours: "BusinessHours | None") -> float | None:
    """Seconds between start and end that fall inside the schedule's open hours.

    None when there is no schedule (an inbox without business hours has no
    business-time figures); 0 when end is not after start. Raises ScheduleError
    when the schedule's settings are invalid.
    """
    if hours is None:
        return None
    return calendar(hours).seconds_between(start, end)
