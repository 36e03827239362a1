"""Insights under load: dashboard render time over a year of history, and the change detector.

For each database (SQLite, and PostgreSQL when reachable):

1. Build the demo once at `--size` conversations over 365 days (a quarter as many
   customers; surveys and the portal scenario come with it) and keep it: SQLite
   under `--data-dir`/insights/sqlite-<size>, PostgreSQL as the database
   heedful_bench_insights_<size>. Later runs reuse it after `migrate`; `--rebuild`
   starts over, `--drop` removes it at the end.
2. In a child process with that database's settings, sign in a bench admin (and
   the demo agent with the most survey responses, for the personal dashboard)
   with Django's test client, and render, `--warmup` times unmeasured and then
   `--requests` times measured, one after another:
   - the dashboard for the last 12 months by month, broken down by agent
     (/app/insights/?from=...&to=...&grain=month&breakdown=agent);
   - the same broken down by tag;
   - the agent's personal dashboard for the same 12 months;
   - the survey comments page (first page, every kind).
   The time is the whole request through Django's handler (middleware, view,
   queries, template), in process: no network and no server in between.
3. Run the change detector for today (`insights.changes.detect_changes`) `--runs` times.

Figures (median, p95, max in ms; detector seconds) are printed and written as JSON
to bench/results/<time>-insights.json and bench/results/insights.json (the latest).
Target: every page p95 under 300 ms.

    .venv/bin/python bench/insights_bench.py                    # 1,000,000 conversations
    .venv/bin/python bench/insights_bench.py --size 100000      # or BENCH_INSIGHTS_SIZE
"""

import argparse
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

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench.run import PostgresServer, _base_env, head_commit, last_json, machine, say  # noqa: E402

RESULTS = BENCH_DIR / "results"
CACHE_VERSION = 1  # bump when what a cached database holds changes
SEED = 1
DAYS = 365
TARGET_MS = 300.0
BENCH_EMAIL = "bench.insights@bench.heedful.invalid"
PAGES = ("overview_agent", "overview_tag", "personal", "comments")
PAGE_LABELS = {
    "overview_agent": "dashboard, 12 months by month, by agent",
    "overview_tag": "dashboard, 12 months by month, by tag",
    "personal": "agent's own dashboard, 12 months",
    "comments": "survey comments, first page",
}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--size",
        type=lambda text: int(text.replace("_", "")),
        default=int(os.environ.get("BENCH_INSIGHTS_SIZE", "1000000")),
        help="demo conversations over 365 days (env BENCH_INSIGHTS_SIZE)",
    )
    parser.add_argument(
        "--databases", default="sqlite,postgresql", help="comma-separated: sqlite,postgresql"
    )
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "heedful-bench"
    )
    parser.add_argument(
        "--postgres",
        default=os.environ.get("BENCH_POSTGRES_URL", "postgres://postgres@127.0.0.1:5432"),
        help="server URL; the bench creates its own database heedful_bench_insights_<size>",
    )
    parser.add_argument(
        "--redis", default=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15")
    )
    parser.add_argument("--warmup", type=int, default=5, help="renders per page, unmeasured")
    parser.add_argument("--requests", type=int, default=40, help="renders per page, measured")
    parser.add_argument("--runs", type=int, default=3, help="change-detector runs")
    parser.add_argument("--rebuild", action="store_true", help="rebuild the cached databases")
    parser.add_argument("--drop", action="store_true", help="remove the databases at the end")
    parser.add_argument("--prepare-only", action="store_true", help="build or reuse, then stop")
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    return parser.parse_args(argv)


# --- databases -----------------------------------------------------------------------------


