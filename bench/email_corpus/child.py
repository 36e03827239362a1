"""The email benchmark's steps inside Django, one process each, with the database and
queue from the environment bench/email_bench.py sets:

    python -m bench.email_corpus.child demo --customers C --conversations N
    python -m bench.email_corpus.child targets --count N --seed S
    python -m bench.email_corpus.child run --corpus DIR --inbox ID --workers K

`demo` loads the demo as bench/demo_load.py does (same arguments); `targets` picks
the existing messages the corpus replies to; `run` stores the corpus through
`ingest.accept`, starts K real `heedful worker` processes, waits until every
raw row is processed and every outbox consumer has caught up, and prints its
figures as one JSON line.
"""

import argparse
import json
import os
import random
import signal
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")

POLL_SECONDS = 0.2
BENCH_INBOX_ADDRESS = "bench-mail@support.test"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("demo", add_help=False)
    pick = commands.add_parser("targets")
    pick.add_argument("--count", type=int, required=True)
    pick.add_argument("--seed", type=int, required=True)
    run = commands.add_parser("run")
    run.add_argument("--corpus", type=Path, required=True)
    run.add_argument("--inbox", type=int, required=True)
    run.add_argument("--workers", type=int, required=True)
    run.add_argument("--threads", type=int, help="threads per worker (default: the setting)")
    run.add_argument("--stall-seconds", type=float, default=120.0)
    run.add_argument("--drain-seconds", type=float, default=180.0)
    run.add_argument("--log-dir", type=Path, required=True)
    args, rest = parser.parse_known_args()
    if rest and args.command != "demo":
        parser.error(f"unrecognized arguments: {' '.join(rest)}")

    import django

    django.setup()
    if args.command == "demo":
        load_demo(rest)
    elif args.command == "targets":
        print(json.dumps(targets(args.count, args.seed)))
    else:
        print(json.dumps(run_once(args)))


# --- the demo database ---------------------------------------------------------------------


def load_demo(argv: list[str]) -> None:
    """bench/demo_load.py, after `_fill_unknown_columns`."""
    from bench import demo_load

    sys.argv = ["demo_load", *argv]
    demo_load.main()


# --- reply targets ---------------------------------------------------------------------


def targets(count: int, seed: int) -> dict[str, Any]:
    """The email inbox the corpus goes to, and `count` inbound email messages it answers:
    open conversations (not closed or merged), so each reply threads into its own."""
    from heedful.conversations.models import Direction, Message, Status

    inbox = _email_inbox()
    ids = list(
        Message.objects.filter(
            direction=Direction.INBOUND,
            inbox__kind="email",
            external_id__isnull=False,
            sender_identity__isnull=False,
            conversation__merged_into__isnull=True,
        )
        .exclude(conversation__status=Status.CLOSED)
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    if len(ids) < count:
        raise SystemExit(f"only {len(ids)} inbound email messages to reply to, {count} wanted")
    chosen = sorted(random.Random(f"email-targets:{seed}").sample(ids, count))
    rows = {
        row["pk"]: row
        for row in Message.objects.filter(pk__in=chosen).values(
            "pk",
            "external_id",
            "sender_identity__address",
            "sender_identity__customer__name",
            "conversation__subject",
            "conversation_id",
        )
    }
    found = [
        {
            "message_id": rows[pk]["external_id"],
            "address": rows[pk]["sender_identity__address"],
            "name": rows[pk]["sender_identity__customer__name"] or "",
            "subject": rows[pk]["conversation__subject"] or "",
            "conversation_id": rows[pk]["conversation_id"],
        }
        for pk in chosen
    ]
    return {"inbox_id": inbox.pk, "inbox_address": inbox.address, "targets": found}


def _email_inbox() -> Any:
    """The demo's first email inbox; the bench adds its own when the demo has none."""
    from heedful.inboxes.models import Inbox

    inbox = Inbox.objects.filter(kind="email", is_active=True).order_by("pk").first()
    if inbox is None:
        inbox = Inbox.objects.create(kind="email", name="Bench mail", address=BENCH_INBOX_ADDRESS)
    return inbox


# --- one run ----------------------------------------------------------------------------


def run_once(args: argparse.Namespace) -> dict[str, Any]:
    from django.conf import settings
    from django.db import connection

    from heedful.conversations.models import Conversation, ConversationEvent, Message
    from heedful.inboxes.email.ingest import accept
    from heedful.inboxes.models import Inbox, RawInbound

    _flush_queue()
    inbox = Inbox.objects.get(pk=args.inbox)
    files = sorted(args.corpus.glob("*.eml"))
    before = {
        "messages": Message.objects.count(),
        "conversations": Conversation.objects.count(),
        "raw": RawInbound.objects.order_by("-pk").values_list("pk", flat=True).first() or 0,
        "event": _last_event(ConversationEvent),
    }
    sizes = []
    started = time.perf_counter()
    cpu_started = time.process_time()
    for index, path in enumerate(files):
        payload = path.read_bytes()
        sizes.append(len(payload))
        accept(inbox=inbox, payload=payload, source_key=f"bench:{index}")
    accept_seconds = time.perf_counter() - started
    accept_cpu = time.process_time() - cpu_started
    raw = RawInbound.objects.filter(pk__gt=before["raw"])
    if raw.count() != len(files):
        raise SystemExit(f"accept stored {raw.count()} raw rows for {len(files)} messages")

    workers, started = _start_workers(args)
    try:
        process_seconds = _wait_processed(raw, started, args.stall_seconds, workers)
        done_at = time.perf_counter()
        last_event = _last_event(ConversationEvent)
        drain = _wait_drained(last_event, done_at, args.drain_seconds)
        memory = [_peak_rss(worker.pid) for worker in workers]
        cpu = [_cpu_seconds(worker.pid) for worker in workers]
    finally:
        _stop(workers)
    statuses = Counter(raw.values_list("status", flat=True))
    reasons = Counter(
        raw.filter(status=RawInbound.Status.QUARANTINED).values_list("reason", flat=True)
    )
    count = len(files)
    return {
        "database": connection.vendor,
        "messages": count,
        "bytes": sum(sizes),
        "workers": len(workers),
        "threads_per_worker": args.threads or settings.HUEY["consumer"]["workers"],
        "max_email_bytes": settings.HEEDFUL_MAX_EMAIL_BYTES,
        "accept_seconds": round(accept_seconds, 3),
        "accept_per_second": round(count / accept_seconds, 1),
        "accept_cpu_ms_per_message": round(1000 * accept_cpu / count, 2),
        "process_seconds": round(process_seconds, 3),
        "process_per_second": round(count / process_seconds, 1),
        "end_to_end_seconds": round(accept_seconds + process_seconds, 3),
        "end_to_end_per_second": round(count / (accept_seconds + process_seconds), 1),
        "drain_seconds": drain,
        "events_written": last_event - before["event"],
        "statuses": dict(statuses),
        "quarantine_reasons": dict(reasons.most_common(5)),
        "messages_created": Message.objects.count() - before["messages"],
        "conversations_created": Conversation.objects.count() - before["conversations"],
        "worker_peak_rss_mib": memory,
        # CPU the workers spent (start-up and outbox work included): a figure that a
        # busy machine disturbs less than the rates.
        "worker_cpu_seconds": cpu,
        "worker_cpu_ms_per_message": round(1000 * sum(c or 0 for c in cpu) / count, 2),
    }


def _flush_queue() -> None:
    """Start from an empty queue: the whole Redis database, or the SQLite queue file."""
    from huey.contrib.djhuey import HUEY

    conn = getattr(HUEY.storage, "conn", None)
    if conn is not None and hasattr(conn, "flushdb"):
        conn.flushdb()
    else:
        HUEY.flush()


def _last_event(model: Any) -> int:
    return int(model.objects.order_by("-pk").values_list("pk", flat=True).first() or 0)


def _start_workers(args: argparse.Namespace) -> tuple[list[subprocess.Popen[bytes]], float]:
    """`heedful worker` processes, the first with the periodic jobs as a deployment runs
    them (the outbox catch-up every minute, the raw-input sweep)."""
    args.log_dir.mkdir(parents=True, exist_ok=True)
    workers = []
    started = time.perf_counter()
    for number in range(args.workers):
        command = [sys.executable, "-m", "heedful.cli", "worker"]
        if number == 0:
            command.append("--periodic")
        if args.threads:
            command += ["--threads", str(args.threads)]
        log = (args.log_dir / f"worker-{number + 1}.log").open("wb")
        workers.append(subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT))
    return workers, started


