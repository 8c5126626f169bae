"""``label_regimes`` and ``regime_breakdown`` over a curve read a chunk at a
time, in a few passes, so that a run of ten million bars is broken down by
regime without holding its curve. The market's trend and volatility
(``regime_series``) are computed in the first pass that needs them; a run of
up to ``KEEP_ROWS`` bars keeps them for the five passes after it (the same
arrays), a longer one recomputes them each pass.

The figures are the whole-array functions' floats, bit for bit (a property
test holds them to it): a pass is elementwise work plus carries across the
cut that keep each float operation's operands and order the same:

- the mean of the market's log returns (to centre them) is NumPy's pairwise
  sum, rebuilt from the same blocks (``_pairwise_mean``);
- running sums (``cumsum``, ``bincount``) continue from the value carried in,
  put first (``x0 + a + b`` in the same order as one long pass);
- trailing windows look back into a carried tail of the curve, no longer
  than the window can hold (bars are at least an interval apart);
- the volatility threshold, a quantile over every labelled bar, takes its
  two order statistics by a radix select over the float bits (four passes),
  then NumPy's own interpolation (``_linear_quantile``).

Pure: ``passes`` is a callable that yields the curve's chunks ``(ts, equity,
market)`` from the first row each time it is called.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any

import numpy as np

from bastion.research.regime_series import Chunks, MarketSeries
from bastion.research.regimes import (
    DAY_MS,
    TREND_NAMES,
    TREND_ORDER,
    UNLABELLED,
    VOL_NAMES,
    VOL_ORDER,
    FloatArray,
    IntArray,
    RegimeRules,
    _lookup,
    _sharpe,
)

_LEAF = 1 << 16  # pairwise blocks summed whole (NumPy's own split above this)
# Runs up to this many bars keep the market's trend and volatility (16 bytes a
# bar, 32 MB at most) from the first pass for the other five; longer ones
# recompute them each pass, as memory stays bounded whatever the run's length.
KEEP_ROWS = 1 << 21


def streamed_breakdown(
    passes: Chunks,
    *,
    rows: int,
    initial_equity: float,
    interval_ms: int,
    rules: RegimeRules,
    trips: tuple[IntArray, FloatArray],
    keep_rows: int = KEEP_ROWS,
) -> dict[str, Any]:
    """``regime_breakdown(labels=label_regimes(ts, market, ...))`` of the curve
    that ``passes`` yields (``rows`` points); ``trips``: entry ts and net PnL.
    ``keep_rows``: the longest run whose market series is kept between passes."""
    mean = _pairwise_mean(passes, rows)
    series = MarketSeries(passes, mean, interval_ms, rules, keep=rows <= keep_rows)
    defined, key = _count_defined(series)
    threshold = _linear_quantile(series, rules, defined, key)
    table = _Tables(initial_equity, interval_ms, trips)
    for ts, eq, mk, trend, vol in _labelled(series, rules, threshold):
        table.add(ts, eq, mk, trend, vol)
    return table.result(rules, threshold)


def _pairwise_mean(passes: Chunks, rows: int) -> float:
    """``logret[1:].mean()`` of the market, as NumPy's pairwise sum adds it up."""
    n = rows - 1
    if n <= 0:
        return math.nan
    leaves: list[tuple[int, int]] = []

    def split(lo: int, hi: int) -> None:
        if hi - lo <= _LEAF:
            leaves.append((lo, hi))
            return
        half = (hi - lo) // 2
        half -= half % 8
        split(lo, lo + half)
        split(lo + half, hi)

    split(0, n)
    sums: dict[tuple[int, int], float] = {}
    buf: list[FloatArray] = []
    have, leaf, last = 0, 0, None
    for _ts, _eq, mk in passes():
        lp = np.log(mk)
        lr = np.diff(lp if last is None else np.concatenate(([last], lp)))
        last = float(lp[-1])
        buf.append(lr)
        have += lr.size
        while leaf < len(leaves) and have >= leaves[leaf][1]:
            lo, hi = leaves[leaf]
            joined = np.concatenate(buf)
            start = have - joined.size
            sums[(lo, hi)] = float(np.add.reduce(joined[lo - start : hi - start].copy()))
            buf = [joined[hi - start :]]
            leaf += 1

    def total(lo: int, hi: int) -> float:
        if (lo, hi) in sums:
            return sums[(lo, hi)]
        half = (hi - lo) // 2
        half -= half % 8
        return float(np.float64(total(lo, lo + half)) + np.float64(total(lo + half, hi)))

    return float(np.float64(total(0, n)) / n)


def _count_defined(series: MarketSeries) -> tuple[int, Callable[[FloatArray], Any]]:
    n = 0
    for sigma in series.sigmas():
        n += int((~np.isnan(sigma)).sum())

    def key(sigma: FloatArray) -> Any:  # order-preserving bits of the (non-negative) values
        return (sigma[~np.isnan(sigma)] + 0.0).view(np.uint64)

    return n, key


