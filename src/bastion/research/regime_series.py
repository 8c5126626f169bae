"""The market's trend return and realised volatility per bar, as
``label_regimes`` computes them, over a curve read a chunk at a time: the
series the streamed regime breakdown (``regime_stream``) reads in each of its
passes. Split from it to keep each module one concern.

The floats are the whole-array functions' bit for bit: the running sums
continue from the value carried in, put first, and trailing windows look back
into a carried tail of the curve no longer than the window can hold.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

import numpy as np

from bastion.research.regimes import YEAR_MS, FloatArray, IntArray, RegimeRules

Chunks = Callable[[], Iterator[tuple[IntArray, FloatArray, FloatArray]]]
Series = Iterator[tuple[IntArray, FloatArray, FloatArray, FloatArray, FloatArray]]


class Market:
    """Per bar, as ``label_regimes``: the trailing trend return and realised
    volatility, with the tail of the curve carried from chunk to chunk."""

    def __init__(self, mean: float, interval_ms: int, rules: RegimeRules) -> None:
        self.mean, self.interval, self.rules = mean, interval_ms, rules
        self.tail = max(rules.trend_window_ms, rules.vol_window_ms) // interval_ms + 2
        self.ts = np.empty(0, np.int64)
        self.price = np.empty(0)
        self.p1 = np.zeros(1)  # running sums of the centred log returns, from 0
        self.p2 = np.zeros(1)
        self.first_ts: int | None = None
        self.offset = 0  # global index of ``self.ts[0]``
        self.rows = 0  # bars seen

    def add(self, ts: IntArray, price: FloatArray) -> tuple[FloatArray, FloatArray]:
        if self.first_ts is None:
            self.first_ts = int(ts[0])
        n_old = self.ts.size
        all_ts = np.concatenate([self.ts, ts])
        all_price = np.concatenate([self.price, price])
        logret = np.diff(np.log(all_price))  # from the tail's first bar on
        # Bar 0 of the run has no return; later, the new bars' are the last ones.
        logret = np.concatenate(([0.0], logret)) if self.rows == 0 else logret[n_old - 1 :]
        centred = logret - self.mean
        if self.rows == 0:
            centred[0] = 0.0
        p1 = np.cumsum(np.concatenate(([self.p1[-1]], centred)))[1:]
        p2 = np.cumsum(np.concatenate(([self.p2[-1]], centred * centred)))[1:]
        all_p1 = np.concatenate([self.p1, p1])  # prefix sums p[g] for g = offset .. rows+len
        all_p2 = np.concatenate([self.p2, p2])
        trend = self._trend(all_ts, all_price, n_old)
        sigma = self._vol(all_ts, all_p1, all_p2, n_old)
        self.rows += ts.size
        keep = min(self.tail, all_ts.size)
        self.offset += all_ts.size - keep
        self.ts, self.price = all_ts[-keep:], all_price[-keep:]
        self.p1, self.p2 = all_p1[-(keep + 1) :], all_p2[-(keep + 1) :]
        return trend, sigma

    def _back(self, all_ts: IntArray, n_old: int, window: int) -> IntArray:
        """Global index of the last bar at or before ``ts - window`` (-1: none)."""
        local = np.searchsorted(all_ts, all_ts[n_old:] - window, side="right") - 1
        back = local + self.offset
        # A window reaching before the carried tail reaches before the first bar.
        return np.where((local < 0) & (self.offset == 0), -1, back)

    def _trend(self, all_ts: IntArray, all_price: FloatArray, n_old: int) -> FloatArray:
        window = self.rules.trend_window_ms
        ts = all_ts[n_old:]
        back = self._back(all_ts, n_old, window)
        assert self.first_ts is not None
        ok = (ts - window >= self.first_ts) & (back >= 0)
        out = np.full(ts.size, np.nan)
        out[ok] = all_price[n_old:][ok] / all_price[back[ok] - self.offset] - 1.0
        return out

    def _vol(self, all_ts: IntArray, p1: FloatArray, p2: FloatArray, n_old: int) -> FloatArray:
        window = self.rules.vol_window_ms
        ts = all_ts[n_old:]
        out = np.full(ts.size, np.nan)
        start = self.rows  # global index of the first new bar
        g = np.arange(start, start + ts.size)
        first = np.maximum(self._back(all_ts, n_old, window) + 1, 1)
        count = g + 1 - first
        assert self.first_ts is not None
        ok = (ts - window >= self.first_ts) & (count >= 2)
        base = self.offset  # p index of global prefix ``offset`` is local 0
        s1 = p1[g + 1 - base] - p1[first - base]
        s2 = p2[g + 1 - base] - p2[first - base]
        with np.errstate(invalid="ignore", divide="ignore"):
            var = (s2 - s1 * s1 / count) / (count - 1)
        out[ok] = np.sqrt(np.maximum(var[ok], 0.0) * (YEAR_MS / self.interval))
        return out


class MarketSeries:
    """The curve's chunks with the market's trend return and volatility, for each
    pass. With ``keep`` the two series of the first whole pass are kept and
    replayed (the same arrays, so the same floats): the four passes of the
    quantile then read no curve at all, and the last reads it without
    recomputing. Without, each pass recomputes them (``Market``)."""

    def __init__(
        self, passes: Chunks, mean: float, interval: int, rules: RegimeRules, *, keep: bool
    ) -> None:
        self.passes, self.mean, self.interval, self.rules = passes, mean, interval, rules
        self.keep = keep
        self.kept: list[tuple[FloatArray, FloatArray]] | None = None  # once a pass is done

    def __call__(self) -> Series:
        """Each chunk as ``(ts, equity, market, trend, sigma)``."""
        if self.kept is not None:
            for (ts, eq, mk), (trend, sigma) in zip(self.passes(), self.kept, strict=True):
                yield ts, eq, mk, trend, sigma
            return
        market = Market(self.mean, self.interval, self.rules)
        made: list[tuple[FloatArray, FloatArray]] = []
        for ts, eq, mk in self.passes():
            trend, sigma = market.add(ts, mk)
            if self.keep:
                made.append((trend, sigma))
            yield ts, eq, mk, trend, sigma
        if self.keep:
            self.kept = made

    def sigmas(self) -> Iterator[FloatArray]:
        """The volatility alone, chunk by chunk."""
        if self.kept is not None:
            yield from (sigma for _, sigma in self.kept)
            return
        for *_, sigma in self():
            yield sigma
