"""Market regimes: label every bar by documented rules, then break a run's
results down by label.

A strategy that made money only while the market rose has told you about the
market, not about itself; the breakdown says where the money was made. The
rules (docs/research.md has them with examples):

- **Trend** of bar *t*: the market's return from the last bar opening at or
  before ``ts[t] - trend_window`` to bar *t*. Above ``+trend_threshold`` is
  *up*, below ``-trend_threshold`` is *down*, otherwise *range*. A bar whose
  window reaches back before the first bar is *unlabelled*.
- **Volatility** of bar *t*: the sample standard deviation (ddof 1) of the log
  returns of the bars opening in ``(ts[t] - vol_window, ts[t]]`` (the first
  bar has no return), annualised by ``sqrt(365 days / interval)``. Above the
  threshold is *high*, otherwise *low*; the threshold is the ``vol_quantile``
  quantile (NumPy's linear interpolation) of the labelled bars' values, unless
  one is passed in (a walk-forward passes the whole file's, so that every fold
  is labelled alike). Unlabelled, as above, until a full window exists.

Windows are measured in time, not in bars, so a gap in the data does not
stretch a window. Labels are causal: bar *t*'s label uses bars up to *t* only.
The market is the price line passed in: the symbol's closes, or the
equal-weight buy-and-hold basket when a run trades several.

Pure: arrays in, arrays and a JSON-ready mapping out.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import numpy.typing as npt

from bastion.config_research import RegimeConfig
from bastion.model.timeframe import parse_interval

FloatArray = npt.NDArray[np.float64]
IntArray = npt.NDArray[np.int64]
CodeArray = npt.NDArray[np.int8]

DAY_MS = 86_400_000
YEAR_MS = 365 * DAY_MS
UNLABELLED = -2
TREND_NAMES = {1: "up", -1: "down", 0: "range", UNLABELLED: "unlabelled"}
VOL_NAMES = {1: "high", 0: "low", UNLABELLED: "unlabelled"}
_MIN_STD = 1e-12


@dataclass(frozen=True, slots=True, kw_only=True)
class RegimeRules:
    trend_window_ms: int
    trend_threshold: float
    vol_window_ms: int
    vol_quantile: float

    @classmethod
    def from_config(cls, cfg: RegimeConfig) -> RegimeRules:
        return cls(
            trend_window_ms=parse_interval(cfg.trend_window),
            trend_threshold=cfg.trend_threshold,
            vol_window_ms=parse_interval(cfg.vol_window),
            vol_quantile=cfg.vol_quantile,
        )


@dataclass(frozen=True, slots=True)
class Labels:
    """Per bar: trend code (1 up, -1 down, 0 range, -2 unlabelled), volatility
    code (1 high, 0 low, -2 unlabelled), and the figures they came from."""

    trend: CodeArray
    vol: CodeArray
    trend_return: FloatArray  # NaN where unlabelled
    realised_vol: FloatArray  # NaN where unlabelled
    vol_threshold: float | None

    def names(self) -> list[str]:
        """``up/high``-style combined names, one per bar."""
        return [
            f"{TREND_NAMES[t]}/{VOL_NAMES[v]}"
            for t, v in zip(self.trend.tolist(), self.vol.tolist(), strict=True)
        ]


def back_index(ts: IntArray, window_ms: int, interval_ms: int) -> IntArray:
    """Per bar, the index of the last bar opening at or before ``ts - window``
    (-1 when there is none). Arithmetic when the bars have no gap, a search
    when they do: the same answer, a tenth of the time on a million bars."""
    n = ts.size
    if n and int(ts[-1] - ts[0]) == (n - 1) * interval_ms:
        return np.maximum(np.arange(n, dtype=np.int64) - (-(-window_ms // interval_ms)), -1)
    return np.searchsorted(ts, ts - window_ms, side="right").astype(np.int64) - 1


def trend_returns(ts: IntArray, price: FloatArray, window_ms: int, interval_ms: int) -> FloatArray:
    """Return over the trailing window at every bar; NaN before a full window."""
    back = back_index(ts, window_ms, interval_ms)
    out = np.full(ts.size, np.nan)
    ok = (ts - window_ms >= ts[0]) & (back >= 0) if ts.size else np.zeros(0, dtype=bool)
    out[ok] = price[ok] / price[back[ok]] - 1.0
    return out


def realised_vol(ts: IntArray, price: FloatArray, window_ms: int, interval_ms: int) -> FloatArray:
    """Annualised standard deviation of the log returns in the trailing window."""
    n = ts.size
    out = np.full(n, np.nan)
    if n < 3:
        return out
    logret = np.zeros(n)
    logret[1:] = np.diff(np.log(price))
    # Centre once so the running sums below lose no precision to a drift.
    centred = logret - logret[1:].mean()
    centred[0] = 0.0
    p1 = np.concatenate(([0.0], np.cumsum(centred)))
    p2 = np.concatenate(([0.0], np.cumsum(centred * centred)))
    first = np.maximum(back_index(ts, window_ms, interval_ms) + 1, 1)  # first bar in the window
    count = np.arange(1, n + 1) - first
    ok = (ts - window_ms >= ts[0]) & (count >= 2)
    s1 = p1[1:] - p1[first]
    s2 = p2[1:] - p2[first]
    with np.errstate(invalid="ignore", divide="ignore"):
        var = (s2 - s1 * s1 / count) / (count - 1)
    out[ok] = np.sqrt(np.maximum(var[ok], 0.0) * (YEAR_MS / interval_ms))
    return out


def label_regimes(
    ts: IntArray,
    price: FloatArray,
    interval_ms: int,
    rules: RegimeRules,
    *,
    vol_threshold: float | None = None,
) -> Labels:
    """Trend and volatility label of every bar (see the module's rules)."""
    ts = np.asarray(ts, dtype=np.int64)
    price = np.asarray(price, dtype=np.float64)
    r = trend_returns(ts, price, rules.trend_window_ms, interval_ms)
    trend = np.full(ts.size, UNLABELLED, dtype=np.int8)
    has = ~np.isnan(r)
    trend[has] = 0
    trend[has & (r > rules.trend_threshold)] = 1
    trend[has & (r < -rules.trend_threshold)] = -1
    sigma = realised_vol(ts, price, rules.vol_window_ms, interval_ms)
    vol = np.full(ts.size, UNLABELLED, dtype=np.int8)
    defined = ~np.isnan(sigma)
    threshold = vol_threshold
    if threshold is None and defined.any():
        threshold = float(np.quantile(sigma[defined], rules.vol_quantile))
    if threshold is not None:
        vol[defined] = 0
        vol[defined & (sigma > threshold)] = 1
    return Labels(trend, vol, r, sigma, threshold)


TREND_ORDER = (1, -1, 0, UNLABELLED)  # the order the tables list them in
VOL_ORDER = (1, 0, UNLABELLED)


def _lookup(order: Sequence[int]) -> npt.NDArray[np.int64]:
    """Label code (-2..1) + 2 → its position in ``order``."""
    lut = np.zeros(4, dtype=np.int64)
    for i, code in enumerate(order):
        lut[code + 2] = i
    return lut


@dataclass(frozen=True, slots=True)
class _Run:
    """One run's per-bar log returns, the market's, the UTC day of each bar
    (from 0) and its round trips (bar of entry, net PnL)."""

    lr: FloatArray
    mlr: FloatArray
    day: IntArray
    trip_bars: IntArray
    trip_pnl: FloatArray

    def table(self, group: IntArray, names: Sequence[str], keep: Sequence[bool]) -> dict[str, Any]:
        """Figures per group (``group`` holds each bar's position in ``names``),
        every group in one pass of ``bincount`` but the drawdown."""
        n = self.lr.size
        k = max(len(names), int(group.max()) + 1 if n else 0)  # positions past names: left out
        ndays = int(self.day[-1]) + 1 if n else 0
        bars = np.bincount(group, minlength=k)
        ret = np.expm1(np.bincount(group, weights=self.lr, minlength=k))
        mret = np.expm1(np.bincount(group, weights=self.mlr, minlength=k))
        cell = self.day * k + group
        day_lr = np.bincount(cell, weights=self.lr, minlength=ndays * k).reshape(ndays, k)
        day_n = np.bincount(cell, minlength=ndays * k).reshape(ndays, k)
        tg = group[self.trip_bars] if self.trip_bars.size else np.zeros(0, dtype=np.int64)
        trips = np.bincount(tg, minlength=k)
        wins = np.bincount(tg, weights=(self.trip_pnl > 0).astype(float), minlength=k)
        pnl = np.bincount(tg, weights=self.trip_pnl, minlength=k)
        out: dict[str, Any] = {}
        for c, name in enumerate(names):
            if not (keep[c] or bars[c]):
                continue
            out[name] = {
                "bars": int(bars[c]),
                "share": float(bars[c] / n) if n else 0.0,
                "return": float(ret[c]),
                "market_return": float(mret[c]),
                "sharpe": _sharpe(np.expm1(day_lr[day_n[:, c] > 0, c])),
                "max_drawdown": _max_drawdown(self.lr[group == c]),
                "round_trips": int(trips[c]),
                "win_rate": float(wins[c] / trips[c]) if trips[c] else None,
                "net_pnl": float(pnl[c]),
            }
        return out


def _sharpe(per_day: FloatArray) -> float | None:
    if per_day.size < 2:
        return None
    std = float(per_day.std(ddof=1))
    return float(per_day.mean()) / std * math.sqrt(365.0) if std > _MIN_STD else None


def _max_drawdown(lr: FloatArray) -> float:
    """Deepest fall from a running peak (starting at 1) of the bars strung together."""
    if lr.size == 0:
        return 0.0
    level = np.cumsum(lr)
    peak = np.maximum(np.maximum.accumulate(level), 0.0)
    return float(-np.expm1((level - peak).min()))


def regime_breakdown(
    *,
    equity_ts: IntArray,
    equity: FloatArray,
    initial_equity: float,
    market: FloatArray,
    labels: Labels,
    interval_ms: int,
    rules: RegimeRules,
    trips: Sequence[tuple[int, float]] = (),
) -> dict[str, Any]:
    """Per trend, per volatility and per combined label: bars and share of the
    run, the run's compounded return over those bars, the market's, a Sharpe
    ratio from the days' compounded returns (as the summary's, daily and
    annualised by sqrt(365)), the drawdown of those bars strung together, and
    the round trips *entered* in the regime (count, win rate, net PnL).

    Bar *t*'s return (``equity[t] / equity[t-1] - 1``, the first from
    ``initial_equity``) counts under bar *t*'s label. ``trips`` are
    ``(entry_ts, net_pnl)`` pairs."""
    ts = np.asarray(equity_ts, dtype=np.int64)
    eq = np.asarray(equity, dtype=np.float64)
    prev = np.concatenate(([initial_equity], eq[:-1]))
    lr = np.zeros_like(eq)
    ok = (prev > 0) & (eq > 0)
    lr[ok] = np.log(eq[ok] / prev[ok])  # a bust bar (equity to 0) has no log return
    mk = np.asarray(market, dtype=np.float64)
    mlr = np.zeros_like(mk)
    mlr[1:] = np.log(mk[1:] / mk[:-1])
    day = (ts + interval_ms - 1) // DAY_MS
    entry = np.array([t for t, _ in trips], dtype=np.int64)
    run = _Run(
        lr=lr,
        mlr=mlr,
        day=day - day[0] if day.size else day,
        trip_bars=np.clip(np.searchsorted(ts, entry, side="right") - 1, 0, max(ts.size - 1, 0)),
        trip_pnl=np.array([p for _, p in trips], dtype=np.float64),
    )
    t = _lookup(TREND_ORDER)[labels.trend.astype(np.int64) + 2]
    v = _lookup(VOL_ORDER)[labels.vol.astype(np.int64) + 2]
    labelled = (t < 3) & (v < 2)
    combined = np.where(labelled, t * 2 + v, 6)  # up/high, up/low, down/high, ...; 6: unlabelled
    combos = [f"{TREND_NAMES[a]}/{VOL_NAMES[b]}" for a in TREND_ORDER[:3] for b in VOL_ORDER[:2]]
    return {
        "rules": asdict(rules),
        "vol_threshold": labels.vol_threshold,
        "by_trend": run.table(t, [TREND_NAMES[c] for c in TREND_ORDER], [True] * 3 + [False]),
        "by_volatility": run.table(v, [VOL_NAMES[c] for c in VOL_ORDER], [True] * 2 + [False]),
        "by_regime": run.table(combined, combos, [False] * 6),
    }
