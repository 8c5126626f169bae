"""The summary computed from a curve fed a chunk at a time is ``summarize``'s
and ``monthly_returns``' own, to the bit, wherever the curve is cut."""

from __future__ import annotations

import itertools

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.observe.breakdown import monthly_returns
from bastion.observe.curve_stats import CurveStats
from bastion.observe.stats import summarize


@settings(max_examples=200, deadline=None)
@given(
    n=st.integers(1, 3_000),
    interval=st.sampled_from([60_000, 3_600_000, 86_400_000]),
    shape=st.sampled_from(["walk", "rising", "flat", "crash"]),
    seed=st.integers(0, 2**16),
    cuts=st.lists(st.integers(0, 3_000), max_size=6),
)
def test_chunked_figures_are_the_whole_curves(
    n: int, interval: int, shape: str, seed: int, cuts: list[int]
) -> None:
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000_000 + np.cumsum(rng.integers(1, 4, n)) * interval
    eq = {
        "walk": 1000 * np.cumprod(1 + rng.normal(0, 0.01, n)),
        "rising": 1000.0 + np.arange(n, dtype=np.float64),
        "flat": np.full(n, 1000.0),
        "crash": np.maximum(1000 - 3.0 * np.arange(n), 0.0),
    }[shape]
    pnl = rng.normal(0, 1, int(rng.integers(0, 20)))
    whole = summarize(
        equity_ts=ts,
        equity=eq,
        interval_ms=interval,
        trips=[],
        exposure_bars=3,
        bars=n,
        initial_equity=1000.0,
        fees=1.5,
    )
    stats = CurveStats(1000.0, interval)
    edges = sorted({0, n, *(c for c in cuts if c < n)})

    for lo, hi in itertools.pairwise(edges):
        stats.add(ts[lo:hi], eq[lo:hi])

    assert stats.summary(trip_pnl=np.empty(0), exposure_bars=3, bars=n, fees=1.5) == whole
    assert stats.monthly() == monthly_returns(ts, eq, 1000.0, interval)
    with_trips = stats.summary(trip_pnl=pnl, exposure_bars=3, bars=n, fees=1.5)
    assert with_trips["round_trips"] == pnl.size
