"""Change detection: which metrics shifted, overall and per segment, and why.

Each day the detector compares the last RECENT_DAYS complete days with the
BASELINE_DAYS before them, for every metric and segment, with a regression that
has one coefficient per weekday (so a quiet weekend is not a drop) and a step for
the recent window; the step's p-value is the test:

- volume: Poisson GLM of conversations created per day (quasi-Poisson: the scale
  is estimated from the Pearson chi-square, so busy and quiet days beyond Poisson
  noise widen the interval instead of raising alarms);
- CSAT (share of 4-5) and FCR: binomial GLM of daily successes out of responses /
  solved conversations, with the same over-dispersion scale;
- CES, NPS (each answer +1 promoter, 0, -1 detractor) and first response time
  (log seconds, i.e. the typical, geometric-mean time): weighted least squares of
  the daily means weighted by the day's count, with the residual variance estimated.

The p-values of all tests of a run go through Benjamini-Hochberg at FDR_Q. The
overall series gets half of the error budget and the segments share the other
half (weighted BH, Genovese, Roeder & Wasserman 2006), because a workspace-wide
shift matters most and would otherwise drown among hundreds of segment tests.
A finding must also pass a minimum sample and a minimum practical change
(RULES), so a tiny segment or a statistically certain but trivial change stays quiet.
"""

import math
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np
import statsmodels.api as sm
from django.conf import settings
from django.db import transaction
from scipy import stats
from statsmodels.stats.multitest import multipletests

from heedful.insights import metrics
from heedful.insights.models import Annotation, Insight
from heedful.insights.series import ALL, SegmentKey, Series, channel_id, read_series, segment_labels

RECENT_DAYS = 7
BASELINE_DAYS = 56  # eight whole weeks, so every weekday counts alike
FDR_Q = 0.05
OVERALL_SHARE = 0.5  # of the weighted-BH budget, for the overall series
SCAN_DAYS = 21  # how far back the start of a shift is looked for
ANNOTATION_BEFORE_DAYS = 14
ANNOTATION_AFTER_DAYS = 7
MAX_COMMENTS = 3
MAX_COMMENT_CHARS = 160
DIMENSIONS = ("channel", "inbox", "team", "tag")


@dataclass(frozen=True)
class Rule:
    """How one metric is tested and when a finding is worth telling.

    `min_recent` / `min_baseline`: least count (conversations, responses...) in each
    window; `min_change`: least absolute change of the shown value (percentage points,
    score points) or, when `relative`, least relative change in %."""

    metric: str
    kind: str  # "count", "binomial", "mean" or "logmean"
    num: str
    den: str
    min_recent: int
    min_baseline: int
    min_change: float
    relative: bool
    higher_is_better: bool
    survey_kinds: tuple[str, ...]


_ANY = ("csat", "ces")
_CSAT, _CES, _NPS = ("csat",), ("ces",), ("nps",)
RULES: dict[str, Rule] = {
    rule.metric: rule
    for rule in (
        # metric, test, numerator, denominator, min recent, min baseline, min change,
        # relative change?, higher is better?, comments quoted from
        Rule("volume", "count", "created", "created", 35, 280, 5.0, True, False, _ANY),
        Rule("csat", "binomial", "csat_positive", "csat_responses", 30, 120, 3, False, True, _CSAT),
        Rule("ces", "mean", "ces_sum", "ces_responses", 30, 120, 0.1, False, True, _CES),
        Rule("nps", "mean", "nps_net", "nps_responses", 30, 120, 5.0, False, True, _NPS),
        Rule("first_response", "logmean", "fr_log_sum", "fr_count", 30, 120, 10, True, False, _ANY),
        Rule("fcr", "binomial", "fcr_yes", "fcr_known", 30, 120, 3.0, False, True, _ANY),
    )
}  # fmt: skip
METRICS = tuple(RULES)


@dataclass
class Outcome:
    """One metric of one segment: the step's p-value and the figures people read."""

    key: SegmentKey
    metric: str
    p_value: float
    before: float
    after: float
    since_index: int
    q_value: float = 1.0
    extra: dict[str, float] = field(default_factory=dict)

    @property
    def change(self) -> float:
        """The change as RULES measure it: % for relative metrics, else points."""
        if RULES[self.metric].relative:
            return 100.0 * (self.after / self.before - 1.0) if self.before else 0.0
        return self.after - self.before

    @property
    def change_percent(self) -> float:
        return 100.0 * (self.after - self.before) / abs(self.before) if self.before else 0.0

    @property
    def up(self) -> bool:
        return self.after > self.before

    @property
    def worse(self) -> bool:
        return self.up != RULES[self.metric].higher_is_better


