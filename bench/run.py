"""Heedful benchmarks (`make bench`): the demo at scale and `receive` throughput.

For each database (SQLite, and PostgreSQL when reachable):

1. Load the demo at `--scale` conversations (default 1,000,000, with a quarter as
   many customers) into a fresh database: minutes taken and database size.
2. Receive `--messages` web-form submissions (default 10,000) per run, built as the
   contact form builds them, into an empty database and into the loaded one:
   messages committed per second, median of `--runs` runs (default 3). Empty and
   loaded runs alternate, so a slow spell of the machine hits both alike.

The benchmark only touches its own databases: SQLite files under `--data-dir`
(default: heedful-bench in the temporary directory) and the PostgreSQL
databases heedful_bench*, which it creates and drops. The Huey queue is a
SQLite file beside the bench database, or Redis database 15 on PostgreSQL; no
consumer runs, so the outbox doorbell costs its real enqueue and queued work
is never processed.

Figures are printed and written as JSON to bench/results/<time>-<host>.json and
bench/results/latest.json.
"""

import argparse
import json
import os
import platform
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS = BENCH_DIR / "results"
TARGET_RATE = 300.0  # messages per second into an empty SQLite database
TARGET_RATIO = 0.9  # rate at scale / rate when empty
TARGET_DEMO_MINUTES = 10.0


def say(text: str) -> None:
    print(text, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--scale", type=int, default=1_000_000, help="demo conversations")
    parser.add_argument("--customers", type=int, help="demo customers (default: scale / 4)")
    parser.add_argument("--messages", type=int, default=10_000, help="messages per receive run")
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "heedful-bench"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
        help="server URL; the bench creates and drops its own databases there",
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--keep", action="store_true", help="keep the bench databases")
    parser.add_argument("--output", type=Path, help="result file (default: timestamped)")
    return parser.parse_args()


# --- machine -------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    info: dict[str, Any] = {
        "host": platform.node(),
        "platform": platform.platform(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "cpus": os.cpu_count(),
    }
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                info["cpu"] = line.split(":", 1)[1].strip()
                break
    meminfo = Path("/proc/meminfo")
    if meminfo.exists():
        first = meminfo.read_text().splitlines()[0].split()
        info["memory_gib"] = round(int(first[1]) / 1024**2, 1)
    return info


def head_commit() -> str | None:
    """The checked-out commit, read from .git (the working tree may differ)."""
    git = ROOT / ".git"
    try:
        head = (git / "HEAD").read_text().strip()
        if not head.startswith("ref: "):
            return head
        ref = head[5:]
        if (git / ref).exists():
            return (git / ref).read_text().strip()
        for line in (git / "packed-refs").read_text().splitlines():
            if line.endswith(" " + ref):
                return line.split()[0]
    except OSError:
        return None
    return None


def load() -> list[float]:
    return [round(x, 2) for x in os.getloadavg()]


# --- databases ---------------------------------------------------------------------------


class Target:
    """One database the bench can reset, fill and measure."""

    name = ""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args

    def env(self, which: str) -> dict[str, str]:
        raise NotImplementedError

    def prepare_template(self) -> None:
        raise NotImplementedError

    def reset(self, which: str) -> None:
        """Make `which` ("empty" or "scale") an empty, migrated database."""
        raise NotImplementedError

    def size(self, which: str) -> int:
        raise NotImplementedError

    def cleanup(self) -> None:
        raise NotImplementedError

    def details(self) -> dict[str, Any]:
        return {}

    def run(self, which: str, argv: list[str], **kwargs: Any) -> subprocess.CompletedProcess[str]:
        env = self.env(which)
        return subprocess.run(
            [sys.executable, *argv],
            cwd=ROOT,
            env=env,
            capture_output=True,
            text=True,
            check=False,
            **kwargs,
        )


def _base_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("DATABASE_URL", "REDIS_URL")}
    env["DJANGO_SETTINGS_MODULE"] = "heedful.settings"
    env["PYTHONPATH"] = str(ROOT)
    env.pop("HEEDFUL_TESTING", None)
    return env


class Sqlite(Target):
    name = "sqlite"

    def directory(self, which: str) -> Path:
        return self.args.data_dir / f"sqlite-{which}"

    def env(self, which: str) -> dict[str, str]:
        env = _base_env()
        env["HEEDFUL_DATA_DIR"] = str(self.directory(which))
        return env

    def prepare_template(self) -> None:
        template = self.directory("template")
        shutil.rmtree(template, ignore_errors=True)
        template.mkdir(parents=True)
        check(self.run("template", ["-m", "heedful.cli", "migrate", "-v0"]), "migrate")

    def reset(self, which: str) -> None:
        directory = self.directory(which)
        shutil.rmtree(directory, ignore_errors=True)
        directory.mkdir(parents=True)
        source = self.directory("template")
        for name in ("heedful.sqlite3", "heedful.sqlite3-wal", "secret_key"):
            if (source / name).exists():
                shutil.copy2(source / name, directory / name)

    def size(self, which: str) -> int:
        return sum(p.stat().st_size for p in self.directory(which).glob("heedful.sqlite3*"))

    def cleanup(self) -> None:
        for which in ("template", "empty", "scale"):
            shutil.rmtree(self.directory(which), ignore_errors=True)


