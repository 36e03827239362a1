"""One `receive` throughput run, in its own process so settings come from the environment.

Builds web-form submissions exactly as the contact form does
(`from_raw(inbox, to_raw(fields, []))`) and passes each to `receive`, which
commits it and rings the outbox doorbell after commit: a Huey task enqueued in
the configured storage (a SQLite file beside the database, or Redis). No Huey
consumer runs, so the queued tasks only cost their enqueue.

Prints one JSON object: messages, seconds, messages per second.
"""

import argparse
import json
import os
import random
import sys
import time
from typing import Any

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")


def submissions(count: int, run: int, seed: int) -> list[dict[str, Any]]:
    """Web-form-sized requests: 60% from new people, 40% from people who wrote before."""
    from heedful.demo import texts

    rng = random.Random(f"bench-receive:{seed}:{run}")
    people: list[tuple[str, str]] = []
    rows = []
    for n in range(count):
        if people and rng.random() < 0.4:
            name, email = rng.choice(people)
        else:
            first, last = rng.choice(texts.FIRST_NAMES), rng.choice(texts.LAST_NAMES)
            name = f"{first} {last}"
            email = f"{first}.{last}.r{run}n{n}@bench.example.com".lower()
            people.append((name, email))
        topic = rng.choice(texts.TOPICS)
        values = {
            "first": name.split()[0],
            "agent": "",
            "order": f"A-{rng.randint(100000, 999999)}",
            "product": rng.choice(texts.PRODUCTS),
            "amount": f"${rng.randint(9, 400)}.00",
            "invoice": f"INV-{rng.randint(10000, 99999)}",
            "carrier": rng.choice(texts.CARRIERS),
            "days": str(rng.randint(3, 14)),
            "weekday": rng.choice(texts.WEEKDAYS),
            "code": str(rng.randint(1000, 9999)),
            "plan": rng.choice(texts.PLANS),
        }
        body = " ".join(rng.choice(topic.openings).format_map(values) for _ in range(2))
        rows.append(
            {
                "name": name,
                "email": email,
                "subject": rng.choice(topic.subjects).format_map(values),
                "message": f"Hello,\n\n{body}\n\nThanks,\n{values['first']}",
                "submission_id": f"{seed:x}-{run:x}-{n:x}-{rng.getrandbits(64):016x}",
                "client_ip": f"198.51.100.{rng.randint(1, 254)}",
            }
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--run", type=int, default=0, help="Run number: new people per run.")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--warmup", type=int, default=100)
    parser.add_argument(
        "--flush-queue", action="store_true", help="empty this Huey queue first (bench only)"
    )
    args = parser.parse_args()

    import django

    django.setup()
    from django.db import connection

    from heedful.conversations.models import Message
    from heedful.conversations.services import receive
    from heedful.inboxes.models import Inbox
    from heedful.inboxes.webform.intake import from_raw, to_raw

    if args.flush_queue:
        from huey.contrib.djhuey import HUEY

        HUEY.flush()
    inbox = Inbox.objects.filter(kind="webform").order_by("pk").first()
    if inbox is None:
        sys.exit("no web form inbox")
    warm = submissions(args.warmup, 1000 + args.run, args.seed)
    timed = submissions(args.messages, args.run, args.seed)
    for fields in warm:  # imports, caches and the first connections, not measured
        receive(from_raw(inbox, to_raw(fields, [])))
    # As in `heedful run`, where web and worker share one process: the worker's WAL
    # checkpointer runs beside the requests (SQLite only; a no-op elsewhere).
    import threading

    from heedful.core import checkpoint

    stop = threading.Event()
    checkpoint.start(stop)
    before = Message.objects.count()
    started = time.perf_counter()
    for fields in timed:
        receive(from_raw(inbox, to_raw(fields, [])))
    seconds = time.perf_counter() - started
    stop.set()
    stored = Message.objects.count() - before
    if stored != args.messages:
        sys.exit(f"expected {args.messages} new messages, found {stored}")
    print(
        json.dumps(
            {
                "messages": stored,
                "seconds": round(seconds, 3),
                "per_second": round(stored / seconds, 1),
                "database": connection.vendor,
            }
        )
    )


if __name__ == "__main__":
    main()
