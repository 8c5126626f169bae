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


def trend_returns(ts: IntArray, price: FloatArray, window_ms: int) -> FloatArray:
    """Return over the trailing window at every bar; NaN before a full window."""
    back = np.searchsorted(ts, ts - window_ms, side="right") - 1
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
    first = np.maximum(np.searchsorted(ts, ts - window_ms, side="right"), 1)
    last = np.arange(n)
    count = last - first + 1
    ok = (ts - window_ms >= ts[0]) & (count >= 2)
    s1 = p1[last + 1] - p1[first]
    s2 = p2[last + 1] - p2[first]
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
    r = trend_returns(ts, price, rules.trend_window_ms)
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


def _compound(returns: FloatArray) -> float:
    return float(np.prod(1.0 + returns) - 1.0) if returns.size else 0.0


def _daily_sharpe(returns: FloatArray, days: IntArray) -> float | None:
    if returns.size == 0:
        return None
    _, inverse = np.unique(days, return_inverse=True)
    per_day = np.expm1(np.bincount(inverse, weights=np.log1p(returns)))
    if per_day.size < 2:
        return None
    std = float(per_day.std(ddof=1))
    return float(per_day.mean()) / std * math.sqrt(365.0) if std > _MIN_STD else None


def _max_drawdown(returns: FloatArray) -> float:
    if returns.size == 0:
        return 0.0
    curve = np.cumprod(1.0 + returns)
    peak = np.maximum(np.maximum.accumulate(curve), 1.0)
    return float((1.0 - curve / peak).max())


def _group(
    mask: npt.NDArray[np.bool_],
    returns: FloatArray,
    market: FloatArray,
    days: IntArray,
    trip_bars: IntArray,
    trip_pnl: FloatArray,
) -> dict[str, Any]:
    n = mask.size
    mine = mask[trip_bars] if trip_bars.size else np.zeros(0, dtype=bool)
    pnl = trip_pnl[mine]
    return {
        "bars": int(mask.sum()),
        "share": float(mask.sum() / n) if n else 0.0,
        "return": _compound(returns[mask]),
        "market_return": _compound(market[mask]),
        "sharpe": _daily_sharpe(returns[mask], days[mask]),
        "max_drawdown": _max_drawdown(returns[mask]),
        "round_trips": int(mine.sum()),
        "win_rate": float((pnl > 0).mean()) if pnl.size else None,
        "net_pnl": float(pnl.sum()),
    }


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
    returns = np.divide(eq, prev, out=np.ones_like(eq), where=prev > 0) - 1.0
    mk = np.asarray(market, dtype=np.float64)
    market_ret = np.zeros_like(mk)
    market_ret[1:] = mk[1:] / mk[:-1] - 1.0
    days = (ts + interval_ms - 1) // DAY_MS
    entry = np.array([t for t, _ in trips], dtype=np.int64)
    trip_bars = np.clip(np.searchsorted(ts, entry, side="right") - 1, 0, max(ts.size - 1, 0))
    trip_pnl = np.array([p for _, p in trips], dtype=np.float64)

    def table(codes: CodeArray, names: dict[int, str]) -> dict[str, Any]:
        return {
            name: _group(codes == code, returns, market_ret, days, trip_bars, trip_pnl)
            for code, name in names.items()
            if code != UNLABELLED or bool((codes == code).any())
        }

    combined = labels.trend.astype(np.int16) * 10 + labels.vol
    combos = {
        t * 10 + v: f"{tn}/{vn}"
        for t, tn in TREND_NAMES.items()
        for v, vn in VOL_NAMES.items()
        if UNLABELLED not in (t, v)
    }
    by_regime = {
        name: _group(combined == code, returns, market_ret, days, trip_bars, trip_pnl)
        for code, name in combos.items()
        if bool((combined == code).any())
    }
    return {
        "rules": asdict(rules),
        "vol_threshold": labels.vol_threshold,
        "by_trend": table(labels.trend, TREND_NAMES),
        "by_volatility": table(labels.vol, VOL_NAMES),
        "by_regime": by_regime,
    }
