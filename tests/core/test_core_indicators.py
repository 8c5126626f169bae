"""Indicators against plain NumPy references, warm-up, and no lookahead."""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from bastion.model.indicators import ATR, EMA, SMA, VWAP, IndicatorSpec, RollingStd

Row = tuple[float, float, float, float, float]  # open, high, low, close, volume
Series = list[float | None]


# ----------------------------------------------------------------- references
def ref_sma(x: np.ndarray, p: int) -> Series:
    return [None if i < p - 1 else float(np.mean(x[i - p + 1 : i + 1])) for i in range(len(x))]


def ref_std(x: np.ndarray, p: int) -> Series:
    return [None if i < p - 1 else float(np.std(x[i - p + 1 : i + 1])) for i in range(len(x))]


def ref_ema(x: np.ndarray, p: int) -> Series:
    out: Series = [None] * len(x)
    alpha = 2.0 / (p + 1)
    e = None
    for i in range(len(x)):
        if i == p - 1:
            e = float(np.mean(x[:p]))
        elif e is not None:
            e = e + alpha * (x[i] - e)
        out[i] = e
    return out


def ref_atr(h: np.ndarray, low: np.ndarray, c: np.ndarray, p: int) -> Series:
    prev_close = np.concatenate([[np.nan], c[:-1]])
    tr = np.where(
        np.isnan(prev_close),
        h - low,
        np.maximum.reduce([h - low, np.abs(h - prev_close), np.abs(low - prev_close)]),
    )
    out: Series = [None] * len(h)
    a = None
    for i in range(len(h)):
        if i == p - 1:
            a = float(np.mean(tr[:p]))
        elif a is not None:
            a = (a * (p - 1) + tr[i]) / p  # Wilder
        out[i] = a
    return out


def ref_vwap(h: np.ndarray, low: np.ndarray, c: np.ndarray, v: np.ndarray, p: int) -> Series:
    typical = (h + low + c) / 3.0
    out: Series = [None] * len(h)
    for i in range(p - 1, len(h)):
        w = slice(i - p + 1, i + 1)
        vol = float(np.sum(v[w]))
        out[i] = float(np.sum(typical[w] * v[w]) / vol) if vol > 0 else float(typical[i])
    return out


# ------------------------------------------------------------------- helpers
def run(spec: IndicatorSpec, rows: Sequence[Row]) -> tuple[Series, Series]:
    """Values and prevs after each bar."""
    ind = spec.build()
    values: Series = []
    prevs: Series = []
    for row in rows:
        ind.update(*row)
        values.append(ind.value)
        prevs.append(ind.prev)
    return values, prevs


def assert_close(got: Series, want: Series, scale: float) -> None:
    assert [g is None for g in got] == [w is None for w in want]
    for i, (g, w) in enumerate(zip(got, want, strict=True)):
        if g is not None and w is not None:
            assert math.isclose(g, w, rel_tol=1e-9, abs_tol=1e-9 * scale), (i, g, w)


@st.composite
def bar_rows(draw: st.DrawFn, min_size: int = 1) -> list[Row]:
    n = draw(st.integers(min_value=min_size, max_value=40))
    price = st.floats(min_value=1.0, max_value=100_000.0, allow_nan=False)
    wick = st.floats(min_value=0.0, max_value=50.0, allow_nan=False)
    volume = st.one_of(st.just(0.0), st.floats(min_value=1e-6, max_value=10_000.0, allow_nan=False))
    rows: list[Row] = []
    for _ in range(n):
        o, c = draw(price), draw(price)
        hi = max(o, c) + draw(wick)
        lo = max(min(o, c) - draw(wick), 0.0)
        rows.append((o, hi, lo, c, draw(volume)))
    return rows


periods = st.integers(min_value=1, max_value=15)


def columns(rows: Sequence[Row]) -> tuple[np.ndarray, ...]:
    return tuple(np.array(col, dtype=np.float64) for col in zip(*rows, strict=True))


def scale_of(rows: Sequence[Row]) -> float:
    return max(max(abs(x) for x in row[:4]) for row in rows)


