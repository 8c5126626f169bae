"""Real market data end to end (skips when ../shared/data is absent)."""

from __future__ import annotations

import pytest

from bastion.config import BotConfig
from bastion.data.loaders import load_bars
from bastion.engine.backtest import run_backtest
from bastion.engine.outputs import write_outputs
from bastion.strategy import STRATEGIES, build_strategy

PARAMS = {
    "sma_cross": {"fast": 20, "slow": 50, "qty": "0.1"},
    "bollinger": {"period": 20, "k": "2", "qty": "0.1"},
    "quoter": {"spread_bps": "10", "qty": "0.01", "max_inventory": "0.05"},
}


@pytest.mark.realdata
@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_three_month_btc_runs_with_every_example(name, data_dir, tmp_path):
    series = load_bars(data_dir / "ohlcv" / "binance_BTC_USDT_1m_2025-05-20_2025-08-18.parquet")
    strat = build_strategy(name, [series.symbol], PARAMS[name])

    result = run_backtest([series], [strat], BotConfig(), journal_path=tmp_path / "journal.sqlite")
    files = write_outputs(result, tmp_path, series)

    s = result.summary
    assert s["bars"] == 130_708
    assert s["fills"] > 0
    assert not s["synthetic"]
    assert s["final_equity"] > 0
    assert files["report"].stat().st_size > 100_000


@pytest.mark.realdata
def test_crash_month_report_shows_the_drawdown(data_dir, tmp_path):
    series = load_bars(data_dir / "ohlcv" / "binance_BTC_USDT_1m_2024-07-26_2024-08-25.parquet")
    # Hold one BTC throughout (a long-biased bot): the crash must show as a drawdown.
    strat = build_strategy("bollinger", [series.symbol], {"period": 20, "k": "0.5", "qty": "1"})

    result = run_backtest([series], [strat], BotConfig(), journal_path=tmp_path / "journal.sqlite")
    files = write_outputs(result, tmp_path, series)

    assert result.summary["max_drawdown"] > 0
    html = files["report"].read_text()
    assert "Drawdown" in html or "drawdown" in html
    assert "max drawdown" in html.lower()
