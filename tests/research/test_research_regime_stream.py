"""The regime breakdown of a curve read a chunk at a time is the whole-array
``regime_breakdown(labels=label_regimes(...))``, to the bit, wherever it is cut:
gaps in the bars, windows longer than a chunk, trips before the first bar and
after the last, and the volatility quantile taken by radix select; with the
market's series kept between passes (a short run) or recomputed each pass."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.research.regime_stream import streamed_breakdown
from bastion.research.regimes import RegimeRules, label_regimes, regime_breakdown

MINUTE = 60_000


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 6_000),
    rows=st.sampled_from([1, 7, 100, 1_000, 1 << 18]),
    trend_bars=st.sampled_from([5, 60, 3_000]),
    vol_bars=st.sampled_from([3, 30, 2_000]),
    quantile=st.floats(0.01, 0.99),
    trips=st.integers(0, 25),
    seed=st.integers(0, 2**16),
    keep=st.booleans(),
)
def test_streamed_breakdown_is_the_whole_arrays(
    n: int,
    rows: int,
    trend_bars: int,
    vol_bars: int,
    quantile: float,
    trips: int,
    seed: int,
    keep: bool,
) -> None:
    rng = np.random.default_rng(seed)
    ts = 1_700_000_000_000 + np.cumsum(rng.choice([1, 1, 1, 2, 7], n)) * MINUTE
    eq = 1000 * np.cumprod(1 + rng.normal(0, 0.002, n))
    market = 100 * np.cumprod(1 + rng.normal(0, 0.002, n))
    rules = RegimeRules(
        trend_window_ms=trend_bars * MINUTE,
        trend_threshold=0.01,
        vol_window_ms=vol_bars * MINUTE,
        vol_quantile=quantile,
    )
    entries = np.sort(rng.integers(int(ts[0]) - 5 * MINUTE, int(ts[-1]) + 5 * MINUTE, trips))
    pnl = rng.normal(0, 1, trips)
    whole = regime_breakdown(
        equity_ts=ts,
        equity=eq,
        initial_equity=1000.0,
        market=market,
        labels=label_regimes(ts, market, MINUTE, rules),
        interval_ms=MINUTE,
        rules=rules,
        trips=list(zip(entries.tolist(), pnl.tolist(), strict=True)),
    )

    def passes():  # type: ignore[no-untyped-def]
        for lo in range(0, n, rows):
            yield ts[lo : lo + rows], eq[lo : lo + rows], market[lo : lo + rows]

    streamed = streamed_breakdown(
        passes,
        rows=n,
        initial_equity=1000.0,
        interval_ms=MINUTE,
        rules=rules,
        trips=(entries.astype(np.int64), pnl),
        keep_rows=n if keep else n - 1,  # the market series kept between passes, or recomputed
    )

    assert streamed == whole
