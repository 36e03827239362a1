"""Daily series for the change detector, read from the daily rollups only.

One `Series` per segment: the overall workspace ("all", 0), each channel, inbox,
team and tag. A channel has no id of its own (it is an inbox's kind), so its
segment id is a stable hash of the kind's name.
"""

import functools
import math
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np

from heedful.insights import metrics
from heedful.insights.models import DailyRollup, TagRollup

# The sums a series keeps per day. "fr_log_sum" is the sum of log(seconds) of first
# responses, read from the duration histogram: response times are heavy-tailed, so the
# detector compares typical (geometric mean) times and one week-old ticket cannot fake a shift.
FIELDS = (
    "created",
    "csat_responses",
    "csat_positive",
    "csat_sum",
    "ces_responses",
    "ces_sum",
    "nps_responses",
    "nps_net",
    "fr_count",
    "fr_log_sum",
    "fcr_known",
    "fcr_yes",
)
ROLLUP_FIELDS = (
    "day",
    "created",
    "csat_responses",
    "csat_positive",
    "csat_sum",
    "ces_responses",
    "ces_sum",
    "nps_responses",
    "nps_promoters",
    "nps_detractors",
    "first_response_hist",
    "fcr_known",
    "fcr_yes",
)

SegmentKey = tuple[str, int]
ALL: SegmentKey = ("all", 0)


def channel_id(kind: str) -> int:
    """A channel's segment id: stable across runs and databases (Insight.segment_id)."""
    return zlib.crc32(kind.encode()) & 0x7FFFFFFF


@dataclass
class Series:
    """Per-day sums of one segment over `days` consecutive days from `start`."""

    start: date
    days: int
    label: str = ""
    sums: dict[str, np.ndarray] = field(default_factory=dict)

    def __post_init__(self) -> None:
        for name in FIELDS:
            self.sums.setdefault(name, np.zeros(self.days))

    def __getitem__(self, name: str) -> np.ndarray:
        return self.sums[name]

    def add(self, index: int, row: Mapping[str, Any], first_responses: tuple[int, float]) -> None:
        """Add one rollup row; `first_responses` is histogram_logs() of its histogram,
        computed once per row though the row counts in several segments."""
        s = self.sums
        s["created"][index] += row["created"]
        s["csat_responses"][index] += row["csat_responses"]
        s["csat_positive"][index] += row["csat_positive"]
        s["csat_sum"][index] += row["csat_sum"]
        s["ces_responses"][index] += row["ces_responses"]
        s["ces_sum"][index] += row["ces_sum"]
        s["nps_responses"][index] += row["nps_responses"]
        s["nps_net"][index] += row["nps_promoters"] - row["nps_detractors"]
        s["fr_count"][index] += first_responses[0]
        s["fr_log_sum"][index] += first_responses[1]
        s["fcr_known"][index] += row["fcr_known"]
        s["fcr_yes"][index] += row["fcr_yes"]


@functools.cache
def _bucket_log(bucket: str) -> float:
    return math.log(metrics.bucket_value(int(bucket)))


def histogram_logs(histogram: Mapping[str, int]) -> tuple[int, float]:
    """Count and sum of log(seconds) of the durations in one rollup histogram."""
    count, log_sum = 0, 0.0
    for bucket, n in histogram.items():
        if n > 0:
            count += n
            log_sum += n * _bucket_log(bucket)
    return count, log_sum


def read_series(
    *, start: date, end: date, channels: Mapping[int, str] | None = None
) -> dict[SegmentKey, Series]:
    """Every segment's daily sums from `start` to `end` (both included).

    `channels` maps inbox id to kind (read from the inboxes when not given)."""
    if channels is None:
        from heedful.inboxes.models import Inbox

        channels = dict(Inbox.objects.values_list("pk", "kind"))
    days = (end - start).days + 1
    found: dict[SegmentKey, Series] = {}

    def series(key: SegmentKey) -> Series:
        if key not in found:
            found[key] = Series(start=start, days=days)
        return found[key]

    rows = DailyRollup.objects.filter(day__gte=start, day__lte=end).values(
        *ROLLUP_FIELDS, "inbox_id", "team_id"
    )
    for row in rows.iterator(chunk_size=5000):
        index = (row["day"] - start).days
        logs = histogram_logs(row["first_response_hist"] or {})
        series(ALL).add(index, row, logs)
        inbox_id, team_id = row["inbox_id"], row["team_id"]
        if inbox_id:
            series(("inbox", inbox_id)).add(index, row, logs)
            kind = channels.get(inbox_id)
            if kind:
                series(("channel", channel_id(kind))).add(index, row, logs)
        if team_id:
            series(("team", team_id)).add(index, row, logs)
    # A channel served by one inbox is that inbox: testing it twice would only say it twice.
    for kind in set(channels.values()):
        inboxes = {i for i, k in channels.items() if k == kind and ("inbox", i) in found}
        if len(inboxes) < 2:
            found.pop(("channel", channel_id(kind)), None)
    tags = TagRollup.objects.filter(day__gte=start, day__lte=end).values(*ROLLUP_FIELDS, "tag_id")
    for row in tags.iterator(chunk_size=5000):
        logs = histogram_logs(row["first_response_hist"] or {})
        series(("tag", row["tag_id"])).add((row["day"] - start).days, row, logs)
    return found


def segment_labels(keys: Iterable[SegmentKey]) -> dict[SegmentKey, str]:
    """Human names of segments ("Support A", "portal-navigation", "email")."""
    from heedful.accounts.models import Team
    from heedful.conversations.models import Tag
    from heedful.inboxes.models import Inbox

    wanted: dict[str, set[int]] = {}
    for dimension, segment_id in keys:
        wanted.setdefault(dimension, set()).add(segment_id)
    labels: dict[SegmentKey, str] = {ALL: "all conversations"}
    for pk, name in Inbox.objects.filter(pk__in=wanted.get("inbox", ())).values_list("pk", "name"):
        labels["inbox", pk] = name
    for pk, name in Team.objects.filter(pk__in=wanted.get("team", ())).values_list("pk", "name"):
        labels["team", pk] = name
    for pk, name in Tag.objects.filter(pk__in=wanted.get("tag", ())).values_list("pk", "name"):
        labels["tag", pk] = name
    for kind in set(Inbox.objects.values_list("kind", flat=True)):
        labels["channel", channel_id(kind)] = kind
    for key in keys:
        labels.setdefault(key, f"{key[0]} {key[1]}")
    return labels