class PostgresServer:
    """The PostgreSQL server a bench talks to (`--postgres`), shared by the benches."""

    args: argparse.Namespace

    def url(self, database: str) -> str:
        parts = urlsplit(self.args.postgres)
        return urlunsplit((parts.scheme, parts.netloc, "/" + database, parts.query, ""))

    def admin(self) -> Any:
        import psycopg

        return psycopg.connect(self.url("postgres"), autocommit=True)

    def available(self) -> str | None:
        try:
            with self.admin() as conn:
                return str(conn.execute("SHOW server_version").fetchone()[0])
        except Exception as exc:
            say(f"PostgreSQL not reachable at {self.args.postgres}: {exc}")
            return None


class Postgres(PostgresServer, Target):
    name = "postgresql"
    DATABASES = {
        "template": "heedful_bench_template",
        "empty": "heedful_bench_empty",
        "scale": "heedful_bench",
    }

    def env(self, which: str) -> dict[str, str]:
        env = _base_env()
        env["DATABASE_URL"] = self.url(self.DATABASES[which])
        env["REDIS_URL"] = self.args.redis
        env["HEEDFUL_HUEY_NAME"] = f"heedful-bench-{which}"
        env["HEEDFUL_DATA_DIR"] = str(self.args.data_dir / "postgresql")
        return env

    def _recreate(self, database: str, template: str | None = None) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')
            suffix = f' TEMPLATE "{template}"' if template else ""
            conn.execute(f'CREATE DATABASE "{database}"{suffix}')

    def prepare_template(self) -> None:
        (self.args.data_dir / "postgresql").mkdir(parents=True, exist_ok=True)
        self._recreate(self.DATABASES["template"])
        check(self.run("template", ["-m", "heedful.cli", "migrate", "-v0"]), "migrate")

    def reset(self, which: str) -> None:
        self._recreate(self.DATABASES[which], self.DATABASES["template"])

    def size(self, which: str) -> int:
        with self.admin() as conn:
            row = conn.execute("SELECT pg_database_size(%s)", [self.DATABASES[which]]).fetchone()
            return int(row[0])

    def cleanup(self) -> None:
        with self.admin() as conn:
            for database in self.DATABASES.values():
                conn.execute(f'DROP DATABASE IF EXISTS "{database}" WITH (FORCE)')

    def details(self) -> dict[str, Any]:
        return {"server_version": self.available(), "queue": "Redis " + self.args.redis}


def check(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"{what} failed with exit code {result.returncode}")
    return result.stdout


def last_json(output: str) -> dict[str, Any]:
    for line in reversed(output.strip().splitlines()):
        if line.startswith("{"):
            return dict(json.loads(line))
    raise ValueError("no JSON line in the output")


# --- the measurements --------------------------------------------------------------------


