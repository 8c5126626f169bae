"""Band and dispersion indicators: Bollinger bands, Donchian channel (rolling
high/low), rolling volatility of log returns and the z-score.

Each window is summed afresh with ``math.fsum`` on every bar (O(period)): a
running sum of squares loses everything to cancellation when prices are large
and moves small, and these windows are short enough to pay for exactness.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass

from bastion.model.indicators import Indicator, IndicatorSpec, Source, _pick
from bastion.model.momentum import _MonotonicWindow


def _mean_std(buf: deque[float], ddof: int) -> tuple[float, float]:
    n = len(buf)
    mean = math.fsum(buf) / n
    return mean, math.sqrt(math.fsum((x - mean) ** 2 for x in buf) / (n - ddof))


class _Window(Indicator):
    __slots__ = ("_buf", "_period", "_source")

    def __init__(self, period: int, source: Source, minimum: int = 1) -> None:
        super().__init__()
        if period < minimum:
            raise ValueError(f"period must be at least {minimum}, got {period}")
        self._period = period
        self._source: Source = source
        self._buf: deque[float] = deque(maxlen=period)

    def _push(self, o: float, h: float, low: float, c: float, v: float) -> bool:
        self._buf.append(_pick(self._source, o, h, low, c, v))
        self.prev = self.value
        return len(self._buf) == self._period


class _Bollinger(_Window):
    """``value`` is the middle band (SMA); ``upper``/``lower`` are ``k``
    population standard deviations away; ``width`` is (upper - lower) / middle."""

    __slots__ = ("_k", "lower", "upper", "width")

    def __init__(self, period: int, k: float, source: Source) -> None:
        super().__init__(period, source)
        self._k = k
        self.upper: float | None = None
        self.lower: float | None = None
        self.width: float | None = None

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        if not self._push(o, h, low, c, v):
            return
        mid, sd = _mean_std(self._buf, 0)
        self.value = mid
        self.upper = mid + self._k * sd
        self.lower = mid - self._k * sd
        self.width = (self.upper - self.lower) / mid if mid else None


@dataclass(frozen=True, slots=True)
class Bollinger(IndicatorSpec):
    """Bollinger bands: SMA(``period``) ± ``k`` population std (``.upper``, ``.lower``)."""

    period: int = 20
    k: float = 2.0
    source: Source = "close"

    def build(self) -> Indicator:
        return _Bollinger(self.period, self.k, self.source)


class _Donchian(Indicator):
    """``upper`` the highest high and ``lower`` the lowest low of the last
    ``period`` bars, this one included; ``value`` is their midpoint."""

    __slots__ = ("_high", "_low", "lower", "upper")

    def __init__(self, period: int) -> None:
        super().__init__()
        self._high = _MonotonicWindow(period, largest=True)
        self._low = _MonotonicWindow(period, largest=False)
        self.upper: float | None = None
        self.lower: float | None = None

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        hh = self._high.push(h)
        ll = self._low.push(low)
        self.prev = self.value
        if self._high.full:
            self.upper, self.lower = hh, ll
            self.value = (hh + ll) / 2.0


@dataclass(frozen=True, slots=True)
class Donchian(IndicatorSpec):
    """Rolling high/low channel over ``period`` bars (``.upper``, ``.lower``, mid as value).

    The current bar is inside the window: for a breakout test compare the close
    with the channel's ``prev``-bar values, which a strategy keeps in memory."""

    period: int = 20

    def build(self) -> Indicator:
        return _Donchian(self.period)


class _LogVol(_Window):
    """Sample standard deviation (n - 1) of the last ``period`` log returns,
    per bar; times ``scale`` (e.g. sqrt(bars per year) to annualise)."""

    __slots__ = ("_prev_x", "_scale")

    def __init__(self, period: int, source: Source, scale: float) -> None:
        super().__init__(period, source, minimum=2)
        self._prev_x: float | None = None
        self._scale = scale

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        x = _pick(self._source, o, h, low, c, v)
        prev_x, self._prev_x = self._prev_x, x
        self.prev = self.value
        if prev_x is None or prev_x <= 0 or x <= 0:
            return
        self._buf.append(math.log(x / prev_x))
        if len(self._buf) == self._period:
            self.value = _mean_std(self._buf, 1)[1] * self._scale


@dataclass(frozen=True, slots=True)
class LogReturnVol(IndicatorSpec):
    """Rolling volatility: sample std of ``period`` log returns, times ``scale``."""

    period: int = 30
    scale: float = 1.0
    source: Source = "close"

    def build(self) -> Indicator:
        return _LogVol(self.period, self.source, self.scale)


class _ZScore(_Window):
    """(latest - mean) / population std over the window; 0 when the window is flat."""

    __slots__ = ()

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        if not self._push(o, h, low, c, v):
            return
        mean, sd = _mean_std(self._buf, 0)
        self.value = (self._buf[-1] - mean) / sd if sd > 0 else 0.0


@dataclass(frozen=True, slots=True)
class ZScore(IndicatorSpec):
    """How many population standard deviations the latest value is from the window mean."""

    period: int = 20
    source: Source = "close"

    def build(self) -> Indicator:
        return _ZScore(self.period, self.source)