def _wait_processed(
    raw: Any, started: float, stall_seconds: float, workers: list[subprocess.Popen[bytes]]
) -> float:
    """Seconds from the workers' start until no raw row is left unprocessed."""
    from heedful.inboxes.models import RawInbound

    waiting = raw.filter(status=RawInbound.Status.RECEIVED)
    left = waiting.count()
    progress_at = time.perf_counter()
    while left:
        time.sleep(POLL_SECONDS)
        now_left = waiting.count()
        now = time.perf_counter()
        if now_left < left:
            left, progress_at = now_left, now
        elif now - progress_at > stall_seconds:
            raise SystemExit(f"no progress for {stall_seconds:.0f} s, {left} raw rows waiting")
        if any(worker.poll() is not None for worker in workers):
            raise SystemExit("a worker process exited during the run")
    return time.perf_counter() - started


def _wait_drained(last_event: int, since: float, limit: float) -> float | None:
    """Seconds after the last message until every outbox consumer reached `last_event`;
    None when they had not after `limit` seconds."""
    from django.utils.module_loading import autodiscover_modules

    from heedful.core.models import ConsumerCursor
    from heedful.core.outbox import consumers

    autodiscover_modules("tasks")
    names = set(consumers())
    while True:
        positions = dict(ConsumerCursor.objects.values_list("name", "position"))
        behind = [n for n in names | set(positions) if positions.get(n, 0) < last_event]
        now = time.perf_counter()
        if not behind:
            return round(now - since, 3)
        if now - since > limit:
            return None
        time.sleep(POLL_SECONDS)


def _peak_rss(pid: int) -> float | None:
    """The process's peak resident memory (VmHWM) in MiB, read before it stops."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return round(int(line.split()[1]) / 1024, 1)
    except OSError:
        return None
    return None


def _cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of a running process, from /proc/<pid>/stat."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[11]) + int(fields[12])  # utime, stime (fields 14 and 15)
    return round(ticks / os.sysconf("SC_CLK_TCK"), 2)


def _stop(workers: list[subprocess.Popen[bytes]]) -> None:
    for worker in workers:
        if worker.poll() is None:
            worker.send_signal(signal.SIGTERM)
    for worker in workers:
        try:
            worker.wait(timeout=60)
        except subprocess.TimeoutExpired:
            worker.kill()
            worker.wait()


if __name__ == "__main__":
    main()
