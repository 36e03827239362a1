"""Inbound email through the whole pipeline, into a database of 10,000 and of 1,000,000
conversations (issue 4, item 9).

For each database (SQLite, and PostgreSQL with Redis as the queue) and each size:

1. Build the demo database once and keep it: a SQLite file under
   `--data-dir`/email, or the PostgreSQL database heedful_bench_email_<size>.
   Later runs reuse it (`--rebuild` starts over).
2. Pick, in that database, the inbound email messages the corpus replies to, and
   write the corpus once under `--data-dir`/email/corpus-...: `--messages` RFC 822
   messages (default 10,000) from bench/email_corpus/corpus.py, half opening new
   conversations and half replying (In-Reply-To / References) to those messages;
   2 KB to 200 KB, most small, a tenth with a PDF or PNG attachment, a third with
   an HTML part, replies quoting their history.
3. Each run starts from a copy of the built database (a file copy, or CREATE
   DATABASE ... TEMPLATE) and an empty queue (the SQLite queue file, or Redis
   database `--redis`, flushed). One process stores every message with
   `ingest.accept` (raw bytes first, then the doorbell: a `process_raw` task);
   then 1 or 2 `heedful worker` processes start (the first with --periodic, as a
   deployment runs them) and process the queue. Measured: accept rate, processing
   rate (workers started -> no raw row left unprocessed), end to end; then the
   seconds until every outbox consumer (search index, facts) has passed the last
   event; then each worker's peak RSS (VmHWM).

Targets: processing >= 100 messages/s per worker process; rate at 1M >= 0.9 x rate
at 10k; outbox drained within 60 s of the last message; worker peak RSS < 200 MiB.
Median of `--runs` runs (default 3). Sizes and worker counts take turns within each
run round, so a slow spell of the machine hits them alike.

Figures are printed and written as JSON to bench/results/<time>-email-<database>.json.
`python bench/email_bench.py --quick`: 1,000 messages, the 10,000-conversation database
only, one run.
"""

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# Not bench/email.py: scripts in bench/ run with that folder first on sys.path, where
# such a file would stand in for the standard library's `email` package.
BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import workspace  # noqa: E402
from bench.run import head_commit, last_json, load, machine, say  # noqa: E402

RESULTS = BENCH_DIR / "results"
CACHE_VERSION = 2  # bump when what a cached database or corpus holds changes
SEED = 1
TARGET_PER_WORKER = 100.0  # messages per second per worker process
TARGET_RATIO = 0.9  # rate at the largest size / rate at the smallest
TARGET_DRAIN_SECONDS = 60.0
TARGET_RSS_MIB = 200.0
CHILD = ["-m", "bench.email_corpus.child"]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="smoke check: see above")
    parser.add_argument("--db", choices=("sqlite", "postgres", "both"), default="both")
    parser.add_argument("--runs", type=int, help="runs per figure (default 3, --quick 1)")
    parser.add_argument("--workers", default="1,2", help="worker process counts, e.g. 1,2")
    parser.add_argument("--threads", type=int, help="threads per worker (default: setting)")
    parser.add_argument("--messages", type=int, help="corpus size (default 10000, --quick 1000)")
    parser.add_argument(
        "--sizes", help="demo sizes in conversations (default 10000,1000000; --quick 10000)"
    )
    parser.add_argument(
        "--max-email-bytes",
        type=int,
        default=int(os.environ.get("HEEDFUL_MAX_EMAIL_BYTES", 25 * 1024 * 1024)),
        help="HEEDFUL_MAX_EMAIL_BYTES for the run (default 25 MiB)",
    )
    parser.add_argument("--seed", type=int, default=SEED, help="corpus seed")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "heedful-bench"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
        help="server URL; the bench creates its own databases heedful_bench_email_* there",
    )
    parser.add_argument(
        "--redis",
        default=os.environ.get("BENCH_EMAIL_REDIS_URL", "redis://127.0.0.1:6379/5"),
        help="the Huey queue on PostgreSQL; this Redis database is flushed before each run",
    )
    parser.add_argument("--rebuild", action="store_true", help="rebuild cached databases")
    parser.add_argument("--prepare-only", action="store_true", help="build the caches, stop")
    parser.add_argument("--output", type=Path, help="result file (one database only)")
    args = parser.parse_args(argv)
    args.runs = args.runs or (1 if args.quick else 3)
    args.messages = args.messages or (1_000 if args.quick else 10_000)
    args.sizes = sorted(set(_numbers(args.sizes or ("10000" if args.quick else "10000,1000000"))))
    args.workers = sorted(set(_numbers(args.workers)))
    if args.messages < 2 or args.messages % 2:
        parser.error("--messages must be an even number: half new, half replies")
    return args


