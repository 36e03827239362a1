"""`load_demo`: customers and conversations over the last D days, written in bulk.

The same seed gives the same people, texts, structure and times relative to
the anchor (`until`, by default the start of today in UTC). Conversations are
made and written in fixed-size chunks, so memory stays flat at any size and
the chunking never changes the result. Everything happens in one transaction:
a failed load leaves nothing behind.
"""

import multiprocessing
import random
import time
from bisect import bisect
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from datetime import time as dtime
from itertools import accumulate
from queue import Empty
from typing import Any

from django.db import connection, transaction

from heedful.core.models import Counter
from heedful.core.outbox import mark_all_caught_up
from heedful.demo import help, texts
from heedful.demo.load import Loader, loader_for, table_name
from heedful.demo.people import make_people
from heedful.demo.story import FACT_WAIT, Batch, Clock, Ids, Setting, make_setting, tell
from heedful.demo.surveys import make_ledger
from heedful.demo.waves import write_waves
from heedful.demo.workspace import prepare_workspace
from heedful.insights.facts import local_day, rebuild_rollups, workspace_zone
from heedful.insights.models import Annotation

CHUNK = 5000  # conversations per chunk; part of the seed's meaning, keep it fixed
PEOPLE_CHUNK = 20000
# From this many conversations a second process makes the rows while this one writes.
PARALLEL_THRESHOLD = 20_000
# From this many new conversations (and at least as many as exist) indexes are
# dropped and rebuilt instead of updated row by row.
BULK_THRESHOLD = 50_000
CONVERSATION_TABLES = (
    "conversations",
    "messages",
    "events",
    "participants",
    "conversation_tags",
    "facts",
    "invitations",
    "responses",
    "opt_outs",
)
PEOPLE_TABLES = ("organizations", "customers", "identities")

# Relative load per hour of the day (UTC) and per weekday (Monday first).
HOURLY = (
    0.15, 0.1, 0.08, 0.08, 0.1, 0.2, 0.4, 0.7, 1.0, 1.2, 1.3, 1.3,
    1.2, 1.2, 1.3, 1.3, 1.2, 1.0, 0.8, 0.6, 0.5, 0.4, 0.3, 0.2,
)  # fmt: skip
WEEKDAYS = (1.15, 1.1, 1.05, 1.0, 0.95, 0.5, 0.45)
# The scenario: a self-service portal launches PORTAL_DAYS before the anchor (half
# the history in a demo shorter than PORTAL_MIN_HISTORY days) and from then on
# brings this many times the conversations, most about finding one's way in it
# (story.PORTAL_SHARE), with lower satisfaction (surveys.PORTAL_CSAT_WEIGHTS).
PORTAL_DAYS = 30
PORTAL_MIN_HISTORY = 60
PORTAL_UPLIFT = 1.12
# The demo's help-center articles were published this long before its history starts.
HELP_HEAD_START = 14 * 86400

Progress = Callable[[str], None]


@dataclass
class DemoSummary:
    customers: int = 0
    organizations: int = 0
    identities: int = 0
    conversations: int = 0
    messages: int = 0
    inbound: int = 0
    replies: int = 0
    notes: int = 0
    events: int = 0
    invitations: int = 0
    responses: int = 0
    opt_outs: int = 0
    portal_launch: date | None = None
    insights: int = 0
    help_articles: int = 0
    help_sessions: int = 0
    help_events: int = 0
    first_customer_id: int | None = None
    first_number: int | None = None
    last_number: int | None = None
    until: datetime | None = None
    bulk: bool = False
    seconds: float = 0.0
    phases: dict[str, float] = field(default_factory=dict)
    created: list[str] = field(default_factory=list)


def start_of_today() -> datetime:
    now = datetime.now(UTC)
    return now.replace(hour=0, minute=0, second=0, microsecond=0)


