"""``summarize`` and ``monthly_returns``, computed from an equity curve fed a
chunk at a time, so that a run of ten million bars is summarised without
holding its curve.

The figures are the same floats as the whole-array functions', bit for bit
(a property test holds them to it over random curves cut anywhere): every
step is either elementwise (the same IEEE operation on the same operands),
a running maximum carried across the cut, or an integer, and the per-day and
per-month marks that the ratios come from are collected whole (a few
thousand values) and handed to the same code as before.
"""

from __future__ import annotations

import numpy as np

from bastion.observe.stats import (
    DAY_MS,
    FloatArray,
    IntArray,
    Spells,
    Summary,
    _below_peak,
    assemble,
    bar_returns,
    trip_figures,
)


class _LastOfPeriod:
    """The last value of every period (UTC day, month) of a curve fed in order."""

    __slots__ = ("keys", "pending", "values")

    def __init__(self) -> None:
        self.keys: list[int] = []
        self.values: list[float] = []
        self.pending: tuple[int, float] | None = None  # the newest point: last so far

    def add(self, period: IntArray, eq: FloatArray) -> None:
        if not period.size:
            return
        if self.pending is not None and self.pending[0] != period[0]:
            self.keys.append(self.pending[0])
            self.values.append(self.pending[1])
        last = np.flatnonzero(period[1:] != period[:-1])
        self.keys.extend(period[last].tolist())
        self.values.extend(eq[last].tolist())
        self.pending = (int(period[-1]), float(eq[-1]))

    def marks(self) -> tuple[list[int], list[float]]:
        if self.pending is None:
            return [], []
        return [*self.keys, self.pending[0]], [*self.values, self.pending[1]]


class CurveStats:
    """Feed ``add(ts, equity)`` in time order; then ``summary`` and ``monthly``."""

    def __init__(self, initial_equity: float, interval_ms: int) -> None:
        self.initial = float(initial_equity)
        self.interval = interval_ms
        self.rows = 0
        self.first_ts: int | None = None
        self.last: tuple[int, float] | None = None
        self._days = _LastOfPeriod()
        self._months = _LastOfPeriod()
        # Drawdown spells, carried across chunks (the curve starts from the
        # initial equity one interval before the first point, as in ``stats``).
        self._peak = self.initial
        self._peak_ts = 0  # ts of the newest point at the running peak
        self._under = False  # the newest point is below the peak
        self._spell = 0  # start of the newest point's spell
        self._any_under = False
        self._max_dd = -1.0
        self._max_at: tuple[int, int] = (0, 0)  # (peak ts, trough ts) of the deepest
        self._longest = 0

    def add(self, ts: IntArray, eq: FloatArray) -> None:
        ts = np.asarray(ts, dtype=np.int64)
        eq = np.asarray(eq, dtype=np.float64)
        if ts.shape != eq.shape or eq.ndim != 1:
            raise ValueError(
                f"ts and equity must be 1-D and equal in length: {ts.shape} {eq.shape}"
            )
        if not ts.size:
            return
        if not np.isfinite(eq).all():
            raise ValueError("equity contains NaN or infinity")
        prev_ts = self.last[0] if self.last is not None else None
        if bool((ts[1:] < ts[:-1]).any()) or (prev_ts is not None and ts[0] < prev_ts):
            raise ValueError("equity_ts must not decrease")
        if self.first_ts is None:
            self.first_ts = int(ts[0])
            self._peak_ts = self._spell = int(ts[0]) - self.interval
        end = ts + self.interval - 1
        self._days.add(end // DAY_MS, eq)
        self._months.add(end.astype("datetime64[ms]").astype("datetime64[M]").astype(np.int64), eq)
        self._drawdown(ts, eq)
        self.rows += ts.size
        self.last = (int(ts[-1]), float(eq[-1]))

    def _drawdown(self, ts: IntArray, eq: FloatArray) -> None:
        peak = np.maximum.accumulate(np.concatenate(([self._peak], eq)))[1:]
        at_peak = eq >= peak
        idx = np.maximum.accumulate(np.where(at_peak, np.arange(eq.size), -1))
        spell = np.where(idx >= 0, ts[np.maximum(idx, 0)], self._peak_ts)
        under = ~at_peak
        dd = _below_peak(eq, peak)
        trough = int(np.argmax(dd))
        if dd[trough] > self._max_dd:  # strictly deeper: the first deepest point wins
            self._max_dd = float(dd[trough])
            self._max_at = (int(spell[trough]), int(ts[trough]))
        if under.any():
            self._any_under = True
            self._longest = max(self._longest, int((ts[under] - spell[under]).max()))
        prev_under = np.concatenate(([self._under], under[:-1]))
        prev_spell = np.concatenate(([self._spell], spell[:-1]))
        recovered = at_peak & prev_under
        if recovered.any():
            closing = ts[recovered] - prev_spell[recovered]
            self._longest = max(self._longest, int(closing.max()))
        self._peak = float(peak[-1])
        self._peak_ts, self._under, self._spell = int(spell[-1]), bool(under[-1]), int(spell[-1])

    def summary(
        self, *, trip_pnl: FloatArray, exposure_bars: int, bars: int, fees: float
    ) -> Summary:
        """What ``summarize`` says of the whole curve (same keys, same floats);
        ``trip_pnl``: the closed trips' net PnL in the order they closed."""
        span = None
        if self.last is not None and self.first_ts is not None:
            span = (self.first_ts, self.last[0], self.last[1])
        empty = span is None
        spells: Spells = (0.0, None, None, 0)
        if self._any_under:
            dd = self._max_dd
            peak_ts, trough_ts = self._max_at if dd > 0 else (None, None)
            spells = (dd, peak_ts, trough_ts, self._longest)
        _, day_eq = self._days.marks()
        return assemble(
            span=span,
            returns=None if empty else bar_returns(np.asarray(day_eq), self.initial),
            spells=None if empty else spells,
            interval_ms=self.interval,
            trip_stats=trip_figures(np.asarray(trip_pnl, dtype=np.float64)),
            exposure_bars=exposure_bars,
            bars=bars,
            initial_equity=self.initial,
            fees=fees,
        )

    def monthly(self) -> dict[str, float]:
        """What ``monthly_returns`` says of the whole curve."""
        keys, values = self._months.marks()
        out: dict[str, float] = {}
        prev = self.initial
        for key, last in zip(keys, values, strict=True):
            month = str(np.datetime64(key, "M"))
            out[month] = last / prev - 1.0 if prev > 0 else 0.0
            prev = last
        return out
