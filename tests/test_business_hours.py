"""service_levels.hours: seconds inside a weekly schedule, its time zone and holidays.

Every expected figure is worked out by hand in the test's comment.
"""

import zoneinfo
from datetime import UTC, datetime, timedelta

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from hypothesis import given, settings
from hypothesis import strategies as st

from heedful.service_levels.admin import BusinessHoursForm
from heedful.service_levels.hours import business_seconds, public_holidays
from heedful.service_levels.models import BusinessHours

H = 3600.0
NINE_TO_FIVE = [["09:00", "17:00"]]
WEEKDAYS = {day: NINE_TO_FIVE for day in ("mon", "tue", "wed", "thu", "fri")}
EVERY_DAY = {day: NINE_TO_FIVE for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
ALL_DAY = {day: [["00:00", "24:00"]] for day in ("mon", "tue", "wed", "thu", "fri", "sat", "sun")}
BERLIN = zoneinfo.ZoneInfo("Europe/Berlin")
NEW_YORK = zoneinfo.ZoneInfo("America/New_York")


def hours(schedule=None, zone="UTC", country="", subdivision="", extra="") -> BusinessHours:
    return BusinessHours(
        name="test",
        time_zone=zone,
        schedule=WEEKDAYS if schedule is None else schedule,
        holiday_country=country,
        holiday_subdivision=subdivision,
        extra_holidays=extra,
    )


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


# --- plain weeks -------------------------------------------------------------------------


def test_a_span_inside_one_working_day():
    # Monday 3 March 2025, 10:00-15:00 inside 09:00-17:00: 5 hours.
    assert business_seconds(utc(2025, 3, 3, 10), utc(2025, 3, 3, 15), hours()) == 5 * H


def test_a_span_before_opening_counts_from_opening():
    # 07:00-10:00: only 09:00-10:00 is open.
    assert business_seconds(utc(2025, 3, 3, 7), utc(2025, 3, 3, 10), hours()) == 1 * H


def test_overnight_counts_only_the_open_ends_of_both_days():
    # Monday 16:00 to Tuesday 10:00: 16-17 on Monday and 9-10 on Tuesday.
    assert business_seconds(utc(2025, 3, 3, 16), utc(2025, 3, 4, 10), hours()) == 2 * H


def test_a_night_while_closed_is_nothing():
    # Monday 17:30 to Tuesday 08:30: closed throughout.
    assert business_seconds(utc(2025, 3, 3, 17, 30), utc(2025, 3, 4, 8, 30), hours()) == 0


def test_a_night_shift_spans_midnight_as_two_intervals():
    # 22:00-24:00 on Monday and 00:00-06:00 on Tuesday; Monday 23:00 to Tuesday 05:00 = 6 h.
    shift = {"mon": [["22:00", "24:00"]], "tue": [["00:00", "06:00"]]}
    assert business_seconds(utc(2025, 3, 3, 23), utc(2025, 3, 4, 5), hours(shift)) == 6 * H


def test_a_weekend_is_closed():
    # Friday 7 March 16:00 to Monday 10 March 10:00: 1 h Friday + 1 h Monday.
    assert business_seconds(utc(2025, 3, 7, 16), utc(2025, 3, 10, 10), hours()) == 2 * H


def test_split_days_count_both_intervals():
    # 09:00-12:00 and 13:00-17:00; 11:00-14:00 covers 1 h + 1 h.
    split = {"mon": [["09:00", "12:00"], ["13:00", "17:00"]]}
    assert business_seconds(utc(2025, 3, 3, 11), utc(2025, 3, 3, 14), hours(split)) == 2 * H


def test_a_span_across_new_year_adds_whole_days():
    # Mon 30 Dec 2024 09:00 to Mon 6 Jan 2025 09:00: five weekdays x 8 h (no holidays set).
    assert business_seconds(utc(2024, 12, 30, 9), utc(2025, 1, 6, 9), hours()) == 40 * H


def test_two_years_of_weeks():
    # Mon 2 Jan 2023 to Mon 30 Dec 2024 is 728 days = 104 weeks of 5 x 8 h.
    assert business_seconds(utc(2023, 1, 2), utc(2024, 12, 30), hours()) == 104 * 40 * H


def test_the_schedule_is_read_in_its_own_time_zone():
    # New York 09:00-17:00 EST is 14:00-22:00 UTC; 12:00-16:00 UTC overlaps 14-16 = 2 h.
    ny = hours(zone="America/New_York")
    assert business_seconds(utc(2025, 3, 3, 12), utc(2025, 3, 3, 16), ny) == 2 * H


# --- holidays --------------------------------------------------------------------------


def test_a_public_holiday_is_closed():
    # Friday 3 October 2025 is German Unity Day. Thursday 16:00 to Monday 10:00 Berlin time:
    # 1 h Thursday + 0 Friday + 1 h Monday.
    berlin = hours(zone="Europe/Berlin", country="DE")
    start = datetime(2025, 10, 2, 16, tzinfo=BERLIN)
    end = datetime(2025, 10, 6, 10, tzinfo=BERLIN)
    assert business_seconds(start, end, berlin) == 2 * H
    # Without the country the Friday counts: 1 + 8 + 1.
    assert business_seconds(start, end, hours(zone="Europe/Berlin")) == 10 * H


def test_a_regional_holiday_needs_its_subdivision():
    # Epiphany (Mon 6 Jan 2025) is a holiday in Bavaria, not in Berlin.
    start, end = datetime(2025, 1, 6, tzinfo=BERLIN), datetime(2025, 1, 7, tzinfo=BERLIN)
    assert business_seconds(start, end, hours(zone="Europe/Berlin", country="DE")) == 8 * H
    bavaria = hours(zone="Europe/Berlin", country="DE", subdivision="BY")
    assert business_seconds(start, end, bavaria) == 0


def test_own_closed_days_with_comments():
    # Wednesday 24 December 2025 is listed as closed; the text after the date is a comment.
    closed = hours(extra="2025-12-24 Christmas Eve\n\n2025-12-31")
    assert business_seconds(utc(2025, 12, 24), utc(2025, 12, 25), closed) == 0
    assert business_seconds(utc(2025, 12, 23), utc(2025, 12, 24), closed) == 8 * H


def test_holiday_sets_are_cached_per_country_subdivision_and_year():
    public_holidays.cache_clear()
    berlin = hours(zone="Europe/Berlin", country="DE")
    business_seconds(
        datetime(2025, 1, 1, tzinfo=BERLIN), datetime(2025, 12, 31, tzinfo=BERLIN), berlin
    )
    first = public_holidays.cache_info()
    business_seconds(
        datetime(2025, 2, 1, tzinfo=BERLIN), datetime(2025, 11, 30, tzinfo=BERLIN), berlin
    )
    assert public_holidays.cache_info().misses == first.misses


# --- daylight saving -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("zone", "day"),
    [
        (BERLIN, (2025, 3, 30)),  # spring forward: 02:00 -> 03:00
        (BERLIN, (2025, 10, 26)),  # fall back: 03:00 -> 02:00
        (NEW_YORK, (2025, 3, 9)),
        (NEW_YORK, (2025, 11, 2)),
    ],
)
def test_a_nine_to_five_day_is_eight_hours_on_a_change_day(zone, day):
    start = datetime(*day, tzinfo=zone)
    end = start + timedelta(days=1)
    assert business_seconds(start, end, hours(EVERY_DAY, zone=zone.key)) == 8 * H