# ---------------------------------------------------------------- references
@settings(max_examples=60, deadline=None)
@given(bar_rows(), periods)
def test_sma_matches_numpy(rows: list[Row], p: int) -> None:
    _, _, _, c, _ = columns(rows)

    values, _ = run(SMA(p), rows)

    assert_close(values, ref_sma(c, p), scale_of(rows))


@settings(max_examples=60, deadline=None)
@given(bar_rows(), periods)
def test_sma_of_another_source_matches_numpy(rows: list[Row], p: int) -> None:
    _, h, _, _, _ = columns(rows)

    values, _ = run(SMA(p, "high"), rows)

    assert_close(values, ref_sma(h, p), scale_of(rows))


@settings(max_examples=60, deadline=None)
@given(bar_rows(), periods)
def test_rolling_std_matches_numpy(rows: list[Row], p: int) -> None:
    _, _, _, c, _ = columns(rows)

    values, _ = run(RollingStd(p), rows)

    assert_close(values, ref_std(c, p), scale_of(rows))


@settings(max_examples=60, deadline=None)
@given(bar_rows(), periods)
def test_ema_matches_numpy(rows: list[Row], p: int) -> None:
    _, _, _, c, _ = columns(rows)

    values, _ = run(EMA(p), rows)

    assert_close(values, ref_ema(c, p), scale_of(rows))


@settings(max_examples=60, deadline=None)
@given(bar_rows(), periods)
def test_atr_matches_numpy(rows: list[Row], p: int) -> None:
    _, h, low, c, _ = columns(rows)

    values, _ = run(ATR(p), rows)

    assert_close(values, ref_atr(h, low, c, p), scale_of(rows))


@settings(max_examples=100, deadline=None)
@given(bar_rows(), periods)
def test_vwap_matches_numpy(rows: list[Row], p: int) -> None:
    _, h, low, c, v = columns(rows)

    values, _ = run(VWAP(p), rows)

    assert_close(values, ref_vwap(h, low, c, v, p), scale_of(rows))


def test_vwap_over_a_window_of_zero_volume_is_the_typical_price_not_a_rounding_residue() -> None:
    # Found by the reference test: after 0.1 and 0.2 leave the window, the running
    # sums held ~1e-17 of rounding residue instead of 0, and VWAP came out as 0.0.
    rows = [(100.0, 101.0, 99.0, 100.0, vol) for vol in (0.1, 0.2, 0.0, 0.0)]

    values, _ = run(VWAP(2), rows)

    assert values[-1] == pytest.approx(100.0)


# ------------------------------------------------------ warm-up, lookahead
SPECS: dict[str, Callable[[int], IndicatorSpec]] = {
    "sma": SMA,
    "std": RollingStd,
    "ema": EMA,
    "atr": ATR,
    "vwap": VWAP,
}


@pytest.mark.parametrize("kind", sorted(SPECS))
@settings(max_examples=20, deadline=None)
@given(rows=bar_rows(min_size=16), p=periods)
def test_value_is_none_until_the_window_fills_then_always_set(
    kind: str, rows: list[Row], p: int
) -> None:
    values, _ = run(SPECS[kind](p), rows)

    assert all(x is None for x in values[: p - 1])
    assert all(x is not None for x in values[p - 1 :])


@pytest.mark.parametrize("kind", sorted(SPECS))
@settings(max_examples=20, deadline=None)
@given(rows=bar_rows(min_size=2), p=periods, data=st.data())
def test_no_lookahead_a_prefix_reports_what_the_full_run_reported(
    kind: str, rows: list[Row], p: int, data: st.DataObject
) -> None:
    k = data.draw(st.integers(min_value=1, max_value=len(rows) - 1))

    full, full_prev = run(SPECS[kind](p), rows)
    prefix, prefix_prev = run(SPECS[kind](p), rows[:k])

    assert full[:k] == prefix
    assert full_prev[:k] == prefix_prev
    assert full_prev[1:] == full[:-1]  # prev is exactly what was reported one bar earlier


@pytest.mark.parametrize("kind", sorted(SPECS))
def test_a_period_below_one_is_refused(kind: str) -> None:
    with pytest.raises(ValueError, match="period"):
        SPECS[kind](0).build()