# --- the tests -------------------------------------------------------------------------


def _design(weekdays: np.ndarray, recent: np.ndarray) -> np.ndarray:
    """Intercept, one dummy per weekday present (the first is the reference), the step."""
    present = sorted(set(weekdays.tolist()))
    columns = [np.ones(len(weekdays))]
    columns += [(weekdays == d).astype(float) for d in present[1:]]
    columns.append(recent.astype(float))
    return np.column_stack(columns)


def _step_p(beta: float, se: float, scale: float, df: float) -> float:
    # An estimated scale below 1 (less spread than Poisson / binomial noise) would
    # sharpen the test beyond what the counts support: never go below the nominal.
    if scale < 1.0:
        se = se / math.sqrt(scale)
    if not (math.isfinite(beta) and math.isfinite(se)) or se <= 0 or df < 1:
        return 1.0
    return float(2 * stats.t.sf(abs(beta / se), df))


def _scan_start(residual: np.ndarray, variance: np.ndarray, sign: float) -> int:
    """How many trailing days the shift most likely spans (a CUSUM-style scan)."""
    best_k, best = 1, -math.inf
    total_r, total_v = 0.0, 0.0
    for k in range(1, min(SCAN_DAYS, len(residual)) + 1):
        total_r += residual[-k]
        total_v += variance[-k]
        if total_v <= 0:
            continue
        score = sign * total_r / math.sqrt(total_v)
        if score > best:
            best_k, best = k, score
    return best_k


def _fit(
    rule: Rule, num: np.ndarray, den: np.ndarray, weekdays: np.ndarray, recent: np.ndarray
) -> tuple[float, int] | None:
    """The step's p-value and the index (into the kept days) where the shift starts."""
    if rule.kind == "count":
        totals = {d: num[weekdays == d].sum() for d in set(weekdays.tolist())}
        keep = np.array([totals[d] > 0 for d in weekdays])
    else:
        keep = den > 0
    if keep[recent].sum() < 2 or keep[~recent].sum() < 14:
        return None
    num, den, weekdays, recent = num[keep], den[keep], weekdays[keep], recent[keep]
    X = _design(weekdays, recent)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            if rule.kind == "count":
                result = sm.GLM(num, X, family=sm.families.Poisson()).fit(scale="X2")
                expected = np.exp(X[:, :-1] @ result.params[:-1])
                residual, variance = num - expected, expected * max(result.scale, 1.0)
            elif rule.kind == "binomial":
                endog = np.column_stack([num, den - num])
                result = sm.GLM(endog, X, family=sm.families.Binomial()).fit(scale="X2")
                share = 1.0 / (1.0 + np.exp(-(X[:, :-1] @ result.params[:-1])))
                residual = num - den * share
                variance = den * share * (1 - share) * max(result.scale, 1.0)
            else:
                result = sm.WLS(num / den, X, weights=den).fit()
                baseline_fit = X[:, :-1] @ result.params[:-1]
                residual, variance = den * (num / den - baseline_fit), den * result.scale
        except (ValueError, np.linalg.LinAlgError, ZeroDivisionError):
            return None
    beta, se = float(result.params[-1]), float(result.bse[-1])
    scale = float(result.scale) if rule.kind in ("count", "binomial") else 1.0
    p = _step_p(beta, se, scale, float(result.df_resid))
    k = _scan_start(residual, variance, 1.0 if beta > 0 else -1.0)
    kept_index = np.flatnonzero(keep)
    return p, int(kept_index[len(kept_index) - k])


def _display(rule: Rule, num: float, den: float, days: int) -> float | None:
    """The figure a person reads, from the window's sums, by the formulas in metrics."""
    if rule.metric == "volume":
        return metrics.ratio(num, days)
    if rule.metric == "csat":
        return metrics.csat_score(int(num), int(den))
    if rule.metric == "fcr":
        return metrics.fcr_rate(int(num), int(den))
    if rule.metric == "nps":
        value = metrics.mean(num, int(den))
        return None if value is None else 100.0 * value  # % promoters - % detractors
    if rule.metric == "first_response":
        value = metrics.mean(num, int(den))
        return None if value is None else math.exp(value)  # typical (geometric mean) seconds
    return metrics.mean(num, int(den))