@pytest.mark.parametrize(
    ("zone", "day", "length"),
    [
        (BERLIN, (2025, 3, 30), 23),
        (BERLIN, (2025, 10, 26), 25),
        (NEW_YORK, (2025, 3, 9), 23),
        (NEW_YORK, (2025, 11, 2), 25),
    ],
)
def test_a_whole_day_schedule_follows_the_clock_change(zone, day, length):
    # Midnight to midnight local time lasts 23 h in spring and 25 h in autumn.
    start = datetime(*day, tzinfo=zone)
    following = datetime.combine(start.date() + timedelta(days=1), start.time(), tzinfo=zone)
    assert business_seconds(start, following, hours(ALL_DAY, zone=zone.key)) == length * H


def test_an_opening_time_the_clocks_skip_opens_when_they_jump():
    # Berlin, 30 March 2025: 02:30 does not exist; 02:30-04:00 opens at the jump
    # (01:00 UTC, 03:00 local) and runs to 04:00 local = 1 h.
    sunday = {"sun": [["02:30", "04:00"]]}
    day = hours(sunday, zone="Europe/Berlin")
    assert business_seconds(utc(2025, 3, 29), utc(2025, 3, 31), day) == 1 * H


def test_a_closing_time_the_clocks_skip_closes_when_they_jump():
    # Berlin, 30 March 2025: 01:30-02:30 closes at the jump (02:00 became 03:00): 30 min.
    sunday = {"sun": [["01:30", "02:30"]]}
    day = hours(sunday, zone="Europe/Berlin")
    assert business_seconds(utc(2025, 3, 29), utc(2025, 3, 31), day) == 0.5 * H


def test_a_repeated_local_time_is_its_first_occurrence():
    # New York, 2 November 2025: 01:00-02:00 happens twice. 01:30-03:00 runs from the
    # first 01:30 (EDT, 05:30 UTC) to 03:00 EST (08:00 UTC) = 2.5 h of real time.
    sunday = {"sun": [["01:30", "03:00"]]}
    day = hours(sunday, zone="America/New_York")
    assert business_seconds(utc(2025, 11, 1), utc(2025, 11, 3), day) == 2.5 * H


# --- edges -------------------------------------------------------------------------------


def test_an_end_before_the_start_is_zero():
    assert business_seconds(utc(2025, 3, 3, 15), utc(2025, 3, 3, 10), hours()) == 0


def test_no_schedule_means_no_business_figure():
    assert business_seconds(utc(2025, 3, 3, 10), utc(2025, 3, 3, 15), None) is None


