"""The change detector (heedful.insights.changes): how often it cries wolf, how soon
it finds a real shift, and how long a run takes on a year of rollups.

1. Calibration and power on synthetic series (heedful.insights.simulation, fixed
   seeds): the share of noise-only runs that report anything, with the overall
   series alone (six metrics) and with 20 noise tag segments beside it; the share of
   10% shifts (volume up, CSAT down) reported overall by at least one daily run
   within the first seven days, at several volumes.
2. Run time: a fresh database (SQLite under --data-dir, or DATABASE_URL when set)
   filled with --days days of rollups the size 1,000,000 conversations a year gives
   (about 100 DailyRollup rows and 40 TagRollup rows a day: 10 inboxes, 5 teams, 20
   agents, 40 tags), then one detection run (the daily job) and a --backfill of
   consecutive days.

    .venv/bin/python bench/change_detection.py [--runs 400] [--backfill 30]

Figures are printed and written as JSON to bench/results/<time>-change-detection.json.
"""

import argparse
import json
import os
import sys
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

BENCH_DIR = Path(__file__).resolve().parent
RESULTS = BENCH_DIR / "results"


def say(text: str) -> None:
    print(text, flush=True)


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=400, help="Simulated runs per figure.")
    parser.add_argument("--days", type=int, default=365, help="Days of rollups to load.")
    parser.add_argument("--backfill", type=int, default=30, help="Days run back to back.")
    parser.add_argument(
        "--data-dir", type=Path, default=Path(tempfile.gettempdir()) / "heedful-bench"
    )
    parser.add_argument("--skip-stats", action="store_true")
    parser.add_argument("--skip-runtime", action="store_true")
    return parser.parse_args()