def fcr_settle_days() -> int:
    """Days after a solve until its first contact resolution is decided: a reopen or a
    new conversation may still turn it until both windows have passed."""
    return max(
        settings.HEEDFUL_FCR_REOPEN_DAYS,
        math.ceil(settings.HEEDFUL_FCR_NEW_CONVERSATION_HOURS / 24),
    )


def settled(series: Series, metric: str) -> Series:
    """The days of `series` whose `metric` is decided. First contact resolution of the
    latest days still looks better than it will (no reopen yet), so its test reads the
    days before the FCR windows instead of the latest: otherwise every run would report
    "first contact resolution rose" on data that has merely not happened yet."""
    cut = fcr_settle_days() if metric == "fcr" else 0
    if cut <= 0 or cut >= series.days:
        return series
    return Series(
        start=series.start,
        days=series.days - cut,
        label=series.label,
        sums={name: values[:-cut] for name, values in series.sums.items()},
    )


def check_series(series: Series, metric: str, key: SegmentKey = ALL) -> Outcome | None:
    """Test one metric of one segment; None when the data is too thin to test."""
    rule = RULES[metric]
    series = settled(series, metric)
    num, den = series[rule.num], series[rule.den]
    n = series.days
    recent = np.arange(n) >= n - RECENT_DAYS
    first_active = np.flatnonzero(den > 0)
    # A segment born inside the baseline would show as a jump from nothing.
    if not len(first_active) or first_active[0] >= (n - RECENT_DAYS) // 2:
        return None
    if den[recent].sum() < rule.min_recent or den[~recent].sum() < rule.min_baseline:
        return None
    before = _display(rule, num[~recent].sum(), den[~recent].sum(), n - RECENT_DAYS)
    after = _display(rule, num[recent].sum(), den[recent].sum(), RECENT_DAYS)
    if before is None or after is None:
        return None
    weekdays = (series.start.weekday() + np.arange(n)) % 7
    fitted = _fit(rule, num, den, weekdays, recent)
    if fitted is None:
        return None
    p, since_index = fitted
    test = Outcome(
        key=key, metric=metric, p_value=p, before=before, after=after, since_index=since_index
    )
    if metric == "csat":
        test.extra["mean_before"] = (
            metrics.mean(series["csat_sum"][~recent].sum(), int(den[~recent].sum())) or 0.0
        )
        test.extra["mean_after"] = (
            metrics.mean(series["csat_sum"][recent].sum(), int(den[recent].sum())) or 0.0
        )
    return test


def find_changes(
    series: Mapping[SegmentKey, Series],
    *,
    metrics_tested: Iterable[str] = METRICS,
    q: float = FDR_Q,
) -> list[Outcome]:
    """All significant, practically relevant changes among every metric and segment,
    with their FDR-adjusted q-values; most significant first."""
    tests = [
        test
        for key, one in series.items()
        for metric in metrics_tested
        if (test := check_series(one, metric, key)) is not None
    ]
    if not tests:
        return []
    overall = np.array([t.key == ALL for t in tests])
    weights = np.ones(len(tests))
    n_overall, n_segments = int(overall.sum()), int((~overall).sum())
    if n_overall and n_segments:
        weights[overall] = OVERALL_SHARE * len(tests) / n_overall
        weights[~overall] = (1 - OVERALL_SHARE) * len(tests) / n_segments
    p = np.array([t.p_value for t in tests])
    reject, q_values, _, _ = multipletests(np.minimum(1.0, p / weights), alpha=q, method="fdr_bh")
    found = []
    for test, rejected, q_value in zip(tests, reject, q_values, strict=True):
        test.q_value = float(q_value)
        if rejected and abs(test.change) >= RULES[test.metric].min_change:
            found.append(test)
    return sorted(found, key=lambda t: (t.q_value, t.p_value))


# --- drivers ---------------------------------------------------------------------------


