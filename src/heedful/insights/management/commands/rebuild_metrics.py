"""`heedful rebuild-metrics`: recompute every conversation fact and every daily rollup.

Needed after changing something the facts are computed from without an event
(business hours, the FCR windows, the workspace time zone) or to repair the
rollups; the event consumer keeps them current otherwise.
"""

from typing import Any

from django.core.management.base import BaseCommand

from heedful.insights.rollups import rebuild_metrics


class Command(BaseCommand):
    help = (
        "Recompute the facts of every conversation, every daily and tag rollup, and what "
        "each survey invitation adds to them. Safe to run while Heedful runs."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        self.stdout.write("Rebuilding metrics...")
        done = rebuild_metrics()
        self.stdout.write(
            f"{done['conversations']:,} conversations read, {done['facts']:,} facts "
            f"({done['facts_seconds']:.1f} s)"
        )
        self.stdout.write(
            f"{done['invitations']:,} survey invitations read, "
            f"{done['states_rewritten']:,} rollup states corrected"
        )
        self.stdout.write(
            f"{done['daily_rows']:,} daily rollup rows, {done['tag_rows']:,} tag rollup rows "
            f"({done['rollups_seconds']:.1f} s)"
        )
        self.stdout.write(self.style.SUCCESS(f"Done in {done['seconds']:.1f} s."))
