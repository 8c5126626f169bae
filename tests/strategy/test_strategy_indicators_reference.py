"""Every indicator against an independent computation on real bars (pandas
rolling windows and ``ewm``, NumPy sliding windows), to 1e-9 relative.

"Relative" is to the reference value, or near zero (a MACD histogram or a
z-score crossing zero) to the largest value of the series, since a relative
error of a number that is almost zero measures nothing. The windows must also
start on the same bar: an indicator that is defined one bar early would be
looking at data it should not have.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from numpy.lib.stride_tricks import sliding_window_view

from bastion.model import BarSeries
from bastion.model.indicators import IndicatorSpec
from bastion.strategy import MACD, RSI, Bollinger, Donchian, LogReturnVol, Stochastic, ZScore

pytestmark = pytest.mark.realdata
RTOL = 1e-9


def run(spec: IndicatorSpec, bars: BarSeries, *attrs: str) -> dict[str, np.ndarray]:
    """Feed every bar; after each, record ``value`` and the named attributes."""
    ind = spec.build()
    names = ("value", *attrs)
    out = {n: np.full(len(bars), np.nan) for n in names}
    rows = zip(
        bars.open.tolist(), bars.high.tolist(), bars.low.tolist(), bars.close.tolist(),
        bars.volume.tolist(), strict=True,
    )  # fmt: skip
    for i, row in enumerate(rows):
        ind.update(*row)
        for n in names:
            v = getattr(ind, n)
            if v is not None:
                out[n][i] = v
    return out


def agree(ours: np.ndarray, ref: np.ndarray) -> None:
    ref = np.asarray(ref, dtype=np.float64)
    np.testing.assert_array_equal(np.isnan(ours), np.isnan(ref), err_msg="defined on other bars")
    ok = ~np.isnan(ref)
    assert ok.sum() > 40_000
    scale = np.abs(ref[ok]).max()
    err = np.abs(ours[ok] - ref[ok]) / np.maximum(np.abs(ref[ok]), 1e-3 * scale)
    assert err.max() <= RTOL, f"worst relative error {err.max():.3g}"


def windows(x: np.ndarray, n: int) -> np.ndarray:
    return sliding_window_view(np.asarray(x, dtype=np.float64), n)


def pad(x: np.ndarray, total: int) -> np.ndarray:
    return np.concatenate([np.full(total - len(x), np.nan), x])


def wilder_seeded(x: pd.Series, period: int, first: int) -> pd.Series:
    """Wilder smoothing whose first value (at ``first``) is the mean of the
    ``period`` values ending there, as Wilder defined it."""
    seeded = x.copy()
    seeded.iloc[first] = x.iloc[first - period + 1 : first + 1].mean()
    seeded.iloc[:first] = np.nan
    return seeded.ewm(alpha=1 / period, adjust=False, ignore_na=True).mean()


def ema_seeded(x: pd.Series, span: int, first: int) -> pd.Series:
    seeded = x.copy()
    seeded.iloc[first] = x.iloc[first - span + 1 : first + 1].mean()
    seeded.iloc[:first] = np.nan
    return seeded.ewm(span=span, adjust=False, ignore_na=True).mean()


@pytest.fixture(scope="module")
def frame(btc_month: BarSeries) -> pd.DataFrame:
    return pd.DataFrame({"high": btc_month.high, "low": btc_month.low, "close": btc_month.close})


def test_rsi_wilder(btc_month: BarSeries, frame: pd.DataFrame) -> None:
    p = 14
    delta = frame["close"].diff()
    gain = wilder_seeded(delta.clip(lower=0), p, p)
    loss = wilder_seeded(-delta.clip(upper=0), p, p)
    ref = 100 - 100 / (1 + gain / loss)

    agree(run(RSI(p), btc_month)["value"], ref.to_numpy())


def test_macd_signal_and_histogram(btc_month: BarSeries, frame: pd.DataFrame) -> None:
    fast, slow, sig = 12, 26, 9
    close = frame["close"]
    line = ema_seeded(close, fast, fast - 1) - ema_seeded(close, slow, slow - 1)
    signal = ema_seeded(line, sig, slow - 1 + sig - 1)

    got = run(MACD(fast, slow, sig), btc_month, "signal", "histogram")

    agree(got["value"], line.to_numpy())
    agree(got["signal"], signal.to_numpy())
    agree(got["histogram"], (line - signal).to_numpy())


def test_bollinger_bands(btc_month: BarSeries) -> None:
    n, k = 20, 2.0
    w = windows(btc_month.close, n)
    mid, sd = w.mean(axis=1), w.std(axis=1, ddof=0)
    total = len(btc_month)

    got = run(Bollinger(n, k), btc_month, "upper", "lower")

    agree(got["value"], pad(mid, total))
    agree(got["upper"], pad(mid + k * sd, total))
    agree(got["lower"], pad(mid - k * sd, total))


def test_donchian_channel(btc_month: BarSeries, frame: pd.DataFrame) -> None:
    n = 55
    upper = frame["high"].rolling(n).max()
    lower = frame["low"].rolling(n).min()

    got = run(Donchian(n), btc_month, "upper", "lower")

    agree(got["upper"], upper.to_numpy())
    agree(got["lower"], lower.to_numpy())
    agree(got["value"], ((upper + lower) / 2).to_numpy())


def test_rolling_volatility_of_log_returns(btc_month: BarSeries) -> None:
    n, scale = 30, float(np.sqrt(525_600))
    r = np.diff(np.log(np.asarray(btc_month.close, dtype=np.float64)))
    ref = windows(r, n).std(axis=1, ddof=1) * scale

    agree(run(LogReturnVol(n, scale), btc_month)["value"], pad(ref, len(btc_month)))


def test_z_score(btc_month: BarSeries) -> None:
    n = 50
    w = windows(btc_month.close, n)
    ref = (w[:, -1] - w.mean(axis=1)) / w.std(axis=1, ddof=0)

    agree(run(ZScore(n), btc_month)["value"], pad(ref, len(btc_month)))


def test_stochastic_k_and_d(btc_month: BarSeries, frame: pd.DataFrame) -> None:
    k, d = 14, 3
    hh = frame["high"].rolling(k).max()
    ll = frame["low"].rolling(k).min()
    pct_k = (100 * (frame["close"] - ll) / (hh - ll)).where(hh != ll, 50.0)
    pct_d = pct_k.rolling(d).mean()

    got = run(Stochastic(k, d), btc_month, "d")

    agree(got["value"], pct_k.to_numpy())
    agree(got["d"], pct_d.to_numpy())