def drivers(
    test: Outcome, series: Mapping[SegmentKey, Series], labels: Mapping[SegmentKey, str]
) -> list[dict[str, Any]]:
    """The segments that account for most of an overall change (up to three).

    Volume: each segment's change in conversations a day over the total change. Rates
    and means: the shift-share split of the overall change into each segment's own
    change plus the change of its weight. A driver must carry at least a quarter of the
    change and clearly more than its usual share, so "channel email" is not named for
    a change that is simply everywhere."""
    rule = RULES[test.metric]
    whole = series[ALL]
    n = settled(whole, test.metric).days
    recent = np.arange(n) >= n - RECENT_DAYS

    def sums(one: Series) -> tuple[float, float, float, float]:
        one = settled(one, test.metric)
        num, den = one[rule.num], one[rule.den]
        return num[~recent].sum(), den[~recent].sum(), num[recent].sum(), den[recent].sum()

    b_num, b_den, r_num, r_den = sums(whole)
    if not b_den or not r_den:
        return []
    if rule.kind == "count":
        total = r_num / RECENT_DAYS - b_num / (n - RECENT_DAYS)
    else:
        total = r_num / r_den - b_num / b_den
    if not total:
        return []
    found: list[tuple[float, dict[str, Any]]] = []
    for key, one in series.items():
        if key[0] not in DIMENSIONS:
            continue
        sb_num, sb_den, sr_num, sr_den = sums(one)
        base_share = sb_den / b_den
        if base_share >= 0.9:
            continue
        if rule.kind == "count":
            contribution = sr_num / RECENT_DAYS - sb_num / (n - RECENT_DAYS)
        else:
            overall_rate = b_num / b_den
            rate_before = sb_num / sb_den if sb_den else overall_rate
            rate_after = sr_num / sr_den if sr_den else rate_before
            w_before, w_after = sb_den / b_den, sr_den / r_den
            contribution = w_after * (rate_after - rate_before) + (w_after - w_before) * (
                rate_before - overall_rate
            )
        share = contribution / total
        if share >= 0.25 and share >= 1.5 * base_share:
            # Ranked by how much more of the change a segment explains than its usual
            # weight: the portal's tag beats the inbox it arrives in.
            excess = min(share, 1.0) - base_share
            found.append(
                (
                    excess,
                    {
                        "dimension": key[0],
                        "segment_id": key[1],
                        "label": labels.get(key, ""),
                        "share": round(100 * min(share, 1.0)),
                    },
                )
            )
    found.sort(key=lambda item: -item[0])
    return [driver for _, driver in found[:3]]


# --- annotations and comments ----------------------------------------------------------


def nearest_annotation(since: date, annotations: Sequence[Annotation]) -> Annotation | None:
    """The annotation closest to the start of a shift, from two weeks before to a week after."""
    near = [
        a
        for a in annotations
        if since - timedelta(days=ANNOTATION_BEFORE_DAYS)
        <= a.day
        <= since + timedelta(days=ANNOTATION_AFTER_DAYS)
    ]
    # Closest first; on a tie the earlier one, since causes come before effects.
    return min(near, key=lambda a: (abs((a.day - since).days), a.day), default=None)


def _matches(response: Mapping[str, Any], dimension: str, segment_id: int) -> bool:
    if dimension == "tag":
        return segment_id in (response["tag_ids"] or [])
    if dimension == "inbox":
        return response["inbox_id"] == segment_id
    if dimension == "team":
        return response["team_id"] == segment_id
    if dimension == "channel":
        return bool(response["channel"]) and channel_id(response["channel"]) == segment_id
    return True


def _fits_direction(kind: str, score: int, worse: bool) -> bool:
    if worse:
        return metrics.is_low(kind, score)
    # A CES of 4-5 is "easy", on the same 1-5 scale and threshold as a satisfied CSAT.
    return metrics.is_promoter(score) if kind == "nps" else metrics.is_positive_csat(score)


def pick_comments(
    responses: Sequence[Mapping[str, Any]],
    *,
    kinds: Sequence[str],
    worse: bool,
    segments: Sequence[tuple[str, int]],
    only_segments: bool = False,
) -> list[str]:
    """Up to three short comments from the recent window that match the change's
    direction, preferring those from the driver segments (in their order); with
    `only_segments`, from those segments alone (a finding about one tag quotes that tag)."""
    candidates = [
        r
        for r in responses
        if r["kind"] in kinds
        and (not only_segments or any(_matches(r, d, s) for d, s in segments))
        and _fits_direction(r["kind"], r["score"], worse)
        and 3 <= len(r["comment"].strip()) <= 2 * MAX_COMMENT_CHARS
    ]

    def rank(r: Mapping[str, Any]) -> tuple[int, int, int]:
        # The top driver's comments first, then the next driver's, then the rest.
        segment = next((i for i, (d, s) in enumerate(segments) if _matches(r, d, s)), len(segments))
        severity = r["score"] if worse else -r["score"]
        return (segment, severity, len(r["comment"]))

    picked: list[str] = []
    for r in sorted(candidates, key=rank):
        text = " ".join(r["comment"].split())
        if len(text) > MAX_COMMENT_CHARS:
            text = text[: MAX_COMMENT_CHARS - 1].rstrip() + "…"
        if text not in picked:
            picked.append(text)
        if len(picked) == MAX_COMMENTS:
            break
    return picked