def _linear_quantile(
    series: MarketSeries, rules: RegimeRules, n: int, key: Callable[[FloatArray], Any]
) -> float | None:
    """``np.quantile(defined sigma, q)`` ("linear"): the two order statistics by
    radix select, 16 bits a pass, then NumPy's interpolation."""
    if n == 0:
        return None
    vi = np.float64(n - 1) * np.float64(rules.vol_quantile)
    if vi >= n - 1:
        lo_i = hi_i = n - 1
        gamma = vi + 1.0  # NumPy's (the index clamped to -1)
    else:
        lo_i = int(np.floor(vi))
        hi_i = lo_i + 1
        gamma = vi - np.float64(lo_i)
    wanted = [lo_i, hi_i]
    prefix = [0, 0]
    for shift in (48, 32, 16, 0):
        hist = [np.zeros(1 << 16, np.int64), np.zeros(1 << 16, np.int64)]
        for sigma in series.sigmas():
            bits = key(sigma)
            for s in range(2):
                above = bits >> np.uint64(shift + 16) if shift < 48 else None
                sel = bits if above is None else bits[above == np.uint64(prefix[s] >> (shift + 16))]
                digit = ((sel >> np.uint64(shift)) & np.uint64(0xFFFF)).astype(np.int64)
                hist[s] += np.bincount(digit, minlength=1 << 16)
        for s in range(2):
            cum = np.cumsum(hist[s])
            d = int(np.searchsorted(cum, wanted[s], side="right"))
            wanted[s] -= int(cum[d - 1]) if d else 0
            prefix[s] |= d << shift
    a, b = (np.array([p], np.uint64).view(np.float64)[0] for p in prefix)
    diff = b - a
    return float(b - diff * (1 - gamma) if gamma >= 0.5 else a + diff * gamma)


def _labelled(
    series: MarketSeries, rules: RegimeRules, threshold: float | None
) -> Iterator[tuple[IntArray, FloatArray, FloatArray, IntArray, IntArray]]:
    for ts, eq, mk, r, sigma in series():
        trend = np.full(ts.size, UNLABELLED, dtype=np.int64)
        has = ~np.isnan(r)
        trend[has] = 0
        trend[has & (r > rules.trend_threshold)] = 1
        trend[has & (r < -rules.trend_threshold)] = -1
        vol = np.full(ts.size, UNLABELLED, dtype=np.int64)
        defined = ~np.isnan(sigma)
        if threshold is not None:
            vol[defined] = 0
            vol[defined & (sigma > threshold)] = 1
        yield ts, eq, mk, trend, vol


# --- the tables ---------------------------------------------------------------------


class _Group:
    """One grouping (trend, volatility, combined) accumulated over chunks."""

    def __init__(self, names: list[str], keep: list[bool], k: int | None = None) -> None:
        """``k``: codes counted (past ``names``: counted, then left out)."""
        self.names, self.keep, self.k = names, keep, k or len(names)
        self.bars = np.zeros(self.k, np.int64)
        self.ret: FloatArray = np.zeros(self.k)
        self.mret: FloatArray = np.zeros(self.k)
        self.day_lr = np.zeros((0, self.k))
        self.day_n = np.zeros((0, self.k), np.int64)
        self.level = np.zeros(self.k)  # running log level of each group's bars
        self.peak = np.zeros(self.k)
        self.low = np.full(self.k, np.inf)  # min of level - peak
        self.trip_group: list[IntArray] = []

    def add(self, group: IntArray, lr: FloatArray, mlr: FloatArray, day: IntArray) -> None:
        k, seed = self.k, np.arange(self.k)
        self.bars += np.bincount(group, minlength=k)
        # Each sum goes on from the value carried in, put first: the same order of
        # additions as one ``bincount`` over the whole run.
        self.ret = np.bincount(np.r_[seed, group], np.r_[self.ret, lr], minlength=k).astype(float)
        self.mret = np.bincount(np.r_[seed, group], np.r_[self.mret, mlr], minlength=k).astype(
            float
        )
        lo, hi = int(day[0]), int(day[-1]) + 1
        if hi > self.day_lr.shape[0]:
            grow = hi - self.day_lr.shape[0]
            self.day_lr = np.vstack([self.day_lr, np.zeros((grow, k))])
            self.day_n = np.vstack([self.day_n, np.zeros((grow, k), np.int64)])
        cells = (day - lo) * k + group
        size = (hi - lo) * k
        block = self.day_lr[lo:hi].ravel()
        self.day_lr[lo:hi] = np.bincount(
            np.r_[np.arange(size), cells], np.r_[block, lr], minlength=size
        ).reshape(hi - lo, k)
        self.day_n[lo:hi] += np.bincount(cells, minlength=size).reshape(hi - lo, k)
        for c in range(k):
            sub = lr[group == c]
            if sub.size:
                level = np.cumsum(np.r_[self.level[c], sub])[1:]
                peak = np.maximum.accumulate(np.r_[self.peak[c], level])[1:]
                self.low[c] = min(self.low[c], float((level - peak).min()))
                self.level[c], self.peak[c] = level[-1], peak[-1]

    def table(self, n: int, tg: IntArray, pnl: FloatArray) -> dict[str, Any]:
        k = self.k
        trips = np.bincount(tg, minlength=k)
        wins = np.bincount(tg, weights=(pnl > 0).astype(float), minlength=k)
        net = np.bincount(tg, weights=pnl, minlength=k)
        out: dict[str, Any] = {}
        for c, name in enumerate(self.names):
            if not (self.keep[c] or self.bars[c]):
                continue
            days = self.day_n[:, c] > 0
            out[name] = {
                "bars": int(self.bars[c]),
                "share": float(self.bars[c] / n) if n else 0.0,
                "return": float(np.expm1(self.ret[c])),
                "market_return": float(np.expm1(self.mret[c])),
                "sharpe": _sharpe(np.expm1(self.day_lr[days, c])),
                "max_drawdown": float(-np.expm1(self.low[c])) if self.bars[c] else 0.0,
                "round_trips": int(trips[c]),
                "win_rate": float(wins[c] / trips[c]) if trips[c] else None,
                "net_pnl": float(net[c]),
            }
        return out