def statistics(runs: int) -> dict[str, Any]:
    import numpy as np

    from heedful.insights.simulation import alarm_rate, power

    figures: dict[str, Any] = {"runs": runs}
    for tags in (0, 20):
        started = time.perf_counter()
        rate = alarm_rate(np.random.default_rng(1000 + tags), runs, volume=150, tags=tags)
        figures[f"false_alarm_rate_tags{tags}"] = rate
        say(
            f"noise only, 150/day, overall + {tags} tags: {rate:.1%} of runs alert "
            f"({(time.perf_counter() - started) / runs * 1000:.0f} ms a run)"
        )
    for tags in (0, 20):
        # With 20 tags a run fits about 106 models: half as many runs keep it in minutes.
        shift_runs = runs if tags == 0 else max(1, runs // 2)
        figures[f"power_runs_tags{tags}"] = shift_runs
        for volume in (100, 150, 200, 250, 300):
            found = power(
                np.random.default_rng(volume + tags),
                shift_runs,
                "volume",
                volume=volume,
                shift=1.1,
                tags=tags,
            )
            figures[f"power_volume_{volume}_tags{tags}"] = found
            say(
                f"volume +10% at {volume}/day, overall + {tags} tags: found within 7 days "
                f"in {found:.1%}"
            )
        for volume in (100, 150, 200, 300):  # 40% answer: 40, 60, 80, 120 CSAT answers a day
            found = power(
                np.random.default_rng(volume + tags + 7),
                shift_runs,
                "csat",
                volume=volume,
                shift=0.9,
                tags=tags,
            )
            figures[f"power_csat_{int(volume * 0.4)}_answers_tags{tags}"] = found
            say(
                f"CSAT 80% -> 72% with {volume * 0.4:.0f} answers/day, overall + {tags} tags: "
                f"found within 7 days in {found:.1%}"
            )
    return figures


def fill_rollups(days: int, last: date) -> dict[str, int]:
    import numpy as np

    from heedful.accounts.models import Team
    from heedful.conversations.models import Tag
    from heedful.inboxes.models import Inbox
    from heedful.insights import metrics
    from heedful.insights.models import DailyRollup, TagRollup

    rng = np.random.default_rng(1)
    teams = [Team.objects.get_or_create(name=f"Bench team {i}")[0] for i in range(5)]
    kinds = [
        "email",
        "email",
        "email",
        "webform",
        "chat",
        "chat",
        "sms",
        "whatsapp",
        "voice",
        "api",
    ]
    inboxes = [
        Inbox.objects.get_or_create(
            name=f"Bench inbox {i}", defaults={"kind": kind, "team": teams[i % 5]}
        )[0]
        for i, kind in enumerate(kinds)
    ]
    tags = [Tag.objects.get_or_create(name=f"bench-tag-{i}")[0] for i in range(40)]
    DailyRollup.objects.all().delete()
    TagRollup.objects.all().delete()

    def sums(created: int) -> dict[str, Any]:
        responses = int(rng.binomial(created, 0.2))
        positive = int(rng.binomial(responses, 0.85))
        known = int(rng.binomial(created, 0.9))
        hist: dict[str, int] = {}
        for b in rng.normal(np.log(3600), 1.2, created):
            key = str(metrics.bucket_of(float(np.exp(b))))
            hist[key] = hist.get(key, 0) + 1
        return {
            "created": created,
            "first_responses": created,
            "first_response_hist": hist,
            "csat_responses": responses,
            "csat_positive": positive,
            "csat_sum": 4 * positive + 2 * (responses - positive),
            "ces_responses": responses // 3,
            "ces_sum": 4 * (responses // 3),
            "fcr_known": known,
            "fcr_yes": int(rng.binomial(known, 0.7)),
        }

    daily, tagged = [], []
    for offset in range(days):
        day = last - timedelta(days=days - 1 - offset)
        for inbox in inboxes:  # 10 inboxes x 10 agents ~ 2,740 conversations a day
            for agent in range(10):
                daily.append(
                    DailyRollup(
                        day=day,
                        inbox_id=inbox.pk,
                        team_id=inbox.team_id or 0,
                        agent_id=agent + 1,
                        **sums(int(rng.poisson(27))),
                    )
                )
        for tag in tags:
            tagged.append(TagRollup(day=day, tag_id=tag.pk, **sums(int(rng.poisson(60)))))
    DailyRollup.objects.bulk_create(daily, batch_size=2000)
    TagRollup.objects.bulk_create(tagged, batch_size=2000)
    return {"daily_rollups": len(daily), "tag_rollups": len(tagged)}


def runtime(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection

    from heedful.insights.changes import detect_changes

    call_command("migrate", verbosity=0)
    last = date(2026, 3, 1)
    started = time.perf_counter()
    sizes = fill_rollups(args.days, last)
    say(
        f"{connection.vendor}: {sizes['daily_rollups']:,} daily and {sizes['tag_rollups']:,} tag "
        f"rollup rows in {time.perf_counter() - started:.0f} s"
    )
    figures: dict[str, Any] = {"database": connection.vendor, **sizes}
    timings = []
    for _ in range(3):
        started = time.perf_counter()
        found = detect_changes(day=last)
        timings.append(time.perf_counter() - started)
    figures["one_run_seconds"] = sorted(timings)[1]
    say(f"one daily run: {figures['one_run_seconds']:.2f} s (median of 3), {len(found)} findings")
    started = time.perf_counter()
    for back in range(args.backfill):
        detect_changes(day=last - timedelta(days=back))
    figures["backfill_days"] = args.backfill
    figures["backfill_seconds"] = time.perf_counter() - started
    say(f"backfill of {args.backfill} days: {figures['backfill_seconds']:.1f} s")
    return figures


def main() -> None:
    args = parse_args()
    sys.path.insert(0, str(BENCH_DIR.parent / "src"))
    if not os.environ.get("DATABASE_URL"):
        args.data_dir.mkdir(parents=True, exist_ok=True)
        path = args.data_dir / "change-detection.sqlite3"
        os.environ["DATABASE_URL"] = f"sqlite:///{path}"
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")
    import django

    django.setup()
    result: dict[str, Any] = {"when": datetime.now(UTC).isoformat(timespec="seconds")}
    if not args.skip_stats:
        result["statistics"] = statistics(args.runs)
    if not args.skip_runtime:
        result["runtime"] = runtime(args)
    RESULTS.mkdir(exist_ok=True)
    out = RESULTS / f"{datetime.now(UTC):%Y-%m-%dT%H%M%SZ}-change-detection.json"
    out.write_text(json.dumps(result, indent=2) + "\n")
    say(f"written to {out}")


if __name__ == "__main__":
    main()