def _minute_walk(start: datetime, end: datetime, schedule: BusinessHours) -> float:
    """The slow, obvious count: every UTC minute whose local wall time is open."""
    from heedful.service_levels.hours import parse_extra_holidays, parse_schedule

    zone = zoneinfo.ZoneInfo(schedule.time_zone)
    week = parse_schedule(schedule.schedule)
    closed = parse_extra_holidays(schedule.extra_holidays)
    total, moment = 0.0, start
    while moment < end:
        local = moment.astimezone(zone)
        minute = local.hour * 60 + local.minute
        holiday = local.date() in closed or local.date() in public_holidays(
            schedule.holiday_country, schedule.holiday_subdivision, local.year
        )
        if not holiday and any(o <= minute < c for o, c in week[local.weekday()]):
            total += 60
        moment += timedelta(minutes=1)
    return total


@settings(max_examples=25, deadline=None)
@given(
    start=st.integers(min_value=0, max_value=2 * 365 * 24 * 60),
    length=st.integers(min_value=0, max_value=9 * 24 * 60),
)
def test_agrees_with_a_minute_by_minute_walk(start, length):
    # Whole-hour schedules, so no interval starts inside a skipped or repeated hour.
    schedule = hours(
        {**WEEKDAYS, "sat": [["10:00", "14:00"]], "sun": [["00:00", "02:00"], ["04:00", "24:00"]]},
        zone="Europe/Berlin",
        country="DE",
        extra="2025-05-02",
    )
    begin = utc(2024, 6, 1) + timedelta(minutes=start)
    finish = begin + timedelta(minutes=length)
    assert business_seconds(begin, finish, schedule) == _minute_walk(begin, finish, schedule)


# --- validation ----------------------------------------------------------------------------


def errors_of(**fields: object) -> dict[str, list[str]]:
    try:
        hours(**fields).clean()  # type: ignore[arg-type]
    except ValidationError as error:
        return error.message_dict
    return {}


def test_a_valid_schedule_passes():
    assert errors_of(zone="Europe/Berlin", country="DE", subdivision="BY", extra="2025-12-24") == {}


@pytest.mark.parametrize(
    ("schedule", "says"),
    [
        ({"monday": NINE_TO_FIVE}, "Unknown weekday 'monday'"),
        ({"mon": [["9am", "17:00"]]}, "'9am' is not a time of day"),
        ({"mon": [["17:00", "09:00"]]}, "must end after it starts"),
        ({"mon": [["09:00", "13:00"], ["12:00", "17:00"]]}, "intervals overlap"),
        ({"mon": [["09:00"]]}, "each interval is a pair"),
        (["09:00", "17:00"], "must map weekdays"),
        ({"mon": [["24:30", "25:00"]]}, "is not a time of day"),
    ],
)
def test_a_bad_schedule_is_a_field_error(schedule, says):
    assert says in " ".join(errors_of(schedule=schedule)["schedule"])


def test_a_bad_time_zone_is_a_field_error():
    assert "not a known time zone" in errors_of(zone="Mars/Olympus")["time_zone"][0]


def test_a_bad_country_is_a_field_error():
    assert "not a country" in errors_of(country="XX")["holiday_country"][0]


def test_a_bad_subdivision_is_a_field_error():
    assert (
        "not a subdivision of DE"
        in errors_of(country="DE", subdivision="ZZ")["holiday_subdivision"][0]
    )


def test_a_bad_extra_holiday_is_a_field_error():
    assert "Line 2" in errors_of(extra="2025-12-24\n24.12.2025")["extra_holidays"][0]


@pytest.mark.django_db
def test_the_admin_form_shows_a_bad_schedule_as_an_error():
    form = BusinessHoursForm(
        data={
            "name": "Office",
            "time_zone": "Europe/Berlin",
            "schedule": '{"mon": [["17:00", "09:00"]]}',
        }
    )
    assert not form.is_valid()
    assert "must end after it starts" in form.errors["schedule"][0]


@pytest.mark.django_db
def test_the_admin_saves_good_hours_and_refuses_bad_ones(cast):
    client = Client()
    client.force_login(cast.admin)
    good = {
        "name": "Berlin office",
        "time_zone": "Europe/Berlin",
        "schedule": '{"mon": [["09:00", "17:00"]]}',
        "holiday_country": "DE",
        "holiday_subdivision": "",
        "extra_holidays": "2025-12-24 Christmas Eve",
    }
    assert client.post("/admin/service_levels/businesshours/add/", good).status_code == 302
    bad = good | {"name": "Mars office", "holiday_country": "XX", "schedule": "{not json"}
    response = client.post("/admin/service_levels/businesshours/add/", bad)
    assert response.status_code == 200
    assert b"Enter a valid JSON" in response.content
    assert BusinessHours.objects.filter(name="Berlin office").exists()
    assert not BusinessHours.objects.filter(name="Mars office").exists()


@pytest.mark.django_db
def test_the_inbox_admin_form_assigns_business_hours(cast):
    from heedful.inboxes.admin import InboxForm

    office = BusinessHours.objects.create(name="Office", schedule=WEEKDAYS)
    form = InboxForm(
        data={
            "kind": "webform",
            "name": "Contact form two",
            "settings": "{}",
            "is_active": "on",
            "business_hours": office.pk,
        }
    )
    assert form.is_valid(), form.errors
    assert form.save().business_hours == office
