"""The relationship (NPS) survey waves of a demo, after its conversations are written.

A wave runs every NPS_EVERY_DAYS days, the last one a week before the anchor,
and goes by email to the customers with a conversation in the NPS_RECENT_DAYS
before it, minus those surveyed within the fatigue window and those who opted
out, exactly as the periodic NPS job would pick them.
"""

import random
from dataclasses import dataclass
from datetime import UTC, datetime

from heedful.conversations.models import Conversation
from heedful.demo import surveys
from heedful.demo.load import Loader
from heedful.demo.people import People
from heedful.demo.story import Clock
from heedful.surveys.models import SurveyInvitation, SurveyOptOut, SurveySettings

DAY = surveys.DAY
WAVE_HOUR = 10  # the NPS job's round, in UTC


@dataclass
class WaveSummary:
    waves: int = 0
    invitations: int = 0
    responses: int = 0
    last_wave: int | None = None


def wave_times(start: int, until: int) -> list[int]:
    """Oldest first: every NPS_EVERY_DAYS days back from a week before `until`."""
    times = []
    at = until - 7 * DAY + WAVE_HOUR * 3600
    while at - 7 * DAY >= start:  # a week of contacts at least
        times.append(at)
        at -= surveys.NPS_EVERY_DAYS * DAY
    return times[::-1]


def write_waves(
    *,
    loader: Loader,
    people: People,
    seed: int,
    window: tuple[int, int],
    clock: Clock,
    ledger: surveys.Ledger,
) -> WaveSummary:
    first = people.first_customer_id
    end = first + len(people)
    _fill_ledger(ledger, first, end)
    counter = _Next(loader.next_id("invitations"))
    summary = WaveSummary()
    emails = people.identities["email"]
    for number, at in enumerate(wave_times(*window)):
        rng = random.Random(f"heedful-demo:{seed}:nps:{number}")
        rows = surveys.SurveyRows()
        writer = surveys.Writer(rows, counter, ledger, window[1], clock)
        for customer_id in _recent_customers(first, end, at):
            position = customer_id - first
            if emails[position]:
                writer.wave(rng, surveys.Subject(position, customer_id), at)
        loader.write("invitations", rows.invitations)
        loader.write("responses", rows.responses)
        loader.write("opt_outs", rows.opt_outs)
        summary.waves += 1
        summary.invitations += len(rows.invitations)
        summary.responses += len(rows.responses)
        summary.last_wave = at
    if summary.last_wave is not None:
        _nps_enabled(summary.last_wave)
    return summary


@dataclass
class _Next:
    invitation: int


def _fill_ledger(ledger: surveys.Ledger, first: int, end: int) -> None:
    """The surveys already written, so the waves keep to the fatigue rule and opt-outs."""
    ledger.sent.clear()
    ledger.opted_out.clear()
    sent = SurveyInvitation.objects.filter(customer_id__gte=first, customer_id__lt=end)
    for customer_id, due in sent.values_list("customer_id", "due_at").order_by("due_at"):
        ledger.sent.setdefault(customer_id - first, []).append(int(due.timestamp()))
    opted = SurveyOptOut.objects.filter(customer_id__gte=first, customer_id__lt=end)
    for customer_id, since in opted.values_list("customer_id", "created_at"):
        ledger.opted_out[customer_id - first] = int(since.timestamp())


def _recent_customers(first: int, end: int, at: int) -> list[int]:
    since = datetime.fromtimestamp(at - surveys.NPS_RECENT_DAYS * DAY, UTC)
    recent = Conversation.objects.filter(
        customer_id__gte=first,
        customer_id__lt=end,
        created_at__gte=since,
        created_at__lt=datetime.fromtimestamp(at, UTC),
    )
    return sorted(set(recent.values_list("customer_id", flat=True)))


def _nps_enabled(last_wave: int) -> None:
    """Turn the NPS job on, with the demo's last wave as its last run, so the next
    real wave comes NPS_EVERY_DAYS later instead of at once."""
    settings, _ = SurveySettings.objects.get_or_create(pk=1)
    last = datetime.fromtimestamp(last_wave, UTC)
    if settings.nps_last_run_at is None or settings.nps_last_run_at < last:
        settings.nps_enabled = True
        settings.nps_last_run_at = last
        settings.save(update_fields=["nps_enabled", "nps_last_run_at"])