def recent_responses(*, start: date, end: date) -> list[dict[str, Any]]:
    """Commented survey responses of the local days `start`..`end`, newest first."""
    from heedful.surveys.models import SurveyResponse

    zone = ZoneInfo(settings.TIME_ZONE)
    low = datetime.combine(start, time(), tzinfo=zone)
    high = datetime.combine(end + timedelta(days=1), time(), tzinfo=zone)
    rows = (
        SurveyResponse.objects.filter(responded_at__gte=low, responded_at__lt=high)
        .exclude(comment="")
        .order_by("-responded_at")
        .values("kind", "score", "comment", "inbox_id", "team_id", "channel", "tag_ids")
    )
    return [dict(row) for row in rows[:1000]]


# --- sentences -------------------------------------------------------------------------


def format_day(day: date) -> str:
    return f"{day.day} {day:%b}"


def format_p(p: float) -> str:
    if p < 0.001:
        return "p < 0.001"
    if p < 0.01:
        return "p < 0.01"
    return f"p = {p:.2f}"


def format_duration(seconds: float) -> str:
    if seconds < 90:
        return f"{seconds:.0f} s"
    if seconds < 90 * 60:
        return f"{seconds / 60:.0f} min"
    if seconds < 36 * 3600:
        return f"{seconds / 3600:.1f} h"
    return f"{seconds / 86400:.1f} days"


def _subject(dimension: str, label: str) -> str:
    return {
        "all": "conversations",
        "tag": f"conversations tagged {label}",
        "inbox": f"conversations in {label}",
        "team": f"conversations for {label}",
        "channel": f"{label} conversations",
    }.get(dimension, "conversations")


def clause(
    *,
    metric: str,
    before: float,
    after: float,
    p_value: float,
    dimension: str = "all",
    label: str = "",
    extra: Mapping[str, float] | None = None,
) -> str:
    """One finding in words: "conversations are up 11% (150 to 167 a day, p < 0.01)"."""
    p = format_p(p_value)
    up = after > before
    verb = "rose" if up else "fell"
    if metric == "volume":
        change = abs(100.0 * (after / before - 1.0)) if before else 0.0
        return (
            f"{_subject(dimension, label)} are {'up' if up else 'down'} {change:.0f}% "
            f"({before:.0f} to {after:.0f} a day, {p})"
        )
    if metric == "csat":
        extra = extra or {}
        if extra.get("mean_before") and extra.get("mean_after"):
            return (
                f"CSAT {verb} from {extra['mean_before']:.1f} to {extra['mean_after']:.1f} "
                f"({before:.0f}% to {after:.0f}% satisfied, {p})"
            )
        return f"CSAT {verb} from {before:.0f}% to {after:.0f}% satisfied ({p})"
    if metric == "ces":
        return f"CES {verb} from {before:.1f} to {after:.1f} ({p})"
    if metric == "nps":
        return f"NPS {verb} from {before:.0f} to {after:.0f} ({p})"
    if metric == "first_response":
        change = abs(100.0 * (after / before - 1.0)) if before else 0.0
        return (
            f"first response time {verb} {change:.0f}% (typically {format_duration(before)} "
            f"to {format_duration(after)}, {p})"
        )
    return f"first contact resolution {verb} from {before:.0f}% to {after:.0f}% ({p})"


def driver_phrase(found: Sequence[Mapping[str, Any]], *, up: bool) -> str:
    if not found:
        return ""
    top = found[0]
    lead = "mostly" if top["share"] >= 50 else "led by"
    what = "increase" if up else "drop"
    return f", {lead} {top['dimension']} {top['label']} ({top['share']}% of the {what})"


def sentence(
    *,
    since: date,
    annotation: Annotation | None,
    dimension: str,
    label: str,
    clauses: Sequence[str],
    comments: Sequence[str],
) -> str:
    """The whole finding: "Since 3 Mar (Portal launched) conversations are up 11% ...;
    CSAT fell from 4.4 to 3.9 ...; 'could not find my invoice in the portal' …"."""
    if annotation is not None:
        start = f"Since {format_day(annotation.day)} ({annotation.title})"
    else:
        start = f"Since {format_day(since)}"
    if dimension != "all":
        start += f", in {dimension} {label}:"  # so the clauses say just "conversations"
    text = f"{start} {'; '.join(clauses)}"
    if comments:
        text += "; " + " · ".join(f"'{c}'" for c in comments)
    return text + "."


