"""Incremental indicators: O(1) per bar, no lookahead by construction.

Each indicator sees bars one at a time through ``update`` and can only know
what it has been shown. ``value`` is None until the window is full, so a
strategy cannot act on a half-formed average. ``prev`` is the value before the
latest update, which is what crossovers need.

Specs (``SMA(20)``) are frozen and hashable: two strategies asking for the same
spec share one computation in the view.
"""

from __future__ import annotations

import math
from abc import ABC, abstractmethod
from collections import deque
from dataclasses import dataclass
from typing import Literal

Source = Literal["open", "high", "low", "close", "volume"]


class Indicator(ABC):
    """A running computation over bars."""

    __slots__ = ("prev", "value")

    def __init__(self) -> None:
        self.value: float | None = None
        self.prev: float | None = None

    @abstractmethod
    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        """Take the next bar."""


class IndicatorSpec(ABC):
    """A hashable description of an indicator; ``build`` makes a fresh one."""

    @abstractmethod
    def build(self) -> Indicator: ...


def _pick(source: Source, o: float, h: float, low: float, c: float, v: float) -> float:
    if source == "close":
        return c
    if source == "open":
        return o
    if source == "high":
        return h
    if source == "low":
        return low
    return v


class _Sma(Indicator):
    """Rolling mean: a running sum, re-summed exactly with ``math.fsum`` once per
    window so rounding error never accumulates beyond one window's worth (a few
    ulps). Crossovers then agree with libraries that sum each window afresh.
    Kept to a handful of operations because it runs on every bar.
    """

    __slots__ = ("_buf", "_close", "_left", "_period", "_source", "_sum")

    def __init__(self, period: int, source: Source) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self._period = period
        self._source: Source = source
        self._close = source == "close"  # the usual source, tested without a string compare
        self._buf: deque[float] = deque()
        self._sum = 0.0
        self._left = period  # updates until the next exact re-sum

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        x = c if self._close else _pick(self._source, o, h, low, c, v)
        buf = self._buf
        buf.append(x)
        value = self.prev = self.value
        if value is not None:  # the window is full: one value in, one out
            left = self._left - 1
            if left:
                self._left = left
                total = self._sum = self._sum + (x - buf.popleft())
            else:
                buf.popleft()
                self._left = self._period
                total = self._sum = math.fsum(buf)
            self.value = total / self._period
            return
        self._sum += x
        if len(buf) == self._period:
            self._sum = math.fsum(buf)
            self.value = self._sum / self._period


class _Std(Indicator):
    """Rolling population standard deviation (two-pass over the window: exact enough
    and immune to the cancellation of the sum-of-squares formula)."""

    __slots__ = ("_buf", "_period", "_source")

    def __init__(self, period: int, source: Source) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self._period = period
        self._source: Source = source
        self._buf: deque[float] = deque(maxlen=period)

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        buf = self._buf
        buf.append(_pick(self._source, o, h, low, c, v))
        self.prev = self.value
        if len(buf) == self._period:
            mean = math.fsum(buf) / self._period
            self.value = math.sqrt(math.fsum((x - mean) ** 2 for x in buf) / self._period)


@dataclass(frozen=True, slots=True)
class SMA(IndicatorSpec):
    """Simple moving average of ``source`` over ``period`` bars."""

    period: int
    source: Source = "close"

    def build(self) -> Indicator:
        return _Sma(self.period, self.source)


@dataclass(frozen=True, slots=True)
class RollingStd(IndicatorSpec):
    """Population standard deviation of ``source`` over ``period`` bars."""

    period: int
    source: Source = "close"

    def build(self) -> Indicator:
        return _Std(self.period, self.source)


class _Ema(Indicator):
    __slots__ = ("_alpha", "_n", "_period", "_seed", "_source")

    def __init__(self, period: int, source: Source) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self._period = period
        self._alpha = 2.0 / (period + 1)
        self._source: Source = source
        self._n = 0
        self._seed = 0.0

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        x = _pick(self._source, o, h, low, c, v)
        self.prev = self.value
        self._n += 1
        if self.value is None:
            # Seeded with the SMA of the first ``period`` values, as most libraries do.
            self._seed += x
            if self._n == self._period:
                self.value = self._seed / self._period
            return
        self.value += self._alpha * (x - self.value)


@dataclass(frozen=True, slots=True)
class EMA(IndicatorSpec):
    """Exponential moving average (alpha = 2/(period+1)), seeded with an SMA."""

    period: int
    source: Source = "close"

    def build(self) -> Indicator:
        return _Ema(self.period, self.source)


class _Atr(Indicator):
    __slots__ = ("_n", "_period", "_prev_close", "_seed")

    def __init__(self, period: int) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self._period = period
        self._prev_close: float | None = None
        self._n = 0
        self._seed = 0.0

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        pc = self._prev_close
        tr = h - low if pc is None else max(h - low, abs(h - pc), abs(low - pc))
        self._prev_close = c
        self.prev = self.value
        self._n += 1
        if self.value is None:
            self._seed += tr
            if self._n == self._period:
                self.value = self._seed / self._period
            return
        # Wilder's smoothing.
        self.value += (tr - self.value) / self._period


@dataclass(frozen=True, slots=True)
class ATR(IndicatorSpec):
    """Average true range with Wilder's smoothing."""

    period: int = 14

    def build(self) -> Indicator:
        return _Atr(self.period)


class _Vwap(Indicator):
    """Summed afresh (``math.fsum``) over the window on every bar: running sums
    minus what leaves the window keep a rounding residue, which a window of
    zero-volume bars (common on quiet minutes) would divide by."""

    __slots__ = ("_buf", "_period")

    def __init__(self, period: int) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self._period = period
        self._buf: deque[tuple[float, float]] = deque(maxlen=period)

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        typical = (h + low + c) / 3.0
        buf = self._buf
        buf.append((typical * v, v))
        self.prev = self.value
        if len(buf) == self._period:
            vol = math.fsum(x for _, x in buf)
            self.value = math.fsum(pv for pv, _ in buf) / vol if vol > 0 else typical


@dataclass(frozen=True, slots=True)
class VWAP(IndicatorSpec):
    """Rolling volume-weighted average of the typical price over ``period`` bars."""

    period: int

    def build(self) -> Indicator:
        return _Vwap(self.period)
