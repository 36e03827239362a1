"""Every metric Heedful reports, defined once. The README quotes these formulas.

Functions here are pure: they take counts and sums (from the daily rollups or
from hand-made fixtures in tests) and return the figure, or None when the
period has nothing to measure (an empty period is "no data", never 0).
"""

import math
from collections.abc import Iterable, Mapping

# Survey scales and the thresholds the formulas use.
CSAT_SCALE = (1, 5)
CES_SCALE = (1, 5)
NPS_SCALE = (0, 10)
CSAT_POSITIVE = 4  # CSAT score = share of responses scoring 4 or 5
NPS_PROMOTER = 9  # 9-10 promote
NPS_DETRACTOR = 6  # 0-6 detract
# A score at or below these is "low": the assignee and their leads are told.
LOW_SCORE = {"csat": 2, "ces": 2, "nps": 6}

# First contact resolution windows (settings may override; see facts).
FCR_REOPEN_DAYS = 7
FCR_NEW_CONVERSATION_HOURS = 72


def ratio(part: float, whole: float) -> float | None:
    return part / whole if whole else None


def csat_score(positive: int, responses: int) -> float | None:
    """CSAT: % of responses scoring 4 or 5."""
    share = ratio(positive, responses)
    return None if share is None else 100.0 * share


def mean(total: float, count: int) -> float | None:
    """CSAT mean, CES (the mean of responses), mean durations."""
    return ratio(total, count)


def nps(promoters: int, detractors: int, responses: int) -> float | None:
    """NPS: % of 9-10 minus % of 0-6, from -100 to 100."""
    if not responses:
        return None
    return 100.0 * (promoters - detractors) / responses


def response_rate(answered: int, sent: int) -> float | None:
    """% of the invitations sent in the period that were answered."""
    share = ratio(answered, sent)
    return None if share is None else 100.0 * share


def fcr_rate(resolved_first_time: int, known: int) -> float | None:
    """% of solved conversations resolved at first contact, as decided so far (a recent
    solve counts until a reopen or a new conversation inside the windows turns it)."""
    share = ratio(resolved_first_time, known)
    return None if share is None else 100.0 * share


def reopen_rate(reopened: int, created: int) -> float | None:
    """% of the period's conversations reopened at least once."""
    share = ratio(reopened, created)
    return None if share is None else 100.0 * share


def replies_per_resolution(replies: int, solved: int) -> float | None:
    """Public agent replies per solved conversation."""
    return ratio(replies, solved)


def is_positive_csat(score: int) -> bool:
    return score >= CSAT_POSITIVE


def is_promoter(score: int) -> bool:
    return score >= NPS_PROMOTER


def is_detractor(score: int) -> bool:
    return score <= NPS_DETRACTOR


def is_low(kind: str, score: int) -> bool:
    return score <= LOW_SCORE[kind]


# --- durations -------------------------------------------------------------------------
# Medians and 90th percentiles cannot be summed day by day, so each rollup keeps a
# histogram of durations in logarithmic buckets: bucket b holds durations in
# [BASE * GROWTH**(b-1), BASE * GROWTH**b), bucket 0 everything under BASE. A
# percentile is read as the geometric middle of its bucket, within ±6% of the
# exact value. Exact per-conversation percentiles would need every fact per request.
BUCKET_BASE = 30.0  # seconds
BUCKET_GROWTH = 1.12
MAX_BUCKET = 160  # 30 s * 1.12**160 is over 200 years


def bucket_of(seconds: float) -> int:
    if seconds < BUCKET_BASE:
        return 0
    b = int(math.log(seconds / BUCKET_BASE, BUCKET_GROWTH)) + 1
    return min(b, MAX_BUCKET)


def bucket_value(bucket: int) -> float:
    """The representative duration of a bucket (geometric middle; BASE/2 for bucket 0)."""
    if bucket <= 0:
        return BUCKET_BASE / 2
    low = BUCKET_BASE * BUCKET_GROWTH ** (bucket - 1)
    return low * math.sqrt(BUCKET_GROWTH)


def merge_histograms(histograms: Iterable[Mapping[str, int]]) -> dict[int, int]:
    merged: dict[int, int] = {}
    for hist in histograms:
        for bucket, count in hist.items():
            key = int(bucket)
            merged[key] = merged.get(key, 0) + count
    return merged


def percentile(histogram: Mapping[int, int], q: float) -> float | None:
    """The q-th percentile (0 < q <= 100) of the durations in a histogram, nearest rank."""
    total = sum(count for count in histogram.values() if count > 0)
    if not total:
        return None
    rank = max(1, math.ceil(q / 100.0 * total))
    seen = 0
    for bucket in sorted(histogram):
        seen += max(0, histogram[bucket])
        if seen >= rank:
            return bucket_value(bucket)
    return bucket_value(max(histogram))


def exact_percentile(values: Iterable[float], q: float) -> float | None:
    """Nearest-rank percentile of raw values (for tests and small exact reports)."""
    ordered = sorted(values)
    if not ordered:
        return None
    rank = max(1, math.ceil(q / 100.0 * len(ordered)))
    return ordered[rank - 1]