def _numbers(text: str) -> list[int]:
    return [int(part.strip().replace("_", "")) for part in text.split(",") if part.strip()]


# --- databases: a cached demo per size, and the copy each run works on --------------------


def _child_env(env: dict[str, str], args: argparse.Namespace) -> dict[str, str]:
    # A caller's PYTHONPATH stays in front (e.g. a scratch copy of src/ under trial).
    outer = os.environ.get("PYTHONPATH")
    if outer:
        env["PYTHONPATH"] = os.pathsep.join([outer, env["PYTHONPATH"]])
    env["HEEDFUL_MAX_EMAIL_BYTES"] = str(args.max_email_bytes)
    return env


def _demo_argv(argv: list[str]) -> list[str]:
    """workspace.Target.prepare runs bench/demo_load.py; run it through the child, which
    first lets the loader fill columns it does not know yet (see child.load_demo)."""
    if argv and argv[0] == str(BENCH_DIR / "demo_load.py"):
        return [*CHILD, "demo", *argv[1:]]
    return argv


class Sqlite(workspace.Sqlite):
    def run(self, size: int, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return super().run(size, _demo_argv(argv))

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.home = args.data_dir / "email"

    def env(self, size: int) -> dict[str, str]:
        return _child_env(super().env(size), self.args)

    def run_dir(self) -> Path:
        return self.home / "sqlite-run"

    def run_env(self) -> dict[str, str]:
        env = self.env(0)
        env["HEEDFUL_DATA_DIR"] = str(self.run_dir())
        return env

    def restore(self, size: int) -> None:
        """The run's database: a copy of the cached one, with a fresh, empty queue file."""
        target = self.run_dir()
        shutil.rmtree(target, ignore_errors=True)
        target.mkdir(parents=True)
        for name in ("heedful.sqlite3", "heedful.sqlite3-wal", "secret_key"):
            source = self.directory(size) / name
            if source.exists():
                shutil.copyfile(source, target / name)

    def discard_run(self) -> None:
        shutil.rmtree(self.run_dir(), ignore_errors=True)


class Postgres(workspace.Postgres):
    RUN_DATABASE = "heedful_bench_email_run"

    def run(self, size: int, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return super().run(size, _demo_argv(argv))

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.home = args.data_dir / "email"

    def database(self, size: int) -> str:
        return f"heedful_bench_email_{size}"

    def env(self, size: int) -> dict[str, str]:
        env = _child_env(super().env(size), self.args)
        env["HEEDFUL_HUEY_NAME"] = "heedful-bench-email"
        return env

    def run_env(self) -> dict[str, str]:
        env = self.env(0)
        env["DATABASE_URL"] = self.url(self.RUN_DATABASE)
        env["HEEDFUL_DATA_DIR"] = str(self.home / "postgresql-run")
        return env

    def restore(self, size: int) -> None:
        """The run's database: a file copy of the cached one (much faster than the
        default WAL_LOG strategy for a database of several GiB)."""
        (self.home / "postgresql-run").mkdir(parents=True, exist_ok=True)
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.RUN_DATABASE}" WITH (FORCE)')
            conn.execute(
                f'CREATE DATABASE "{self.RUN_DATABASE}" '
                f'TEMPLATE "{self.database(size)}" STRATEGY FILE_COPY'
            )

    def discard_run(self) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.RUN_DATABASE}" WITH (FORCE)')


Target = Sqlite | Postgres


