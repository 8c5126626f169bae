"""Momentum indicators: RSI (Wilder), MACD with signal and histogram, and the
stochastic oscillator. Incremental, O(1) per bar, no lookahead.

Seeding follows the classic definitions, so a reference computed by hand or
with pandas agrees to rounding: Wilder's averages start from the simple mean
of the first ``period`` changes; MACD's EMAs start from the simple mean of
their first ``period`` inputs (as ``EMA`` does), and its signal line from the
simple mean of the first ``signal`` MACD values.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass

from bastion.model.indicators import Indicator, IndicatorSpec, Source, _pick


class _Rsi(Indicator):
    __slots__ = ("_gain", "_loss", "_n", "_period", "_prev_x", "_source")

    def __init__(self, period: int, source: Source) -> None:
        super().__init__()
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self._period = period
        self._source: Source = source
        self._prev_x: float | None = None
        self._n = 0  # changes seen
        self._gain = 0.0
        self._loss = 0.0

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        x = _pick(self._source, o, h, low, c, v)
        prev_x, self._prev_x = self._prev_x, x
        self.prev = self.value
        if prev_x is None:
            return
        change = x - prev_x
        gain = change if change > 0 else 0.0
        loss = -change if change < 0 else 0.0
        self._n += 1
        p = self._period
        if self._n <= p:
            self._gain += gain
            self._loss += loss
            if self._n < p:
                return
            self._gain /= p
            self._loss /= p
        else:
            self._gain = (self._gain * (p - 1) + gain) / p
            self._loss = (self._loss * (p - 1) + loss) / p
        self.value = _rsi(self._gain, self._loss)


def _rsi(gain: float, loss: float) -> float:
    if loss == 0.0:
        return 50.0 if gain == 0.0 else 100.0  # a flat window is neutral, not overbought
    return 100.0 - 100.0 / (1.0 + gain / loss)


@dataclass(frozen=True, slots=True)
class RSI(IndicatorSpec):
    """Relative strength index with Wilder's smoothing (0..100; 50 on a flat window)."""

    period: int = 14
    source: Source = "close"

    def build(self) -> Indicator:
        return _Rsi(self.period, self.source)


class _SeededEma:
    """An EMA seeded with the simple mean of its first ``period`` inputs."""

    __slots__ = ("_alpha", "_n", "_period", "_sum", "value")

    def __init__(self, period: int) -> None:
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self._period = period
        self._alpha = 2.0 / (period + 1)
        self._n = 0
        self._sum = 0.0
        self.value: float | None = None

    def push(self, x: float) -> float | None:
        if self.value is None:
            self._n += 1
            self._sum += x
            if self._n == self._period:
                self.value = self._sum / self._period
            return self.value
        self.value += self._alpha * (x - self.value)
        return self.value


class _Macd(Indicator):
    """``value`` is the MACD line (fast EMA - slow EMA); ``signal`` its EMA and
    ``histogram`` the difference, each None until defined."""

    __slots__ = ("_fast", "_signal", "_slow", "_source", "histogram", "signal")

    def __init__(self, fast: int, slow: int, signal: int, source: Source) -> None:
        super().__init__()
        if not 0 < fast < slow:
            raise ValueError(f"need 0 < fast < slow, got fast={fast} slow={slow}")
        self._fast = _SeededEma(fast)
        self._slow = _SeededEma(slow)
        self._signal = _SeededEma(signal)
        self._source: Source = source
        self.signal: float | None = None
        self.histogram: float | None = None

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        x = _pick(self._source, o, h, low, c, v)
        fast = self._fast.push(x)
        slow = self._slow.push(x)
        self.prev = self.value
        if fast is None or slow is None:
            return
        line = fast - slow
        self.value = line
        self.signal = self._signal.push(line)
        self.histogram = None if self.signal is None else line - self.signal


@dataclass(frozen=True, slots=True)
class MACD(IndicatorSpec):
    """MACD line, ``signal`` and ``histogram`` (``view[s].indicator(spec).signal``)."""

    fast: int = 12
    slow: int = 26
    signal: int = 9
    source: Source = "close"

    def build(self) -> Indicator:
        return _Macd(self.fast, self.slow, self.signal, self.source)


class _MonotonicWindow:
    """Rolling max (or min) of the last ``period`` values in O(1) amortised."""

    __slots__ = ("_i", "_period", "_q", "_sign")

    def __init__(self, period: int, *, largest: bool) -> None:
        if period < 1:
            raise ValueError(f"period must be at least 1, got {period}")
        self._period = period
        self._sign = 1.0 if largest else -1.0
        self._q: deque[tuple[int, float]] = deque()
        self._i = 0

    def push(self, x: float) -> float:
        q, key = self._q, self._sign * x
        while q and q[-1][1] <= key:
            q.pop()
        q.append((self._i, key))
        if q[0][0] <= self._i - self._period:
            q.popleft()
        self._i += 1
        return self._sign * q[0][1]

    @property
    def full(self) -> bool:
        return self._i >= self._period


class _Stochastic(Indicator):
    """``value`` is %K = 100 (close - lowest low) / (highest high - lowest low)
    over ``k`` bars (50 when the range is zero); ``d`` is the mean of the last
    ``d`` %K values."""

    __slots__ = ("_d", "_high", "_ks", "_low", "d")

    def __init__(self, k: int, d: int) -> None:
        super().__init__()
        if d < 1:
            raise ValueError(f"d must be at least 1, got {d}")
        self._high = _MonotonicWindow(k, largest=True)
        self._low = _MonotonicWindow(k, largest=False)
        self._d = d
        self._ks: deque[float] = deque(maxlen=d)
        self.d: float | None = None

    def update(self, o: float, h: float, low: float, c: float, v: float) -> None:
        hh = self._high.push(h)
        ll = self._low.push(low)
        self.prev = self.value
        if not self._high.full:
            return
        k = 50.0 if hh == ll else 100.0 * (c - ll) / (hh - ll)
        self.value = k
        self._ks.append(k)
        if len(self._ks) == self._d:
            self.d = sum(self._ks) / self._d


@dataclass(frozen=True, slots=True)
class Stochastic(IndicatorSpec):
    """Stochastic oscillator %K over ``k`` bars and its ``d``-bar mean %D (``.d``)."""

    k: int = 14
    d: int = 3

    def build(self) -> Indicator:
        return _Stochastic(self.k, self.d)
