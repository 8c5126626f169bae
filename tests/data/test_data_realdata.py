"""The shared real market data loads, validates, and shows the gaps it is known to have.

Skipped, with the reason, on a machine without the shared data folder.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from bastion.data import (
    Gap,
    find_gaps,
    interval_from_filename,
    load_bars,
    resample,
    shared_data_dir,
    symbol_from_filename,
    validate_bars,
)

pytestmark = pytest.mark.realdata

MINUTE = 60_000


@pytest.fixture(scope="module")
def ohlcv_dir() -> Path:
    root = shared_data_dir()
    if root is None or not (root / "ohlcv").is_dir():
        pytest.skip(
            "no shared market data: set BASTION_DATA_DIR or put shared/data/ohlcv beside the repo"
        )
    return root / "ohlcv"


def parquet_files() -> list[object]:
    root = shared_data_dir()
    files = sorted((root / "ohlcv").glob("*.parquet")) if root else []
    if not files:
        reason = "no shared market data: no *.parquet in shared/data/ohlcv or $BASTION_DATA_DIR"
        return [pytest.param(None, marks=pytest.mark.skip(reason=reason), id="no-data")]
    return [pytest.param(path, id=path.name) for path in files]


def test_there_are_real_files_to_check(ohlcv_dir: Path) -> None:
    assert len(list(ohlcv_dir.glob("*.parquet"))) >= 1


@pytest.mark.parametrize("path", parquet_files())
def test_every_real_file_loads_and_validates(path: Path) -> None:
    bars = load_bars(path)

    validate_bars(bars)
    assert bars.symbol == symbol_from_filename(path.name)
    assert bars.interval_ms == interval_from_filename(path.name)
    assert not bars.synthetic
    assert len(bars) > 10_000
    assert np.all(bars.volume >= 0)


def test_three_months_of_btc_have_no_gaps(ohlcv_dir: Path) -> None:
    bars = load_bars(ohlcv_dir / "binance_BTC_USDT_1m_2025-05-20_2025-08-18.parquet")

    assert len(bars) == 130_708
    assert find_gaps(bars) == []


def test_eth_july_2024_misses_one_minute_against_btc(ohlcv_dir: Path) -> None:
    """The ETH file has one bar fewer than BTC's over the same span.

    The missing minute is the window's first (2024-07-26 14:15 UTC): the file
    starts a minute late and has no hole inside, so ``find_gaps`` reports it
    only when given the window the file is meant to cover.
    """
    btc = load_bars(ohlcv_dir / "binance_BTC_USDT_1m_2024-07-26_2024-08-25.parquet")
    eth = load_bars(ohlcv_dir / "binance_ETH_USDT_1m_2024-07-26_2024-08-25.parquet")
    window = {"start_ts": int(btc.ts[0]), "end_ts": int(btc.ts[-1]) + MINUTE}

    gaps = find_gaps(eth, **window)

    assert len(btc) - len(eth) == 1
    assert find_gaps(btc, **window) == []
    assert find_gaps(eth) == []
    assert gaps == [Gap(after_ts=int(btc.ts[0]) - MINUTE, next_ts=int(eth.ts[0]), missing_bars=1)]
    assert eth.ts[0] == 1_722_003_360_000  # 2024-07-26T14:16Z


def test_the_august_2024_crash_is_in_the_btc_file(ohlcv_dir: Path) -> None:
    bars = load_bars(ohlcv_dir / "binance_BTC_USDT_1m_2024-07-26_2024-08-25.parquet")

    daily = resample(bars, 1_440 * MINUTE)
    day = int(np.flatnonzero(daily.ts == 1_722_816_000_000)[0])  # 2024-08-05T00:00Z

    # The README's "low 49,338" is the lowest 1m close; the lowest wick went to 49,000.
    assert daily.low[day] == bars.low.min() == 49_000.0
    assert bars.close.min() == pytest.approx(49_338.49)
    assert daily.low[day] / daily.open[day] < 0.85  # ≈ -15% intraday
    assert daily.volume.sum() == pytest.approx(bars.volume.sum(), rel=1e-12)


def test_eth_four_hour_history_has_real_gaps_early_on(ohlcv_dir: Path) -> None:
    bars = load_bars(ohlcv_dir / "coinbase_ETH_USD_4h_2016-05-18_2025-10-28.parquet")

    gaps = find_gaps(bars)

    assert gaps
    assert gaps[0].after_ts < 1_483_228_800_000  # the first before 2017
    assert all(gap.missing_bars >= 1 for gap in gaps)