# --- the daily run ---------------------------------------------------------------------


def detection_window(day: date) -> tuple[date, date]:
    """The days a run on `day` reads: the baseline and recent windows, ending yesterday
    (today is not over yet)."""
    return day - timedelta(days=BASELINE_DAYS + RECENT_DAYS), day - timedelta(days=1)


def already_told(day: date) -> set[tuple[str, str, int, bool]]:
    """(metric, dimension, segment id, up?) of the findings of the BASELINE_DAYS before
    `day`. A shift keeps testing significant until the baseline has caught up with it,
    eight weeks on; it is told the day it is first found, not every morning after."""
    rows = Insight.objects.filter(
        detected_on__gte=day - timedelta(days=BASELINE_DAYS), detected_on__lt=day
    ).values_list("metric", "dimension", "segment_id", "before_value", "after_value")
    return {(m, d, s, after > before) for m, d, s, before, after in rows}


def detect_changes(*, day: date) -> list[Insight]:
    """Run the detector for `day` and store its new findings, replacing that day's
    earlier ones (a re-run is idempotent); earlier days' findings stay as history."""
    start, end = detection_window(day)
    series = read_series(start=start, end=end)
    told = already_told(day)
    found = [t for t in find_changes(series) if (t.metric, *t.key, t.up) not in told]
    labels = segment_labels(series.keys())
    annotations = list(
        Annotation.objects.filter(
            day__gte=start - timedelta(days=ANNOTATION_BEFORE_DAYS),
            day__lte=end + timedelta(days=ANNOTATION_AFTER_DAYS),
        )
    )
    responses = (
        recent_responses(start=end - timedelta(days=RECENT_DAYS - 1), end=end) if found else []
    )
    rows = _insights(day, start, found, series, labels, annotations, responses)
    with transaction.atomic():
        Insight.objects.filter(detected_on=day).delete()
        Insight.objects.bulk_create(rows)
    return rows


def _insights(
    day: date,
    start: date,
    found: Sequence[Outcome],
    series: Mapping[SegmentKey, Series],
    labels: Mapping[SegmentKey, str],
    annotations: Sequence[Annotation],
    responses: Sequence[Mapping[str, Any]],
) -> list[Insight]:
    groups: dict[SegmentKey, list[Outcome]] = {}
    for test in found:
        groups.setdefault(test.key, []).append(test)
    rows = []
    for key, tests in groups.items():
        # Volume leads when it moved: "conversations are up ..., CSAT fell ...".
        tests.sort(key=lambda t: (t.metric != "volume", t.q_value))
        label = labels.get(key, "")
        per_test = []
        for test in tests:
            since = start + timedelta(days=test.since_index)
            found_drivers = drivers(test, series, labels) if key == ALL else []
            segments = [(d["dimension"], d["segment_id"]) for d in found_drivers] or [key]
            comments = pick_comments(
                responses,
                kinds=RULES[test.metric].survey_kinds,
                worse=test.worse,
                segments=segments,
                only_segments=key != ALL,
            )
            words = clause(
                metric=test.metric,
                before=test.before,
                after=test.after,
                p_value=test.p_value,
                extra=test.extra,
            ) + driver_phrase(found_drivers, up=test.up)
            per_test.append((test, since, found_drivers, comments, words))
        lead_since = per_test[0][1]
        annotation = nearest_annotation(lead_since, annotations)
        for index, (test, since, found_drivers, comments, words) in enumerate(per_test):
            # The group's lead row tells the whole story; the others their own part.
            clauses = [item[4] for item in per_test] if index == 0 else [words]
            quoted = comments or (per_test[0][3] if index == 0 else [])
            rows.append(
                Insight(
                    detected_on=day,
                    metric=test.metric,
                    dimension=key[0],
                    segment_id=key[1],
                    segment_label=label[:120],
                    since=since,
                    before_value=test.before,
                    after_value=test.after,
                    change_percent=test.change_percent,
                    p_value=test.p_value,
                    q_value=test.q_value,
                    sentence=sentence(
                        since=since if index else lead_since,
                        annotation=annotation,
                        dimension=key[0],
                        label=label,
                        clauses=clauses,
                        comments=quoted,
                    ),
                    drivers=found_drivers,
                    comments=comments,
                    annotation=annotation,
                )
            )
    return rows


def local_today() -> date:
    from django.utils import timezone

    return timezone.now().astimezone(ZoneInfo(settings.TIME_ZONE)).date()
