"""Synthetic daily series with a known truth, for the change detector's tests and its
benchmark (bench/change_detection.py): noise only, weekly patterns, or a shift of one
metric over the last days."""

from datetime import date
from typing import Any

import numpy as np

from heedful.insights.changes import BASELINE_DAYS, RECENT_DAYS, find_changes
from heedful.insights.series import ALL, SegmentKey, Series

DAYS = BASELINE_DAYS + RECENT_DAYS
START = date(2025, 1, 6)  # a Monday; any weekday works, the design follows the calendar
SEASON = np.array([1.25, 1.15, 1.1, 1.05, 1.0, 0.5, 0.35])  # Monday .. Sunday
FLAT = np.ones(7)


def synthetic(
    rng: np.random.Generator,
    *,
    volume: float,
    metric: str = "",
    shift: float = 1.0,
    shifted_days: int = 0,
    season: np.ndarray = SEASON,
    csat: float = 0.8,
    response_share: float = 0.4,
    nps_per_day: float = 0.0,
) -> Series:
    """One segment's daily sums: conversations (Poisson around a weekly pattern with mean
    `volume`), CSAT answers from `response_share` of them, CES from 15%, first response
    times (log-normal, median one hour), FCR (70%) and NPS answers; `metric` ("volume" or
    "csat") is multiplied by `shift` over the last `shifted_days` days."""
    n = DAYS
    weekday = (START.weekday() + np.arange(n)) % 7
    step = np.ones(n)
    if shifted_days:
        step[n - shifted_days :] = shift
    expected = volume * season[weekday] / season.mean()
    created = rng.poisson(expected * (step if metric == "volume" else 1.0))
    responses = rng.binomial(created, response_share)
    positive = rng.binomial(responses, np.clip(csat * (step if metric == "csat" else 1.0), 0, 1))
    negative = responses - positive
    ces = rng.binomial(created, 0.15)
    ces_answers = rng.multinomial(ces, [0.1, 0.1, 0.2, 0.3, 0.3])
    nps = rng.poisson(nps_per_day, n)
    nps_answers = rng.multinomial(nps, [0.45, 0.3, 0.25])  # promoters, passives, detractors
    known = rng.poisson(expected * 0.9)
    csat_sum = (
        4 * positive + rng.binomial(positive, 0.6) + negative + rng.binomial(2 * negative, 0.5)
    )
    series = Series(start=START, days=n)
    series.sums.update(
        created=created.astype(float),
        csat_responses=responses.astype(float),
        csat_positive=positive.astype(float),
        csat_sum=csat_sum.astype(float),
        ces_responses=ces.astype(float),
        ces_sum=(ces_answers @ np.arange(1, 6)).astype(float),
        nps_responses=nps.astype(float),
        nps_net=(nps_answers[:, 0] - nps_answers[:, 2]).astype(float),
        fr_count=created.astype(float),
        fr_log_sum=rng.normal(created * np.log(3600), np.sqrt(created) * 1.5),
        fcr_known=known.astype(float),
        fcr_yes=rng.binomial(known, 0.7).astype(float),
    )
    return series


def workspace(
    rng: np.random.Generator, *, volume: float, tags: int, tag_volume: float = 40, **shift: Any
) -> dict[SegmentKey, Series]:
    """The overall series (which may shift) and `tags` independent noise segments."""
    family = {ALL: synthetic(rng, volume=volume, nps_per_day=20, **shift)}
    for tag in range(1, tags + 1):
        family["tag", tag] = synthetic(rng, volume=tag_volume)
    return family


def alarm_rate(rng: np.random.Generator, runs: int, **kw: Any) -> float:
    """Share of noise-only runs in which anything at all was reported."""
    return sum(bool(find_changes(workspace(rng, **kw))) for _ in range(runs)) / runs


def found_within_a_week(rng: np.random.Generator, metric: str, **kw: Any) -> bool:
    """Whether any daily run in the first seven days of a shift reports it overall."""
    for days in range(RECENT_DAYS, 0, -1):  # the last look has the most data: try it first
        family = workspace(rng, metric=metric, shifted_days=days, **kw)
        if any(f.key == ALL and f.metric == metric for f in find_changes(family)):
            return True
    return False


def power(rng: np.random.Generator, runs: int, metric: str, **kw: Any) -> float:
    return sum(found_within_a_week(rng, metric, **kw) for _ in range(runs)) / runs
