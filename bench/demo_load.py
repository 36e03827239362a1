"""Load the demo at benchmark scale in this process and print its summary as JSON.

Runs the same `load_demo` as `heedful demo`; the database comes from the
environment (HEEDFUL_DATA_DIR or DATABASE_URL), set by bench/run.py.
"""

import argparse
import json
import os
import sys

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "heedful.settings")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--customers", type=int, required=True)
    parser.add_argument("--conversations", type=int, required=True)
    parser.add_argument("--days", type=int, default=90)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    import django

    django.setup()
    from heedful.demo.generator import load_demo

    summary = load_demo(
        customers=args.customers,
        conversations=args.conversations,
        days=args.days,
        seed=args.seed,
        progress=lambda line: print(line, file=sys.stderr, flush=True),
    )
    print(
        json.dumps(
            {
                "customers": summary.customers,
                "identities": summary.identities,
                "conversations": summary.conversations,
                "messages": summary.messages,
                "events": summary.events,
                "bulk": summary.bulk,
                "seconds_inside": round(summary.seconds, 1),
                "phases": summary.phases,
            }
        )
    )


if __name__ == "__main__":
    main()