def load_demo(
    *,
    customers: int,
    conversations: int,
    days: int = 90,
    seed: int = 1,
    until: datetime | None = None,
    bulk: bool | None = None,
    progress: Progress | None = None,
    insights: bool = True,
    help_center: bool = True,
) -> DemoSummary:
    """Write the demo; `bulk` forces (or forbids) dropping indexes during the load.

    With `insights`, the change detector then runs for every day since the portal
    launch, as its daily job would have, so the Insights feed tells the scenario.
    With `help_center`, the demo help center's articles are written (once) and
    help-center visits go with the conversations (demo.help).
    """
    if customers < 1 and conversations > 0:
        raise ValueError("conversations need at least one customer")
    if days < 1:
        raise ValueError("days must be at least 1")
    say = progress or (lambda _message: None)
    started = time.monotonic()
    summary = DemoSummary(until=until or start_of_today())
    assert summary.until is not None
    anchor = int(summary.until.timestamp())
    window = (anchor - days * 86400, anchor)

    phase = _Phases(summary, say)
    workspace = prepare_workspace()
    summary.created = workspace.created
    loader = loader_for(connection)
    if bulk is None:
        from heedful.conversations.models import Conversation

        existing = Conversation.objects.count()
        bulk = conversations >= BULK_THRESHOLD and conversations >= existing
    summary.bulk = bulk
    with _sqlite_bulk_settings(), transaction.atomic():
        if bulk:
            loader.drop_secondary(PEOPLE_TABLES[1:] + CONVERSATION_TABLES)
            phase.done("drop_indexes", "dropped secondary indexes")
        clock = Clock()
        first_customer = summary.first_customer_id = loader.next_id("customers")
        people, chunks = make_people(
            count=customers,
            seed=seed,
            first_customer_id=first_customer,
            first_identity_id=loader.next_id("identities"),
            first_organization_id=loader.next_id("organizations"),
            created_at=clock(window[0]),
            chunk_size=PEOPLE_CHUNK,
            timestamp=clock,
            window=window,
        )
        for rows in chunks:
            loader.write("organizations", rows.organizations)
            loader.write("customers", rows.customers)
            loader.write("identities", rows.identities)
            summary.organizations += len(rows.organizations)
            summary.customers += len(rows.customers)
            summary.identities += len(rows.identities)
        phase.done(
            "customers", f"{summary.customers:,} customers, {summary.identities:,} identities"
        )

        first_message = loader.next_id("messages")
        launch = portal_launch(window)
        catalog = help.Catalog()
        if help_center:
            catalog = help.ensure_help_center(published=window[0] - HELP_HEAD_START, launch=launch)
            summary.help_articles = len(catalog.ids)
            phase.done("help_articles", f"{len(catalog.ids)} public help-center articles")
        if conversations:
            ledger = make_ledger(seed, customers)
            setting = make_setting(workspace, people, anchor, clock, ledger, launch)
            visits = help.HelpWriter(
                loader=loader,
                catalog=catalog,
                seed=seed,
                window=window,
                clock=clock,
                conversations=conversations,
            )
            _write_conversations(loader, setting, conversations, window, seed, summary, say, visits)
            finished = visits.finish()
            summary.help_sessions, summary.help_events = finished.sessions, finished.events
            summary.phases["help_visits"] = round(finished.seconds, 2)
            say(
                f"{finished.sessions:,} help-center visits, {finished.events:,} events, "
                f"{finished.votes:,} votes ({finished.seconds:.1f}s of the conversations' time)"
            )
            phase.done(
                "conversations",
                f"{summary.conversations:,} conversations, {summary.messages:,} messages, "
                f"{summary.invitations:,} surveys sent or scheduled, "
                f"{summary.responses:,} answered",
            )
            waves = write_waves(
                loader=loader, people=people, seed=seed, window=window, clock=clock, ledger=ledger
            )
            summary.invitations += waves.invitations
            summary.responses += waves.responses
            phase.done(
                "nps_waves",
                f"{waves.waves} NPS waves: {waves.invitations:,} surveys, "
                f"{waves.responses:,} answered",
            )
            _customers_since_first_contact(loader, first_customer, first_customer + customers)
            phase.done("first_contact", "customer first-contact times")
            summary.portal_launch = _annotate_launch(launch)
        if bulk:
            loader.restore_secondary()
            phase.done("rebuild_indexes", "rebuilt indexes")
        loader.index_messages_from(first_message)
        phase.done("search_index", "search index")
        loader.after_load(PEOPLE_TABLES + CONVERSATION_TABLES)
        if summary.last_number is not None:
            _counter_at_least(summary.last_number)
        rebuild_rollups(_local_days(*window))
        phase.done("rollups", "daily rollups")
        # The demo wrote its own facts and index: consumers need not replay it.
        mark_all_caught_up()
    phase.done("commit", "committed")
    if connection.vendor == "sqlite" and bulk and not connection.in_atomic_block:
        # Fold the write-ahead log into the database now rather than on a later write.
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        phase.done("checkpoint", "write-ahead log checkpointed")
    if insights and summary.portal_launch is not None:
        summary.insights = _detect_since(summary.portal_launch, summary.until, say)
        phase.done("insights", f"{summary.insights} insights found since the portal launch")
    summary.seconds = time.monotonic() - started
    return summary


