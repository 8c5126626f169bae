"""Properties that hold for any valid bars, checked on many generated inputs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.data import (
    find_gaps,
    load_bars,
    random_walk_bars,
    regime_bars,
    resample,
    validate_bars,
)
from bastion.model.bars import BarSeries

COLUMNS = ("ts", "open", "high", "low", "close", "volume")
INTERVALS = (1_000, 60_000, 300_000, 3_600_000)

prices = st.floats(min_value=1e-6, max_value=1e9, allow_nan=False, allow_infinity=False)
fractions = st.floats(min_value=0.0, max_value=0.5)
volumes = st.floats(min_value=0.0, max_value=1e12, allow_nan=False, allow_infinity=False)


@st.composite
def bar_series(draw: st.DrawFn, max_bars: int = 120) -> BarSeries:
    """Valid bars on an interval grid, with occasional gaps."""
    interval = draw(st.sampled_from(INTERVALS))
    n = draw(st.integers(0, max_bars))
    start = draw(st.integers(1_262_304_000, 4_102_444_800)) * 1_000 // interval * interval
    steps = draw(st.lists(st.sampled_from([1, 1, 1, 1, 2, 5]), min_size=n, max_size=n))
    rows = draw(
        st.lists(st.tuples(prices, prices, fractions, fractions, volumes), min_size=n, max_size=n)
    )
    o = np.array([r[0] for r in rows], dtype=np.float64)
    c = np.array([r[1] for r in rows], dtype=np.float64)
    up = np.array([r[2] for r in rows], dtype=np.float64)
    down = np.array([r[3] for r in rows], dtype=np.float64)
    return BarSeries(
        symbol="HYP/USDT",
        interval_ms=interval,
        ts=start + interval * (np.cumsum(steps, dtype=np.int64) - 1),
        open=o,
        high=np.maximum(o, c) * (1.0 + up),
        low=np.minimum(o, c) * (1.0 - down),
        close=c,
        volume=np.array([r[4] for r in rows], dtype=np.float64),
    )


@given(bar_series())
def test_validate_accepts_every_generated_series(series: BarSeries) -> None:
    validate_bars(series)


@given(bar_series(), st.sampled_from([2, 3, 5, 60]))
def test_resample_preserves_extremes_ends_and_volume(series: BarSeries, factor: int) -> None:
    target = series.interval_ms * factor

    out = resample(series, target)

    validate_bars(out)
    assert len(out) <= len(series)
    assert np.all(out.ts % target == 0)
    assert out.volume.sum() == pytest.approx(series.volume.sum(), rel=1e-9, abs=1e-6)
    if len(series):
        assert out.open[0] == series.open[0]
        assert out.close[-1] == series.close[-1]
        assert out.high.max() == series.high.max()
        assert out.low.min() == series.low.min()
        assert len(out) == len(np.unique(series.ts // target))


@given(bar_series())
def test_gaps_account_for_every_missing_bar(series: BarSeries) -> None:
    gaps = find_gaps(series)

    if len(series):
        span = (int(series.ts[-1]) - int(series.ts[0])) // series.interval_ms + 1
        assert len(series) + sum(g.missing_bars for g in gaps) == span
    assert all(g.next_ts - g.after_ts == (g.missing_bars + 1) * series.interval_ms for g in gaps)


@given(
    n=st.integers(0, 3_000),
    seed=st.integers(0, 2**32 - 1),
    sigma=st.floats(1e-5, 0.05),
    interval_ms=st.sampled_from(INTERVALS),
)
def test_random_walk_always_validates(n: int, seed: int, sigma: float, interval_ms: int) -> None:
    validate_bars(random_walk_bars(n, seed=seed, sigma=sigma, interval_ms=interval_ms))


@given(
    n=st.integers(0, 3_000),
    seed=st.integers(0, 2**32 - 1),
    sigma=st.floats(1e-5, 0.02),
    interval_ms=st.sampled_from(INTERVALS),
    segment_bars=st.integers(2, 500),
    regimes=st.lists(st.sampled_from(["trend", "range", "high_vol", "crash"]), min_size=1),
)
def test_regime_bars_always_validate(
    n: int, seed: int, sigma: float, interval_ms: int, segment_bars: int, regimes: list[str]
) -> None:
    series = regime_bars(
        n,
        seed=seed,
        sigma=sigma,
        interval_ms=interval_ms,
        segment_bars=segment_bars,
        regimes=regimes,
    )
    validate_bars(series)
    assert np.all(series.volume > 0)


def write_csv(series: BarSeries, path: Path) -> None:
    lines = ["ts,open,high,low,close,volume"]
    for i in range(len(series)):
        values = [getattr(series, name)[i] for name in COLUMNS[1:]]
        lines.append(",".join([str(int(series.ts[i])), *(repr(float(v)) for v in values)]))
    path.write_text("\n".join(lines) + "\n")


def write_parquet(series: BarSeries, path: Path) -> None:
    pq.write_table(pa.table({name: getattr(series, name) for name in COLUMNS}), path)


@settings(deadline=None, max_examples=50)
@given(series=bar_series(), fmt=st.sampled_from(["csv", "parquet"]))
def test_files_round_trip_exactly(
    tmp_path_factory: pytest.TempPathFactory, series: BarSeries, fmt: str
) -> None:
    if len(series) == 0:
        return  # an empty file is refused, by design
    path = tmp_path_factory.mktemp("roundtrip") / f"bars.{fmt}"
    (write_csv if fmt == "csv" else write_parquet)(series, path)

    loaded = load_bars(path, symbol=series.symbol, interval_ms=series.interval_ms)

    for name in COLUMNS:
        np.testing.assert_array_equal(getattr(loaded, name), getattr(series, name))
