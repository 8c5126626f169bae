"""Seeded synthetic markets: benchmarks, demos and tests that need no files.

Everything here is a pure function of its arguments: the same seed gives the
same bars on every machine (``numpy.random.default_rng``), timestamps start at
a fixed date rather than the wall clock, and every series is marked
``synthetic=True`` with a ``source`` naming the generator and its parameters,
so no result computed on invented prices can pass for a real one.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import StrEnum
from typing import Final, TypeVar

import numpy as np

from bastion.model.bars import BarSeries, FloatArray, IntArray

_A = TypeVar("_A", FloatArray, IntArray)

SYNTHETIC_START_TS: Final = 1_704_067_200_000  # 2024-01-01T00:00:00Z
_HOUR_MS: Final = 3_600_000


class Regime(StrEnum):
    """Market behaviours ``regime_bars`` strings together."""

    TREND = "trend"  # steady drift up or down
    RANGE = "range"  # mean-reverting around the level it started at
    HIGH_VOL = "high_vol"  # no drift, several times the volatility, fat tails
    CRASH = "crash"  # a 15–30% drop over a few hours, then a partial recovery


DEFAULT_REGIMES: Final = (Regime.TREND, Regime.RANGE, Regime.HIGH_VOL, Regime.CRASH)


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeSpan:
    """Bars ``start:stop`` (row indices, stop exclusive) follow ``regime``."""

    regime: Regime
    start: int
    stop: int


def random_walk_bars(
    n: int,
    *,
    seed: int,
    symbol: str = "SYN/USDT",
    start_ts: int = SYNTHETIC_START_TS,
    interval_ms: int = 60_000,
    start_price: float = 100.0,
    sigma: float = 0.001,
    drift: float = 0.0,
    base_volume: float = 10.0,
) -> BarSeries:
    """A geometric random walk: log returns ~ N(drift - sigma²/2, sigma) per bar.

    ``sigma`` is per bar (0.001 is about a 1-minute BTC bar); the ``-sigma²/2``
    keeps the expected *price* flat when ``drift`` is 0. Each bar opens at the
    previous close; wicks extend past open and close in proportion to sigma;
    volume is positive and grows with the size of the bar's move.
    """
    _check_common(n, interval_ms=interval_ms, start_price=start_price, sigma=sigma)
    rng = np.random.default_rng(seed)
    returns = (drift - 0.5 * sigma * sigma) + sigma * rng.standard_normal(n)
    return _assemble(
        rng,
        returns,
        np.full(n, sigma),
        symbol=symbol,
        start_ts=start_ts,
        interval_ms=interval_ms,
        start_price=start_price,
        sigma=sigma,
        base_volume=base_volume,
        source=f"synthetic:random_walk(seed={seed},sigma={sigma:g},drift={drift:g})",
    )


def regime_schedule(
    n: int, *, regimes: Sequence[Regime | str] = DEFAULT_REGIMES, segment_bars: int = 1_440
) -> list[RegimeSpan]:
    """Which regime ``regime_bars`` uses for which rows: ``regimes`` in turn,
    ``segment_bars`` rows each (the last one cut short at ``n``).

    Depends only on its arguments, not on the seed, so a test or a report can
    ask which bars were the crash without generating them.
    """
    if segment_bars < 2:
        raise ValueError(
            f"segment_bars must be >= 2 (a crash needs bars to fall and to recover), "
            f"got {segment_bars}"
        )
    cycle = _parse_regimes(regimes)
    return [
        RegimeSpan(regime=cycle[k % len(cycle)], start=start, stop=min(start + segment_bars, n))
        for k, start in enumerate(range(0, max(n, 0), segment_bars))
    ]


def regime_bars(
    n: int,
    *,
    seed: int,
    symbol: str = "SYN/USDT",
    start_ts: int = SYNTHETIC_START_TS,
    interval_ms: int = 60_000,
    start_price: float = 100.0,
    sigma: float = 0.001,
    regimes: Sequence[Regime | str] = DEFAULT_REGIMES,
    segment_bars: int = 1_440,
    base_volume: float = 10.0,
) -> BarSeries:
    """A market that cycles through ``regimes`` (see ``regime_schedule``).

    trend: 5–20% over the segment, direction random but leaning back towards
    ``start_price`` so crashes do not ratchet long series down; range: an AR(1)
    around the segment's opening level; high_vol: four times ``sigma`` with
    fat tails; crash: a 15–30% fall over 2–4 hours (or half the segment, if
    shorter), then 40–80% of it regained by the segment's end (more when the
    price is already far below its start, so crash-only schedules level off
    rather than sink to zero). Volume rises with volatility.
    """
    _check_common(n, interval_ms=interval_ms, start_price=start_price, sigma=sigma)
    rng = np.random.default_rng(seed)
    returns = np.empty(n)
    scale = np.empty(n)  # per-bar volatility, for wicks
    level = 0.0  # log(price / start_price) at the current segment's start
    for span in regime_schedule(n, regimes=regimes, segment_bars=segment_bars):
        size = span.stop - span.start
        r, s = _SEGMENTS[span.regime](rng, size, sigma, level, interval_ms)
        returns[span.start : span.stop] = r
        scale[span.start : span.stop] = s
        level += float(r.sum())
    names = ",".join(_parse_regimes(regimes))
    return _assemble(
        rng,
        returns,
        scale,
        symbol=symbol,
        start_ts=start_ts,
        interval_ms=interval_ms,
        start_price=start_price,
        sigma=sigma,
        base_volume=base_volume,
        source=(
            f"synthetic:regimes(seed={seed},sigma={sigma:g},segment_bars={segment_bars},"
            f"regimes={names})"
        ),
    )


# --- regimes: each returns (log returns, per-bar volatility) for one segment ---------


def _trend(
    rng: np.random.Generator, size: int, sigma: float, level: float, interval_ms: int
) -> tuple[FloatArray, FloatArray]:
    # 0.5 at the start price, 0.88 at 80% of it: enough to outweigh the crashes'
    # net losses, which would otherwise ratchet a long series towards zero.
    p_up = 1.0 / (1.0 + np.exp(10.0 * level))
    direction = 1.0 if rng.random() < p_up else -1.0
    move = direction * rng.uniform(0.05, 0.20)
    returns = move / size + sigma * rng.standard_normal(size)
    return returns, np.full(size, sigma)


def _range(
    rng: np.random.Generator, size: int, sigma: float, level: float, interval_ms: int
) -> tuple[FloatArray, FloatArray]:
    deviation = _ar1(sigma * rng.standard_normal(size), phi=float(np.exp(-1.0 / 60.0)))
    returns = np.diff(deviation, prepend=0.0)
    return returns, np.full(size, sigma)


def _high_vol(
    rng: np.random.Generator, size: int, sigma: float, level: float, interval_ms: int
) -> tuple[FloatArray, FloatArray]:
    vol = 4.0 * sigma
    returns = vol * rng.standard_t(4, size) / np.sqrt(2.0)  # t(4) has variance 2
    return returns, np.full(size, vol)


def _crash(
    rng: np.random.Generator, size: int, sigma: float, level: float, interval_ms: int
) -> tuple[FloatArray, FloatArray]:
    depth = rng.uniform(0.15, 0.30)
    hours = rng.uniform(2.0, 4.0)
    # Far below the start price (under ~40% of it) recoveries lean towards full,
    # so a schedule of nothing but crashes levels off instead of sinking to zero.
    far_below = 1.0 / (1.0 + np.exp(5.0 * (level + 1.0)))
    regained = rng.uniform(0.4, 0.8)
    regained += (1.0 - regained) * far_below
    fall_bars = min(max(1, round(hours * _HOUR_MS / interval_ms)), max(1, size // 2))
    fall = np.log1p(-depth)
    rise_bars = size - fall_bars
    returns = np.concatenate(
        [
            _bridge(rng, fall_bars, fall, 3.0 * sigma),
            _bridge(rng, rise_bars, -fall * regained, 2.0 * sigma),
        ]
    )
    scale = np.concatenate([np.full(fall_bars, 3.0 * sigma), np.full(rise_bars, 2.0 * sigma)])
    return returns, scale


_SEGMENTS = {
    Regime.TREND: _trend,
    Regime.RANGE: _range,
    Regime.HIGH_VOL: _high_vol,
    Regime.CRASH: _crash,
}


def _bridge(rng: np.random.Generator, size: int, total: float, vol: float) -> FloatArray:
    """``size`` noisy log returns that add up to exactly ``total`` (a Brownian bridge)."""
    if size == 0:
        return np.empty(0)
    noise = vol * rng.standard_normal(size)
    noise -= noise.mean()
    return noise + total / size


def _ar1(noise: FloatArray, *, phi: float) -> FloatArray:
    """``y[t] = phi * y[t-1] + noise[t]`` from ``y[-1] = 0``, without a Python loop.

    Within a block, ``y[t] = phi^t * (y0 + cumsum(noise[k] * phi^-k))``; blocks
    are short enough that ``phi^-k`` stays far from overflow and rounding.
    """
    out = np.empty_like(noise)
    block = max(1, int(20.0 / -np.log(phi)))
    y0 = 0.0
    for start in range(0, len(noise), block):
        chunk = noise[start : start + block]
        powers = phi ** np.arange(1, len(chunk) + 1)
        out[start : start + len(chunk)] = powers * (y0 + np.cumsum(chunk / powers))
        y0 = float(out[start + len(chunk) - 1])
    return out


# --- shared --------------------------------------------------------------------------


def _assemble(
    rng: np.random.Generator,
    returns: FloatArray,
    scale: FloatArray,
    *,
    symbol: str,
    start_ts: int,
    interval_ms: int,
    start_price: float,
    sigma: float,
    base_volume: float,
    source: str,
) -> BarSeries:
    """Bars from per-bar log returns: open = previous close, wicks and volume added."""
    n = len(returns)
    close = start_price * np.exp(np.cumsum(returns))
    open_ = np.empty(n)
    open_[:1] = start_price
    open_[1:] = close[:-1]
    # Multiplying by exp(x >= 0) never rounds below the input, so high >= max(open, close).
    high = np.maximum(open_, close) * np.exp(rng.exponential(0.5, n) * scale)
    low = np.minimum(open_, close) * np.exp(-rng.exponential(0.5, n) * scale)
    activity = 0.5 + np.abs(returns) / sigma
    volume = base_volume * rng.lognormal(0.0, 0.4, n) * activity
    return BarSeries(
        symbol=symbol,
        interval_ms=interval_ms,
        ts=_read_only(start_ts + interval_ms * np.arange(n, dtype=np.int64)),
        open=_read_only(open_),
        high=_read_only(high),
        low=_read_only(low),
        close=_read_only(close),
        volume=_read_only(volume),
        source=source,
        synthetic=True,
    )


def _check_common(n: int, *, interval_ms: int, start_price: float, sigma: float) -> None:
    if n < 0:
        raise ValueError(f"n must be >= 0, got {n}")
    if interval_ms <= 0:
        raise ValueError(f"interval_ms must be positive, got {interval_ms}")
    if not start_price > 0:
        raise ValueError(f"start_price must be > 0, got {start_price}")
    if not 0 < sigma < 0.5:
        raise ValueError(f"sigma is a per-bar log-return volatility in (0, 0.5), got {sigma}")


def _parse_regimes(regimes: Sequence[Regime | str]) -> tuple[Regime, ...]:
    allowed = ", ".join(r.value for r in Regime)
    if isinstance(regimes, str) or not regimes:
        raise ValueError(f"regimes: expected a non-empty sequence of {allowed}; got {regimes!r}")
    parsed = []
    for regime in regimes:
        try:
            parsed.append(Regime(regime))
        except ValueError:
            raise ValueError(f"regime {regime!r}: expected one of {allowed}") from None
    return tuple(parsed)


def _read_only(array: _A) -> _A:
    """Bars are facts: an accidental in-place edit should fail loudly."""
    array.flags.writeable = False
    return array