def _detect_since(launch: date, until: datetime, say: Progress) -> int:
    """Run the daily change detector for each day after `launch` up to `until`'s day."""
    from heedful.insights.changes import detect_changes

    found = 0
    day = launch + timedelta(days=1)
    last = local_day(until)
    while day <= last:
        found += len(detect_changes(day=day))
        day += timedelta(days=1)
    return found


def _write_conversations(
    loader: Loader,
    setting: Setting,
    count: int,
    window: tuple[int, int],
    seed: int,
    summary: DemoSummary,
    say: Progress,
    visits: help.HelpWriter,
) -> None:
    last_number = Counter.next("conversation", count)
    ids = Ids(
        conversation=loader.next_id("conversations"),
        message=loader.next_id("messages"),
        number=last_number - count + 1,
        invitation=loader.next_id("invitations"),
    )
    summary.first_number, summary.last_number = ids.number, last_number
    plan = _Plan(setting, ids, count, window, seed)
    parallel = count >= PARALLEL_THRESHOLD and "fork" in multiprocessing.get_all_start_methods()
    batches = _made_elsewhere(plan) if parallel else _make_batches(plan)
    started = reported = time.monotonic()
    for batch in batches:
        for key in CONVERSATION_TABLES:
            loader.write(key, getattr(batch, key))
        visits.write(batch.contacts)
        _count(summary, batch)
        now = time.monotonic()
        if now - reported > 5 or summary.conversations == count:
            reported = now
            rate = summary.conversations / max(now - started, 1e-6)
            say(
                f"  {summary.conversations:,}/{count:,} conversations, "
                f"{summary.messages:,} messages ({rate:,.0f} conversations/s)"
            )


@dataclass
class _Plan:
    setting: Setting
    ids: Ids
    count: int
    window: tuple[int, int]
    seed: int


def _make_batches(plan: _Plan) -> Iterator[Batch]:
    hours = _hour_weights(*plan.window, launch=plan.setting.portal_launch)
    pending = plan.setting.facts
    for chunk_start in range(0, plan.count, CHUNK):
        rng = random.Random(f"heedful-demo:{plan.seed}:conversations:{chunk_start // CHUNK}")
        batch = Batch()
        created = plan.window[0]
        for position in range(chunk_start, min(plan.count, chunk_start + CHUNK)):
            created = _created_at(rng, position, plan.count, hours, plan.window[0])
            tell(plan.setting, batch, plan.ids, rng, created)
        # Solves long before the newest conversation can have no "next" one any more.
        pending.flush(batch, before=created - FACT_WAIT)
        yield batch
    last = Batch()
    pending.flush(last)
    yield last


def _made_elsewhere(plan: _Plan) -> Iterator[Batch]:
    """The same batches, made in a forked process while this one writes.

    Making rows and writing them each take one core; the database connection
    stays here and the child never touches it. Ids are handed out in chunk
    order in the child, exactly as `_make_batches` would here.
    """
    context = multiprocessing.get_context("fork")
    queue: Any = context.Queue(maxsize=4)
    child = context.Process(target=_produce, args=(plan, queue), daemon=True)
    child.start()
    try:
        while True:
            try:
                item = queue.get(timeout=5)
            except Empty:
                if not child.is_alive():
                    raise RuntimeError("the demo's row maker stopped unexpectedly") from None
                continue
            if item is None:
                break
            if isinstance(item, str):
                raise RuntimeError(f"the demo's row maker failed: {item}")
            yield item
    finally:
        if child.is_alive():
            child.terminate()
        child.join()


def _produce(plan: _Plan, queue: Any) -> None:
    try:
        for batch in _make_batches(plan):
            queue.put(batch)
    except Exception as exc:  # reported to the parent, which raises it
        queue.put(f"{type(exc).__name__}: {exc}")
        return
    queue.put(None)


def _count(summary: DemoSummary, batch: Batch) -> None:
    summary.conversations += len(batch.conversations)
    summary.messages += len(batch.messages)
    summary.events += len(batch.events)
    summary.inbound += batch.inbound
    summary.replies += batch.replies
    summary.notes += batch.notes
    summary.invitations += len(batch.invitations)
    summary.responses += len(batch.responses)
    summary.opt_outs += len(batch.opt_outs)