class _Tables:
    def __init__(self, initial: float, interval: int, trips: tuple[IntArray, FloatArray]) -> None:
        self.interval = interval
        self.prev_eq: float = initial
        self.prev_mk: float | None = None
        self.day0: int | None = None
        self.n = 0
        self.entries, self.pnl = trips
        self.seen = np.zeros(self.entries.size, np.int64)  # bars at or before each entry
        self.trip_codes = np.zeros((self.entries.size, 3), np.int64)
        combos = [
            f"{TREND_NAMES[a]}/{VOL_NAMES[b]}" for a in TREND_ORDER[:3] for b in VOL_ORDER[:2]
        ]
        self.groups = (
            _Group([TREND_NAMES[c] for c in TREND_ORDER], [True] * 3 + [False]),
            _Group([VOL_NAMES[c] for c in VOL_ORDER], [True] * 2 + [False]),
            _Group(combos, [False] * 6, k=7),  # 6: unlabelled
        )
        self.t_lut, self.v_lut = _lookup(TREND_ORDER), _lookup(VOL_ORDER)

    def add(
        self, ts: IntArray, eq: FloatArray, mk: FloatArray, trend: IntArray, vol: IntArray
    ) -> None:
        prev = np.r_[self.prev_eq, eq[:-1]]
        lr = np.zeros_like(eq)
        ok = (prev > 0) & (eq > 0)
        lr[ok] = np.log(eq[ok] / prev[ok])
        mlr = np.zeros_like(mk)
        if self.prev_mk is None:
            mlr[1:] = np.log(mk[1:] / mk[:-1])
        else:
            mlr[:] = np.log(mk / np.r_[self.prev_mk, mk[:-1]])
        self.prev_eq, self.prev_mk = float(eq[-1]), float(mk[-1])
        day = (ts + self.interval - 1) // DAY_MS
        if self.day0 is None:
            self.day0 = int(day[0])
        day = day - self.day0
        t = self.t_lut[trend + 2]
        v = self.v_lut[vol + 2]
        combined = np.where((t < 3) & (v < 2), t * 2 + v, 6)
        codes = (t, v, combined)
        for grp, code in zip(self.groups, codes, strict=True):
            grp.add(code, lr, mlr, day)
        # Each trip's bar: the last at or before its entry (clipped to the run).
        before = self.seen.copy()
        self.seen += np.searchsorted(ts, self.entries, side="right")
        here = (self.seen > before) | (self.n == 0)  # before the first bar: bar 0's
        for j, code in enumerate(codes):
            local = np.clip(self.seen[here] - before[here] - 1, 0, ts.size - 1)
            self.trip_codes[here, j] = code[local]
        self.n += ts.size

    def result(self, rules: RegimeRules, threshold: float | None) -> dict[str, Any]:
        n = self.n
        out: dict[str, Any] = {"rules": asdict(rules), "vol_threshold": threshold}
        for key, j in (("by_trend", 0), ("by_volatility", 1), ("by_regime", 2)):
            tg = self.trip_codes[:, j] if self.entries.size else np.zeros(0, np.int64)
            out[key] = self.groups[j].table(n, tg, self.pnl)
        return out
