"""Run statistics from an equity curve and its round trips.

Analytics, not ledger: the curve is float64 and the trips' Decimals are turned
into floats here. Everything is vectorised so that a million-bar backtest is
summarised in milliseconds.

Conventions, chosen once so that every number agrees with every other:

- Each equity point is the account marked at the *end* of one bar of
  ``interval_ms``; the run starts from ``initial_equity`` one interval before
  the first point. So the first bar return is ``equity[0] / initial_equity - 1``,
  the product of all bar returns is the total return, and the run covers
  ``equity_ts[-1] - equity_ts[0] + interval_ms`` of time (used for CAGR).
- Annualisation counts 365 days a year because crypto trades every day:
  ``periods = 365 days / interval``. The risk-free rate is zero.
- Drawdowns are measured from the running peak, starting at
  ``initial_equity``, as a positive fraction of that peak.
- A ratio with no meaningful value (no trips, zero variance, no losing trip)
  is ``None``, never NaN or infinity, so a summary always serialises to JSON.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from bastion.observe.trades import RoundTrip

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS

# Below this, a standard deviation of per-bar returns is float noise (a curve
# growing by exactly 1% a bar), and a Sharpe ratio of it would be ~1e15.
_MIN_STD = 1e-12

SummaryValue = float | int | str | None
Summary = dict[str, SummaryValue]

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]


def annualization_periods(interval_ms: int) -> float:
    """Bars in a 365-day year at ``interval_ms`` per bar."""
    if interval_ms <= 0:
        raise ValueError(f"interval_ms must be positive, got {interval_ms}")
    return YEAR_MS / interval_ms


def _describe_interval(interval_ms: int) -> str:
    for unit_ms, unit in ((DAY_MS, "d"), (3_600_000, "h"), (60_000, "m"), (1_000, "s")):
        if interval_ms % unit_ms == 0:
            return f"{interval_ms // unit_ms}{unit}"
    return f"{interval_ms}ms"


def bar_returns(equity: FloatArray, initial_equity: float) -> FloatArray:
    """Simple return of every bar, the first one relative to ``initial_equity``.

    Bars that start from an equity of zero or less have no defined return and
    are left out (an account that went bust stops contributing).
    """
    eq = np.asarray(equity, dtype=np.float64)
    if eq.size == 0:
        return np.empty(0, dtype=np.float64)
    prev = np.empty_like(eq)
    prev[0] = initial_equity
    prev[1:] = eq[:-1]
    ok = prev > 0
    if ok.all():
        return eq / prev - 1.0
    return eq[ok] / prev[ok] - 1.0


def daily_returns(
    equity_ts: IntArray, equity: FloatArray, initial_equity: float, interval_ms: int
) -> FloatArray:
    """Simple return of every UTC day from the last equity mark of each day.

    A point is marked at the end of its bar (``ts + interval_ms``), so the bar
    that closes at midnight belongs to the day it ends. The first day's return
    is relative to ``initial_equity``; partial first and last days count.
    """
    ts = np.asarray(equity_ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if eq.size == 0:
        return np.empty(0, dtype=np.float64)
    day = (ts + interval_ms - 1) // DAY_MS
    last = np.flatnonzero(np.r_[day[1:] != day[:-1], True])
    return bar_returns(eq[last], initial_equity)


def drawdown_series(equity: FloatArray, initial_equity: float | None = None) -> FloatArray:
    """Drawdown at every point as a positive fraction of the running peak.

    ``0.0`` at a new high, ``0.25`` when a quarter below the best equity so
    far. With ``initial_equity`` the peak starts there, so losing from the
    first bar counts. Where the peak is not positive the drawdown is 0
    (there was never anything to lose).
    """
    eq = np.asarray(equity, dtype=np.float64)
    peak = np.maximum.accumulate(eq) if eq.size else eq.copy()
    if initial_equity is not None:
        peak = np.maximum(peak, initial_equity)
    return _below_peak(eq, peak)


def _below_peak(equity: FloatArray, peak: FloatArray) -> FloatArray:
    dd = np.zeros_like(equity)
    positive = peak > 0
    np.divide(equity, peak, out=dd, where=positive)
    np.subtract(1.0, dd, out=dd, where=positive)
    return dd


def _drawdown_spells(
    equity_ts: IntArray, equity: FloatArray, initial_equity: float, interval_ms: int
) -> tuple[float, int | None, int | None, int]:
    """(max drawdown, its peak ts, its trough ts, longest underwater time in ms).

    Works on the curve with the initial point prepended one interval before
    the first bar. A spell runs from the peak's timestamp to the first point
    back at or above that peak, or to the last point if it never recovers.
    """
    n = equity.size
    ext_eq = np.empty(n + 1, dtype=np.float64)
    ext_eq[0] = initial_equity
    ext_eq[1:] = equity
    ext_ts = np.empty(n + 1, dtype=np.int64)
    ext_ts[0] = equity_ts[0] - interval_ms
    ext_ts[1:] = equity_ts

    peak = np.maximum.accumulate(ext_eq)
    at_peak = ext_eq >= peak
    if at_peak.all():
        return 0.0, None, None, 0
    peak_idx = np.maximum.accumulate(np.where(at_peak, np.arange(n + 1), 0))
    spell_start = ext_ts[peak_idx]

    dd = _below_peak(ext_eq, peak)
    trough = int(np.argmax(dd))
    max_dd = float(dd[trough])
    peak_ts = int(ext_ts[peak_idx[trough]]) if max_dd > 0 else None
    trough_ts = int(ext_ts[trough]) if max_dd > 0 else None

    under = ~at_peak
    longest = int((ext_ts[under] - spell_start[under]).max())
    recovered = at_peak[1:] & under[:-1]
    if recovered.any():
        closing = ext_ts[1:][recovered] - spell_start[:-1][recovered]
        longest = max(longest, int(closing.max()))
    return max_dd, peak_ts, trough_ts, longest


def _cagr(growth: float, span_ms: int) -> float | None:
    if span_ms <= 0:
        return None
    if growth <= 0:
        return -1.0
    try:
        value = growth ** (YEAR_MS / span_ms) - 1.0
    except OverflowError:
        return None
    return value if math.isfinite(value) else None


def _trip_stats(trips: Sequence[RoundTrip]) -> Summary:
    if not trips:
        return {
            "round_trips": 0,
            "win_rate": None,
            "profit_factor": None,
            "avg_trip_pnl": None,
            "best_trip": None,
            "worst_trip": None,
        }
    pnl = np.fromiter((float(t.net_pnl) for t in trips), dtype=np.float64, count=len(trips))
    return trip_figures(pnl)


def trip_figures(pnl: FloatArray) -> Summary:
    """Win rate, profit factor, average, best and worst of the trips' net PnL
    (floats of the exact Decimals, in the order the trips closed)."""
    if not pnl.size:
        return _trip_stats(())
    wins = pnl[pnl > 0].sum()
    losses = -pnl[pnl < 0].sum()
    return {
        "round_trips": int(pnl.size),
        "win_rate": float((pnl > 0).mean()),
        # No losing trip: the ratio is infinite (or 0/0); None keeps JSON valid,
        # and win_rate == 1.0 tells the two apart from "no trips".
        "profit_factor": float(wins / losses) if losses > 0 else None,
        "avg_trip_pnl": float(pnl.mean()),
        "best_trip": float(pnl.max()),
        "worst_trip": float(pnl.min()),
    }


def summarize(
    *,
    equity_ts: IntArray,
    equity: FloatArray,
    interval_ms: int,
    trips: Sequence[RoundTrip],
    exposure_bars: int,
    bars: int,
    initial_equity: float,
    fees: float,
) -> Summary:
    """The headline numbers of one run, as a JSON-ready flat mapping.

    Keys: ``start_ts``, ``end_ts``, ``bars``, ``interval_ms``,
    ``initial_equity``, ``final_equity``, ``total_return``, ``cagr``,
    ``annualization_periods``, ``annualization``, ``volatility`` (annualised),
    ``sharpe``, ``sortino``, ``max_drawdown``, ``max_drawdown_duration_s``,
    ``max_drawdown_peak_ts``, ``max_drawdown_trough_ts``, ``exposure``,
    ``round_trips``, ``win_rate``, ``profit_factor``, ``avg_trip_pnl``,
    ``best_trip``, ``worst_trip``, ``fees``. Fractions are fractions (0.23,
    not 23). Volatility, Sharpe and Sortino come from *daily* returns (see
    ``daily_returns``), whatever the bar: per-bar returns annualised by
    sqrt(525,600) blow a small daily drift up into absurd ratios (a mildly
    losing 1m run showed -36). ``ratio_basis`` says so on every summary.
    Sortino uses the downside deviation over all days (gains count as zero
    shortfall); it is None when no day lost.
    """
    ts = np.asarray(equity_ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    if ts.shape != eq.shape or eq.ndim != 1:
        raise ValueError(
            f"equity_ts and equity must be 1-D and equal in length, got {ts.shape} and {eq.shape}"
        )
    if eq.size and not np.isfinite(eq).all():
        raise ValueError("equity contains NaN or infinity")
    if ts.size > 1 and bool((ts[1:] < ts[:-1]).any()):
        raise ValueError("equity_ts must not decrease")
    empty = not eq.size
    return assemble(
        span=None if empty else (int(ts[0]), int(ts[-1]), float(eq[-1])),
        returns=None if empty else daily_returns(ts, eq, initial_equity, interval_ms),
        spells=None if empty else _drawdown_spells(ts, eq, initial_equity, interval_ms),
        interval_ms=interval_ms,
        trip_stats=_trip_stats(trips),
        exposure_bars=exposure_bars,
        bars=bars,
        initial_equity=initial_equity,
        fees=fees,
    )


Spells = tuple[float, int | None, int | None, int]  # max drawdown, peak ts, trough ts, longest ms


def assemble(
    *,
    span: tuple[int, int, float] | None,
    returns: FloatArray | None,
    spells: Spells | None,
    interval_ms: int,
    trip_stats: Summary,
    exposure_bars: int,
    bars: int,
    initial_equity: float,
    fees: float,
) -> Summary:
    """The summary from its parts: ``span`` (first ts, last ts, last equity),
    the daily returns, the drawdown spells (``None`` for an empty curve), and
    the trips' figures. ``summarize`` computes the parts from whole arrays,
    ``curve_stats.CurveStats`` from a curve fed a chunk at a time."""
    periods = annualization_periods(interval_ms)
    out: Summary = {
        "start_ts": span[0] if span else None,
        "end_ts": span[1] if span else None,
        "bars": bars,
        "interval_ms": interval_ms,
        "initial_equity": float(initial_equity),
        "final_equity": span[2] if span else None,
        "total_return": None,
        "cagr": None,
        "annualization_periods": periods,
        "annualization": (
            f"{periods:g} periods/year: 365-day year (crypto trades every day) / "
            f"{_describe_interval(interval_ms)} bars; risk-free rate 0"
        ),
        "volatility": None,
        "ratio_basis": None,
        "sharpe": None,
        "sortino": None,
        "max_drawdown": 0.0 if span else None,
        "max_drawdown_duration_s": 0.0 if span else None,
        "max_drawdown_peak_ts": None,
        "max_drawdown_trough_ts": None,
        "exposure": exposure_bars / bars if bars > 0 else None,
    }
    if span is not None and returns is not None and spells is not None:
        if initial_equity > 0:
            growth = span[2] / initial_equity
            out["total_return"] = growth - 1.0
            out["cagr"] = _cagr(growth, span[1] - span[0] + interval_ms)

        out["ratio_basis"] = (
            f"daily returns ({returns.size} UTC days, the last equity of each day), "
            "annualised by sqrt(365); risk-free rate 0"
        )
        if returns.size >= 2:
            mean = float(returns.mean())
            std = float(returns.std(ddof=1))
            scale = math.sqrt(365.0)
            out["volatility"] = std * scale
            if std > _MIN_STD:
                out["sharpe"] = mean / std * scale
            downside = float(np.sqrt(np.mean(np.square(np.minimum(returns, 0.0)))))
            if downside > _MIN_STD:
                out["sortino"] = mean / downside * scale

        max_dd, peak_ts, trough_ts, longest_ms = spells
        out["max_drawdown"] = max_dd
        out["max_drawdown_duration_s"] = longest_ms / 1000.0
        out["max_drawdown_peak_ts"] = peak_ts
        out["max_drawdown_trough_ts"] = trough_ts

    out.update(trip_stats)
    out["fees"] = float(fees)
    return out