def _hour_weights(start: int, end: int, *, launch: int | None = None) -> list[float]:
    """Cumulative weight of each hour of the window: office hours, weekdays, growth,
    and the portal launch's extra conversations."""
    hours = max(1, (end - start) // 3600)
    weights = []
    for hour in range(hours):
        moment = datetime.fromtimestamp(start + hour * 3600, UTC)
        trend = 0.95 + 0.1 * hour / hours
        if launch is not None and start + hour * 3600 >= launch:
            trend *= PORTAL_UPLIFT
        weights.append(HOURLY[moment.hour] * WEEKDAYS[moment.weekday()] * trend)
    return list(accumulate(weights))


def portal_launch(window: tuple[int, int]) -> int:
    """When the scenario's portal launched: local midnight, PORTAL_DAYS before the end."""
    start, end = window
    days = (end - start) // 86400
    back = PORTAL_DAYS if days >= PORTAL_MIN_HISTORY else max(1, days // 2)
    day = local_day(datetime.fromtimestamp(end, UTC)) - timedelta(days=back)
    return int(datetime.combine(day, dtime.min, tzinfo=workspace_zone()).timestamp())


def _annotate_launch(launch: int) -> date:
    day = local_day(datetime.fromtimestamp(launch, UTC))
    Annotation.objects.get_or_create(
        day=day,
        title=texts.PORTAL_LAUNCH_TITLE,
        defaults={"description": texts.PORTAL_LAUNCH_DESCRIPTION},
    )
    return day


def _created_at(
    rng: random.Random, position: int, count: int, hours: list[float], start: int
) -> int:
    """Spread conversations over the window in order, so numbers follow time."""
    target = (position + rng.random()) / count * hours[-1]
    hour = min(bisect(hours, target), len(hours) - 1)
    before = hours[hour - 1] if hour else 0.0
    share = (target - before) / (hours[hour] - before)
    return start + hour * 3600 + min(3599, int(share * 3600))


def _customers_since_first_contact(loader: Loader, first_id: int, end_id: int) -> None:
    """A customer record starts with their first conversation, as `receive` creates it."""
    customers, identities = table_name("customers"), table_name("identities")
    conversations = table_name("conversations")
    first_contact = (
        f"SELECT customer_id, min(created_at) AS first FROM {conversations} "
        f"WHERE customer_id >= %s AND customer_id < %s GROUP BY customer_id"
    )
    loader.execute(
        f"UPDATE {customers} SET created_at = f.first, updated_at = f.first "
        f"FROM ({first_contact}) AS f WHERE {customers}.id = f.customer_id",
        [first_id, end_id],
    )
    loader.execute(
        f"UPDATE {identities} SET created_at = f.first "
        f"FROM ({first_contact}) AS f WHERE {identities}.customer_id = f.customer_id",
        [first_id, end_id],
    )


def _counter_at_least(number: int) -> None:
    Counter.objects.get_or_create(name="conversation")
    Counter.objects.filter(name="conversation", value__lt=number).update(value=number)


def _local_days(start: int, end: int) -> list[date]:
    first = local_day(datetime.fromtimestamp(start, UTC))
    last = local_day(datetime.fromtimestamp(end, UTC))
    return [first + timedelta(days=n) for n in range((last - first).days + 1)]


class _Phases:
    def __init__(self, summary: DemoSummary, say: Progress) -> None:
        self.summary = summary
        self.say = say
        self.last = time.monotonic()

    def done(self, key: str, what: str) -> None:
        now = time.monotonic()
        self.summary.phases[key] = round(now - self.last, 2)
        self.say(f"{what} ({now - self.last:.1f}s)")
        self.last = now


class _sqlite_bulk_settings:
    """Foreign key checks off and a bigger page cache while SQLite loads.

    Both pragmas only take effect outside a transaction, hence around it. The
    rows are consistent by construction; the tests check them.
    """

    def __enter__(self) -> None:
        self.saved: list[tuple[str, object]] = []
        if connection.vendor != "sqlite":
            return
        with connection.cursor() as cursor:
            for pragma, value in (("foreign_keys", 0), ("cache_size", -524288)):
                cursor.execute(f"PRAGMA {pragma}")
                self.saved.append((pragma, cursor.fetchone()[0]))
                cursor.execute(f"PRAGMA {pragma} = {value}")

    def __exit__(self, *exc: object) -> None:
        with connection.cursor() as cursor:
            for pragma, value in self.saved:
                cursor.execute(f"PRAGMA {pragma} = {int(value)}")  # type: ignore[call-overload]
