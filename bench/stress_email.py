"""`make stress`: the full email crash test (20 kills, 1,000 messages by default).

Starts a Dovecot of its own on loopback, places the messages in a mailbox with APPEND,
then imports them with `heedful fetch_email` subprocesses killed with SIGKILL at random
points (tests/test_email_crash.py has the procedure). Afterwards every message must be
stored exactly once and none may have been \\Seen on the server without its raw row.

SQLite by default; with DATABASE_URL=postgres://... it uses a fresh database on that
server. Prints one JSON object and writes it to bench/results/; exits 1 on a failure.
"""

import argparse
import dataclasses
import json
import platform
import random
import sys
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
RESULTS = ROOT / "bench" / "results"
sys.path.insert(0, str(ROOT))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=1000)
    parser.add_argument("--kills", type=int, default=20)
    parser.add_argument("--seed", type=int, default=None, help="Repeat a run's kill points.")
    args = parser.parse_args()
    seed = args.seed if args.seed is not None else random.randrange(1, 10**6)

    from tests.mailserver import start_server
    from tests.test_email_crash import run_crash_test

    started = datetime.now(UTC)
    server = start_server()
    try:
        result = run_crash_test(server, messages=args.messages, kills=args.kills, seed=seed)
    finally:
        server.remove()
    report = {
        "benchmark": "email crash test",
        "started_at": started.isoformat(timespec="seconds"),
        "host": platform.node(),
        "seed": seed,
        "ok": result.ok,
        **dataclasses.asdict(result),
    }
    report["database"] = report["database"].split("://", 1)[0]  # no credentials in results
    text = json.dumps(report, indent=2) + "\n"
    RESULTS.mkdir(exist_ok=True)
    stamp = started.strftime("%Y-%m-%dT%H%M%SZ")
    (RESULTS / f"{stamp}-{report['host'] or 'host'}-stress-email.json").write_text(text)
    print(json.dumps(report))
    return 0 if result.ok else 1


if __name__ == "__main__":
    sys.exit(main())