class Target:
    name = ""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.home = args.data_dir / "insights"
        self.size = args.size

    @property
    def directory(self) -> Path:
        return self.home / f"{self.name}-{self.size}"

    @property
    def marker(self) -> Path:
        return self.home / f"{self.name}-{self.size}.json"

    def env(self) -> dict[str, str]:
        env = _base_env()
        env["HEEDFUL_DATA_DIR"] = str(self.directory)
        env["HEEDFUL_DEMO"] = "0"
        hosts = env.get("ALLOWED_HOSTS", "")
        env["ALLOWED_HOSTS"] = ",".join(h for h in (hosts, "testserver", "localhost") if h)
        return env

    def exists(self) -> bool:
        raise NotImplementedError

    def create_empty(self) -> None:
        pass

    def drop(self) -> None:
        shutil.rmtree(self.directory, ignore_errors=True)
        self.marker.unlink(missing_ok=True)

    def details(self) -> dict[str, Any]:
        return {}

    def run(self, argv: list[str]) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, *argv],
            cwd=ROOT,
            env=self.env(),
            capture_output=True,
            text=True,
            check=False,
        )

    def cached(self) -> dict[str, Any] | None:
        try:
            info = dict(json.loads(self.marker.read_text()))
        except (OSError, ValueError):
            return None
        wanted = {"version": CACHE_VERSION, "conversations": self.size, "seed": SEED}
        if any(info.get(k) != v for k, v in wanted.items()) or not self.exists():
            return None
        return info

    def prepare(self) -> dict[str, Any]:
        info = None if self.args.rebuild else self.cached()
        if info is not None:
            say(f"[{self.name} {self.size:,}] reusing the demo database built {info['built_at']}")
            check(self.run(["-m", "heedful.cli", "migrate", "-v0"]), "migrate")
            return {**info, "reused": True}
        self.drop()
        self.directory.mkdir(parents=True, exist_ok=True)
        self.create_empty()
        check(self.run(["-m", "heedful.cli", "migrate", "-v0"]), "migrate")
        customers = max(1, self.size // 4)
        say(f"[{self.name} {self.size:,}] building the demo over {DAYS} days ...")
        started = time.monotonic()
        result = self.run(
            [
                str(BENCH_DIR / "demo_load.py"),
                "--customers",
                str(customers),
                "--conversations",
                str(self.size),
                "--days",
                str(DAYS),
                "--seed",
                str(SEED),
            ]
        )
        summary = last_json(check(result, "demo"))
        info = {
            "version": CACHE_VERSION,
            "conversations": self.size,
            "customers": customers,
            "days": DAYS,
            "seed": SEED,
            "built_at": datetime.now(UTC).isoformat(timespec="seconds"),
            "build_minutes": round((time.monotonic() - started) / 60, 2),
            "demo": summary,
        }
        self.marker.write_text(json.dumps(info) + "\n")
        say(f"[{self.name} {self.size:,}] demo built in {info['build_minutes']} min")
        return {**info, "reused": False}


class Sqlite(Target):
    name = "sqlite"

    def exists(self) -> bool:
        return (self.directory / "heedful.sqlite3").exists()


class Postgres(PostgresServer, Target):
    name = "postgresql"

    @property
    def database(self) -> str:
        return f"heedful_bench_insights_{self.size}"

    def env(self) -> dict[str, str]:
        env = super().env()
        env["DATABASE_URL"] = self.url(self.database)
        env["REDIS_URL"] = self.args.redis
        env["HEEDFUL_HUEY_NAME"] = f"heedful-bench-insights-{self.size}"
        return env

    def exists(self) -> bool:
        with self.admin() as conn:
            found = conn.execute(
                "SELECT 1 FROM pg_database WHERE datname = %s", [self.database]
            ).fetchone()
        return found is not None

    def create_empty(self) -> None:
        with self.admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def drop(self) -> None:
        with self.admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')
        super().drop()

    def details(self) -> dict[str, Any]:
        return {"server_version": self.available(), "redis": self.args.redis}


def check(result: subprocess.CompletedProcess[str], what: str) -> str:
    if result.returncode != 0:
        sys.stderr.write(result.stdout + result.stderr)
        raise SystemExit(f"{what} failed with exit code {result.returncode}")
    return result.stdout


# --- the measurement, inside the target's environment ------------------------------------------


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


def figures(values: list[float]) -> dict[str, Any]:
    return {
        "count": len(values),
        "median_ms": round(statistics.median(values), 1),
        "p95_ms": round(percentile(values, 95), 1),
        "max_ms": round(max(values), 1),
    }


def child(args: argparse.Namespace) -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")
    import django

    django.setup()
    from datetime import timedelta

    from django.db.models import Count
    from django.test import Client

    from heedful.accounts.models import Role, User
    from heedful.conversations.models import Conversation
    from heedful.insights.changes import detect_changes, local_today
    from heedful.surveys.models import SurveyResponse

    admin = User.objects.filter(email=BENCH_EMAIL).first()
    if admin is None:
        admin = User.objects.create_user(
            email=BENCH_EMAIL, password=None, name="Bench Insights", role=Role.ADMIN
        )
    busiest = (
        SurveyResponse.objects.exclude(agent=None)
        .values("agent")
        .annotate(n=Count("pk"))
        .order_by("-n")
        .first()
    )
    agent = User.objects.get(pk=busiest["agent"]) if busiest else admin
    today = local_today()
    start = today - timedelta(days=364)
    span = f"from={start.isoformat()}&to={today.isoformat()}&grain=month"
    pages = {
        "overview_agent": (admin, f"/app/insights/?{span}&breakdown=agent"),
        "overview_tag": (admin, f"/app/insights/?{span}&breakdown=tag"),
        "personal": (agent, f"/app/insights/me/?{span}"),
        "comments": (admin, "/app/insights/comments/"),
    }
    clients: dict[int, Any] = {}
    for user, _path in pages.values():
        if user.pk not in clients:
            client = Client()
            client.force_login(user)
            clients[user.pk] = client
    timings: dict[str, list[float]] = {page: [] for page in pages}
    sizes: dict[str, int] = {}
    for round_number in range(args.warmup + args.requests):
        # One request to each page in turn, so a busy spell of the machine hits all alike.
        for page, (user, path) in pages.items():
            began = time.perf_counter()
            response = clients[user.pk].get(path)
            elapsed = (time.perf_counter() - began) * 1000
            if response.status_code != 200:
                raise SystemExit(f"{path}: HTTP {response.status_code}")
            sizes[page] = len(response.content)
            if round_number >= args.warmup:
                timings[page].append(elapsed)
    detector = []
    found = 0
    for _ in range(args.runs):
        began = time.perf_counter()
        found = len(detect_changes(day=today))
        detector.append(time.perf_counter() - began)
    result = {
        "conversations": Conversation.objects.count(),
        "survey_responses": SurveyResponse.objects.count(),
        "responses_by_kind": dict(
            SurveyResponse.objects.values_list("kind").annotate(n=Count("pk")).order_by()
        ),
        "range": [start.isoformat(), today.isoformat()],
        "pages": {
            page: {"path": pages[page][1], "bytes": sizes[page], **figures(values)}
            for page, values in timings.items()
        },
        "detector": {
            "runs": len(detector),
            "median_s": round(statistics.median(detector), 2),
            "max_s": round(max(detector), 2),
            "insights_today": found,
        },
    }
    print(json.dumps(result))


# --- report --------------------------------------------------------------------------------


def table(name: str, result: dict[str, Any]) -> str:
    lines = [
        f"{name}: {result['conversations']:,} conversations, "
        f"{result['survey_responses']:,} survey responses {result['responses_by_kind']}"
    ]
    for page, row in result["pages"].items():
        verdict = "PASS" if row["p95_ms"] <= TARGET_MS else "FAIL"
        lines.append(
            f"  {verdict}  {PAGE_LABELS[page]:<42} median {row['median_ms']:>7.1f} ms  "
            f"p95 {row['p95_ms']:>7.1f} ms  max {row['max_ms']:>7.1f} ms"
        )
    d = result["detector"]
    lines.append(
        f"  change detector for today: median {d['median_s']} s, max {d['max_s']} s "
        f"over {d['runs']} runs ({d['insights_today']} findings)"
    )
    return "\n".join(lines)


def main() -> None:
    args = parse_args()
    if args.child:
        child(args)
        return
    args.data_dir = args.data_dir.resolve()
    if (ROOT / "var") in args.data_dir.parents or args.data_dir == ROOT / "var":
        raise SystemExit("the bench keeps its data out of var/: choose another --data-dir")
    (args.data_dir / "insights").mkdir(parents=True, exist_ok=True)
    started = datetime.now(UTC)
    report: dict[str, Any] = {
        "benchmark": "heedful: insights dashboards and change detection",
        "started_at": started.isoformat(timespec="seconds"),
        "commit": head_commit(),
        "machine": machine(),
        "settings": {
            "size": args.size,
            "days": DAYS,
            "warmup": args.warmup,
            "requests": args.requests,
            "detector_runs": args.runs,
            "target_p95_ms": TARGET_MS,
        },
        "notes": [
            "ms: wall time of one request through Django's test client in process "
            "(middleware, view, queries, template), signed in with force_login; "
            "pages are requested in turns, one at a time.",
            "The dashboards read the daily rollups (DailyRollup, TagRollup), never the "
            "conversations; the comments page reads survey responses, newest first.",
        ],
        "databases": {},
    }
    for name in [d.strip() for d in args.databases.split(",") if d.strip()]:
        target: Target
        if name == "sqlite":
            target = Sqlite(args)
        elif name == "postgresql":
            target = Postgres(args)
            if target.available() is None:
                say("postgresql: skipped (server not reachable)")
                continue
        else:
            raise SystemExit(f"unknown database {name!r}")
        database = target.prepare()
        if args.prepare_only:
            continue
        argv = [
            __file__,
            "--child",
            "--warmup",
            str(args.warmup),
            "--requests",
            str(args.requests),
            "--runs",
            str(args.runs),
        ]
        result = last_json(check(target.run(argv), "measure"))
        report["databases"][name] = {
            "database": database,
            "details": target.details(),
            **result,
        }
        say(table(name, result))
        if args.drop:
            target.drop()
    if args.prepare_only:
        return
    report["finished_at"] = datetime.now(UTC).isoformat(timespec="seconds")
    RESULTS.mkdir(exist_ok=True)
    stamp = report["started_at"].replace(":", "").replace("+0000", "Z")
    path = RESULTS / f"{stamp}-insights.json"
    text = json.dumps(report, indent=2) + "\n"
    path.write_text(text)
    (RESULTS / "insights.json").write_text(text)
    say(f"results: {path.relative_to(ROOT)} (and bench/results/insights.json)")


if __name__ == "__main__":
    main()