def run_child(env: dict[str, str], argv: list[str], what: str) -> dict[str, Any]:
    result = subprocess.run(
        [sys.executable, *CHILD, *argv],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    if result.returncode != 0:
        sys.stderr.write(result.stdout[-4000:] + result.stderr[-8000:])
        raise SystemExit(f"{what} failed with exit code {result.returncode}")
    return last_json(result.stdout)


# --- the corpus ----------------------------------------------------------------------------


def prepare_size(target: Target, size: int, args: argparse.Namespace) -> dict[str, Any]:
    """The cached demo at `size`, its reply targets and the corpus built on them."""
    info = target.prepare(size)
    wanted = args.messages // 2
    picked = target.home / f"{target.name}-{size}-targets-{args.seed}-{wanted}.json"
    try:
        chosen = json.loads(picked.read_text())
        if chosen.get("built_at") != info["built_at"]:
            raise ValueError("the database was rebuilt since")
    except (OSError, ValueError):
        say(f"[{target.name} {size:,}] picking {wanted:,} messages to reply to ...")
        chosen = run_child(
            target.env(size), ["targets", "--count", str(wanted), "--seed", str(args.seed)], "pick"
        )
        chosen["built_at"] = info["built_at"]
        picked.write_text(json.dumps(chosen))
    corpus = write_corpus(target.home, chosen, args)
    return {"database": info, "inbox_id": chosen["inbox_id"], "corpus": corpus}


def write_corpus(home: Path, chosen: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    """Write the corpus as one .eml file per message, once per (seed, size, targets)."""
    from bench.email_corpus.corpus import ReplyTarget, message

    replies = [
        ReplyTarget(t["message_id"], t["address"], t["name"], t["subject"])
        for t in chosen["targets"]
    ]
    key = hashlib.sha256(
        json.dumps(
            [CACHE_VERSION, args.seed, args.messages, chosen["inbox_address"], replies],
            default=lambda r: list(r.__dict__.values()),
        ).encode()
    ).hexdigest()[:16]
    folder = home / f"corpus-{args.seed}-{args.messages}-{key}"
    summary_path = folder / "summary.json"
    if summary_path.exists():
        return dict(json.loads(summary_path.read_text()), path=str(folder))
    say(f"writing the corpus: {args.messages:,} messages under {folder} ...")
    # Written beside, then renamed: a bench for the other database may write it too.
    draft = folder.with_name(f"{folder.name}.draft-{os.getpid()}")
    shutil.rmtree(draft, ignore_errors=True)
    draft.mkdir(parents=True)
    sizes = []
    for index in range(args.messages):
        target = replies[index // 2] if index % 2 else None
        data = message(args.seed, index, chosen["inbox_address"], target)
        (draft / f"{index:06d}.eml").write_bytes(data)
        sizes.append(len(data))
    sizes.sort()
    summary = {
        "messages": len(sizes),
        "new_conversations": (len(sizes) + 1) // 2,
        "replies": len(sizes) // 2,
        "with_attachment": sum(1 for i in range(len(sizes)) if i % 10 == 9),
        "bytes": sum(sizes),
        "size_min": sizes[0],
        "size_median": sizes[len(sizes) // 2],
        "size_p90": sizes[len(sizes) * 9 // 10],
        "size_max": sizes[-1],
    }
    (draft / "summary.json").write_text(json.dumps(summary))
    try:
        draft.rename(folder)
    except OSError:  # written meanwhile by the other bench: the same bytes
        shutil.rmtree(draft, ignore_errors=True)
    return dict(summary, path=str(folder))


# --- runs ------------------------------------------------------------------------------------


def one_run(
    target: Target, size: int, prepared: dict[str, Any], workers: int, args: argparse.Namespace
) -> dict[str, Any]:
    started = time.monotonic()
    target.restore(size)
    restore_seconds = time.monotonic() - started
    argv = [
        "run",
        "--corpus",
        prepared["corpus"]["path"],
        "--inbox",
        str(prepared["inbox_id"]),
        "--workers",
        str(workers),
        "--log-dir",
        str(target.home / f"{target.name}-logs"),
    ]
    if args.threads:
        argv += ["--threads", str(args.threads)]
    before = load()
    figures = run_child(target.run_env(), argv, f"run at {size:,} with {workers} workers")
    figures.update(restore_seconds=round(restore_seconds, 1), load_before=before, load_after=load())
    rss = max((m for m in figures["worker_peak_rss_mib"] if m is not None), default=None)
    say(
        f"[{target.name} {size:,}] {workers} worker(s): accept {figures['accept_per_second']}/s, "
        f"process {figures['process_per_second']}/s, end to end "
        f"{figures['end_to_end_per_second']}/s, drained {figures['drain_seconds']} s "
        f"after, peak RSS {rss} MiB"
    )
    return figures


def bench_target(target: Target, args: argparse.Namespace, report: dict[str, Any]) -> None:
    prepared = {size: prepare_size(target, size, args) for size in args.sizes}
    report["prepared"] = {
        str(size): {"database": p["database"], "corpus": p["corpus"]}
        for size, p in prepared.items()
    }
    if args.prepare_only:
        return
    runs: dict[tuple[int, int], list[dict[str, Any]]] = {}
    try:
        for number in range(1, args.runs + 1):
            # Alternate the order round by round (A B, B A) so drift hits all alike.
            order = [(w, s) for w in args.workers for s in args.sizes]
            for workers, size in order if number % 2 else reversed(order):
                figures = one_run(target, size, prepared[size], workers, args)
                figures["run"] = number
                runs.setdefault((size, workers), []).append(figures)
                report["results"] = summarize_runs(runs)
                write(report, target.name, args)
    finally:
        target.discard_run()
    report["results"] = summarize_runs(runs)
    report["targets"] = judge(report["results"], args)


def summarize_runs(runs: dict[tuple[int, int], list[dict[str, Any]]]) -> dict[str, Any]:
    results: dict[str, Any] = {}
    for (size, workers), found in sorted(runs.items()):
        drains = [r["drain_seconds"] for r in found]
        rss = [m for r in found for m in r["worker_peak_rss_mib"] if m is not None]
        results[f"{size}/{workers}"] = {
            "conversations": size,
            "workers": workers,
            "median_accept_per_second": _median(r["accept_per_second"] for r in found),
            "median_process_per_second": _median(r["process_per_second"] for r in found),
            "median_process_per_second_per_worker": round(
                _median(r["process_per_second"] for r in found) / workers, 1
            ),
            "median_end_to_end_per_second": _median(r["end_to_end_per_second"] for r in found),
            "median_worker_cpu_ms_per_message": _median(
                r["worker_cpu_ms_per_message"] for r in found
            ),
            "worst_drain_seconds": None if None in drains else max(drains),
            "peak_worker_rss_mib": max(rss) if rss else None,
            "runs": found,
        }
    return results


def _median(values: Any) -> float:
    return round(float(statistics.median(values)), 1)


def judge(results: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    verdict: dict[str, Any] = {}
    small, large = min(args.sizes), max(args.sizes)
    for key, series in results.items():
        per_worker = series["median_process_per_second_per_worker"]
        drain = series["worst_drain_seconds"]
        rss = series["peak_worker_rss_mib"]
        checks = {
            "per_worker_rate": (
                per_worker,
                f">= {TARGET_PER_WORKER:g}/s",
                per_worker >= TARGET_PER_WORKER,
            ),
            "drain": (
                drain,
                f"<= {TARGET_DRAIN_SECONDS:g} s",
                drain is not None and drain <= TARGET_DRAIN_SECONDS,
            ),
            "peak_rss": (
                rss,
                f"< {TARGET_RSS_MIB:g} MiB",
                rss is not None and rss < TARGET_RSS_MIB,
            ),
        }
        for name, (value, wanted, met) in checks.items():
            verdict[f"{key} {name}"] = {"value": value, "target": wanted, "met": met}
    if large != small:
        for workers in args.workers:
            low = results.get(f"{small}/{workers}")
            high = results.get(f"{large}/{workers}")
            if low and high:
                ratio = round(
                    high["median_process_per_second"] / low["median_process_per_second"], 3
                )
                verdict[f"ratio {large}/{small} with {workers} workers"] = {
                    "value": ratio,
                    "target": f">= {TARGET_RATIO:g}",
                    "met": ratio >= TARGET_RATIO,
                }
    return verdict


# --- report ------------------------------------------------------------------------------------


def write(report: dict[str, Any], name: str, args: argparse.Namespace) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = report["started_at"].replace(":", "").replace("+0000", "Z")
    quick = "-quick" if args.quick else ""
    path = args.output or RESULTS / f"{stamp}-email-{name}{quick}.json"
    path.write_text(json.dumps(report, indent=2) + "\n")
    return path


def print_table(name: str, report: dict[str, Any]) -> None:
    say(f"\n{name}: messages per second (median of {report['settings']['runs']})")
    say(
        f"{'conversations':>13} {'workers':>7} {'accept':>8} {'process':>8} {'/worker':>8} "
        f"{'end-to-end':>10} {'drain s':>8} {'RSS MiB':>8} {'CPU ms/msg':>10}"
    )
    for series in report.get("results", {}).values():
        say(
            f"{series['conversations']:>13,} {series['workers']:>7} "
            f"{series['median_accept_per_second']:>8} {series['median_process_per_second']:>8} "
            f"{series['median_process_per_second_per_worker']:>8} "
            f"{series['median_end_to_end_per_second']:>10} "
            f"{series['worst_drain_seconds']!s:>8} {series['peak_worker_rss_mib']!s:>8} "
            f"{series['median_worker_cpu_ms_per_message']:>10}"
        )
    for check, verdict in report.get("targets", {}).items():
        mark = "PASS" if verdict["met"] else "FAIL"
        say(f"  {mark} {check}: {verdict['value']} (target {verdict['target']})")


def main() -> None:
    args = parse_args()
    args.data_dir = args.data_dir.resolve()
    if (ROOT / "var") in args.data_dir.parents or args.data_dir == ROOT / "var":
        raise SystemExit("the bench keeps its data out of var/: choose another --data-dir")
    (args.data_dir / "email").mkdir(parents=True, exist_ok=True)
    names = (
        ["sqlite", "postgresql"]
        if args.db == "both"
        else ["postgresql" if args.db == "postgres" else "sqlite"]
    )
    for name in names:
        target: Target
        if name == "sqlite":
            target = Sqlite(args)
        else:
            target = Postgres(args)
            if target.available() is None:
                say("postgresql: skipped (server not reachable)")
                continue
        report: dict[str, Any] = {
            "benchmark": "heedful: inbound email through the full pipeline",
            "database": name,
            "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "commit": head_commit(),
            "machine": machine(),
            "details": target.details(),
            "settings": {
                "quick": args.quick,
                "messages": args.messages,
                "sizes": args.sizes,
                "workers": args.workers,
                "threads": args.threads,
                "runs": args.runs,
                "seed": args.seed,
                "max_email_bytes": args.max_email_bytes,
            },
            "notes": NOTES,
        }
        bench_target(target, args, report)
        if args.prepare_only:
            continue
        report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        path = write(report, name, args)
        print_table(name, report)
        say(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


NOTES = [
    "accept: one process stores each message with ingest.accept (its own commit, then "
    "the process_raw task is queued); no worker runs meanwhile.",
    "process: from starting the worker processes (`heedful worker`, the first with "
    "--periodic) until no raw row is left in status 'received' (processed, duplicate or "
    "quarantined); worker start-up time is included.",
    "end_to_end: messages / (accept seconds + process seconds).",
    "drain_seconds: after the last raw row was processed, until every outbox consumer "
    "cursor reached the last event id (null: not within the limit).",
    "worker_peak_rss_mib: VmHWM of each worker process, read just before it is stopped.",
    "worker_cpu_ms_per_message: user + system CPU of all workers (start-up, processing "
    "and outbox work) / messages; on a busy machine the rates fall, this much less.",
    "Every run starts from a copy of the cached demo database and an empty queue.",
]


if __name__ == "__main__":
    main()