def load_demo(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    customers = args.customers or max(1, args.scale // 4)
    say(f"[{target.name}] demo: {args.scale:,} conversations, {customers:,} customers ...")
    target.reset("scale")
    before = load()
    started = time.monotonic()
    result = target.run(
        "scale",
        [
            str(BENCH_DIR / "demo_load.py"),
            "--customers",
            str(customers),
            "--conversations",
            str(args.scale),
        ],
    )
    seconds = time.monotonic() - started
    summary = last_json(check(result, "demo"))
    size = target.size("scale")
    figures = {
        **summary,
        "seconds": round(seconds, 1),
        "minutes": round(seconds / 60, 2),
        "database_bytes": size,
        "database_gib": round(size / 1024**3, 2),
        "load_before": before,
        "load_after": load(),
    }
    say(
        f"[{target.name}] demo: {figures['minutes']} min, {summary['messages']:,} messages, "
        f"{summary['events']:,} events, database {figures['database_gib']} GiB"
    )
    return figures


def receive_run(target: Target, which: str, run: int, messages: int) -> dict[str, Any]:
    if which == "empty":
        target.reset("empty")
    before = load()
    result = target.run(
        which,
        [
            str(BENCH_DIR / "receive.py"),
            "--messages",
            str(messages),
            "--run",
            str(run),
            "--flush-queue",
        ],
    )
    figures = last_json(check(result, f"receive into {which}"))
    figures.update(run=run, load_before=before, load_after=load())
    say(f"[{target.name}] receive into {which} #{run}: {figures['per_second']} msg/s")
    return figures


def receive_series(target: Target, args: argparse.Namespace, scaled: bool) -> dict[str, Any]:
    runs: dict[str, list[dict[str, Any]]] = {"empty": [], "scale": []}
    for run in range(1, args.runs + 1):
        runs["empty"].append(receive_run(target, "empty", run, args.messages))
        if scaled:
            runs["scale"].append(receive_run(target, "scale", run, args.messages))
    figures: dict[str, Any] = {}
    for which, found in runs.items():
        if found:
            figures[f"receive_{which}"] = {
                "messages_per_run": args.messages,
                "median_per_second": round(statistics.median(r["per_second"] for r in found), 1),
                "runs": found,
            }
    return figures


def bench_database(target: Target, args: argparse.Namespace) -> dict[str, Any]:
    say(f"[{target.name}] preparing an empty, migrated database ...")
    target.prepare_template()
    figures: dict[str, Any] = {"details": target.details()}
    try:
        if args.scale > 0:
            figures["demo"] = load_demo(target, args)
        figures.update(receive_series(target, args, scaled=args.scale > 0))
    finally:
        if not args.keep:
            target.cleanup()
    figures["targets"] = judge(target.name, figures, args)
    return figures


def judge(name: str, figures: dict[str, Any], args: argparse.Namespace) -> dict[str, Any]:
    verdict: dict[str, Any] = {}
    empty = figures.get("receive_empty", {}).get("median_per_second")
    scaled = figures.get("receive_scale", {}).get("median_per_second")
    if empty and scaled:
        ratio = round(scaled / empty, 3)
        verdict["ratio_at_scale"] = ratio
        verdict["ratio_at_scale_met"] = ratio >= TARGET_RATIO
    if name == "sqlite" and empty:
        verdict["receive_rate_target"] = TARGET_RATE
        verdict["receive_rate_met"] = empty >= TARGET_RATE
    demo = figures.get("demo")
    if demo:
        verdict["demo_minutes_target"] = TARGET_DEMO_MINUTES
        verdict["demo_minutes_met"] = demo["minutes"] <= TARGET_DEMO_MINUTES
        verdict["demo_at_full_scale"] = args.scale >= 1_000_000
    return verdict


def main() -> None:
    args = parse_args()
    args.data_dir = args.data_dir.resolve()
    if (ROOT / "var") in args.data_dir.parents or args.data_dir == ROOT / "var":
        raise SystemExit("the bench keeps its data out of var/: choose another --data-dir")
    args.data_dir.mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "benchmark": "heedful: demo at scale, receive throughput",
        "started_at": started.isoformat(timespec="seconds"),
        "commit": head_commit(),
        "machine": machine(),
        "settings": {
            "scale": args.scale,
            "customers": args.customers or max(1, args.scale // 4),
            "messages": args.messages,
            "runs": args.runs,
        },
        "notes": [
            "receive: web-form submissions built like the contact form "
            "(from_raw(inbox, to_raw(fields, []))), 60% from new people and 40% from "
            "people who wrote earlier in the run; one process, one message at a time.",
            "After each commit the outbox doorbell goes to Huey (a SQLite file, or Redis "
            "on PostgreSQL); it queues one task per burst (core/doorbell.py), and with no "
            "consumer running that mark expires every 30 s, so a run queues a few tasks. "
            "The outbox work itself is not done during the run.",
            "Empty and loaded runs alternate; load_before/load_after show the machine's "
            "load average around each run.",
        ],
        "databases": {},
    }
    wanted = [d.strip() for d in args.databases.split(",") if d.strip()]
    for name in wanted:
        target: Target
        if name == "sqlite":
            target = Sqlite(args)
        elif name == "postgresql":
            target = Postgres(args)
            if target.available() is None:
                report["databases"][name] = {"skipped": "server not reachable"}
                continue
        else:
            raise SystemExit(f"unknown database {name!r}")
        report["databases"][name] = bench_database(target, args)
        write(report, args)  # keep what is done if a later database fails
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    path = write(report, args)
    summarize(report)
    say(f"results: {path.relative_to(ROOT) if path.is_relative_to(ROOT) else path}")


def write(report: dict[str, Any], args: argparse.Namespace) -> Path:
    RESULTS.mkdir(exist_ok=True)
    stamp = report["started_at"].replace(":", "").replace("+0000", "Z")
    host = report["machine"]["host"] or "host"
    path = args.output or RESULTS / f"{stamp}-{host}-scale{args.scale}.json"
    text = json.dumps(report, indent=2) + "\n"
    path.write_text(text)
    if args.output is None:
        (RESULTS / "latest.json").write_text(text)
    return path


def summarize(report: dict[str, Any]) -> None:
    for name, figures in report["databases"].items():
        if "skipped" in figures:
            say(f"{name}: skipped ({figures['skipped']})")
            continue
        parts = []
        demo = figures.get("demo")
        if demo:
            parts.append(
                f"demo {demo['conversations']:,} conversations / {demo['messages']:,} "
                f"messages in {demo['minutes']} min, {demo['database_gib']} GiB"
            )
        for which in ("empty", "scale"):
            series = figures.get(f"receive_{which}")
            if series:
                parts.append(f"receive into {which}: {series['median_per_second']} msg/s")
        ratio = figures["targets"].get("ratio_at_scale")
        if ratio is not None:
            parts.append(f"ratio {ratio}")
        say(f"{name}: " + "; ".join(parts))


if __name__ == "__main__":
    main()
